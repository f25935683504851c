// OceanConnect's northbound IoCM application API, its pure part: Huawei's timestamps, paging, the
// command body and callback shapes, and the deviceDataChanged notifications of a /19/0/0 report
// (field names from Huawei's OceanConnect application API reference; docs/dialects/oceanconnect.md,
// "Northbound IoCM"). No I/O, no platform: server/dialects/oceanconnect/oceanconnect_iocm.* maps
// the platform's devices and commands onto these and serves the routes.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/common/expected.hpp"
#include "protocols/dialects/oceanconnect/codec_profile.hpp"

namespace fc::oceanconnect {

using IocmClock = std::chrono::system_clock;

/// Huawei's timestamps: UTC as yyyyMMdd'T'HHmmss'Z', e.g. "20261203T064000Z" (seconds floored).
std::string iocmTime(IocmClock::time_point t);
/// The reverse; nullopt unless exactly that shape with a valid date and time.
std::optional<IocmClock::time_point> parseIocmTime(std::string_view text);

/// A page request: pageNo counts from 0; pageSize 1..maxPageSize.
struct IocmPage {
  std::size_t pageNo = 0;
  std::size_t pageSize = 0;
};
/// pageNo / pageSize query values (absent or empty: 0 and `defaultSize`); the error says which is wrong.
Expected<IocmPage, std::string> parseIocmPage(const std::optional<std::string>& pageNo,
                                              const std::optional<std::string>& pageSize, std::size_t defaultSize,
                                              std::size_t maxPageSize);
/// The [first, last) indexes of `page` in a list of `total` items (empty past the end; no overflow
/// for absurd page numbers).
std::pair<std::size_t, std::size_t> pageRange(const IocmPage& page, std::size_t total);

/// A command's `command` object {serviceId, method, paras}: from a JSON payload that has a
/// serviceId; {serviceId:"RawData", method:"RawData", paras:{rawData:<base64>}} for raw bytes;
/// any other payload as {serviceId:null, method:<name or null>, paras:<the JSON, or the text>}.
nlohmann::json iocmCommandBody(std::string_view name, std::string_view payload, bool binary);

/// What a command's callbackUrl receives on each status change, from the command's JSON as the
/// platform's command.status event carries it: {deviceId, commandId, result{resultCode,
/// resultDetail}}, resultDetail being the device's result, else why it failed, else null.
nlohmann::json iocmCommandCallback(const nlohmann::json& command);

/// The deviceDataChanged notifications for one report on /19/0/0 of device `deviceId`: one per
/// service decoded with `profile`, or one RawData service with base64 rawData without one; none
/// for a command response (that is a commandRsp). Bytes the profile cannot decode: why.
Expected<std::vector<nlohmann::json>, std::string> iocmDataChanged(std::string_view deviceId,
                                                                   const CodecProfile* profile,
                                                                   std::span<const std::uint8_t> payload,
                                                                   IocmClock::time_point time);

/// The notification types one can subscribe to.
inline const std::vector<std::string> kIocmNotifyTypes = {"deviceAdded", "deviceInfoChanged", "deviceDataChanged",
                                                          "deviceDeleted", "commandRsp"};

}  // namespace fc::oceanconnect
