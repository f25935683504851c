// The pure IoCM mapping; see iocm.hpp.
#include "protocols/dialects/oceanconnect/iocm.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

#include "protocols/common/base64.hpp"

namespace fc::oceanconnect {

using nlohmann::json;

std::string iocmTime(IocmClock::time_point t) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(t);
  const std::time_t tt = IocmClock::to_time_t(seconds);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];  // room for any int the compiler imagines in each field
  std::snprintf(buf, sizeof buf, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf;
}

std::optional<IocmClock::time_point> parseIocmTime(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  const auto year = number(0, 4), month = number(4, 2), day = number(6, 2), hour = number(9, 2), minute = number(11, 2),
             second = number(13, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(*year), std::chrono::month(static_cast<unsigned>(*month)),
                                        std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok() || *hour > 23 || *minute > 59 || *second > 59) return std::nullopt;
  return IocmClock::time_point(std::chrono::sys_days(ymd).time_since_epoch() + std::chrono::hours(*hour) +
                               std::chrono::minutes(*minute) + std::chrono::seconds(*second));
}

Expected<IocmPage, std::string> parseIocmPage(const std::optional<std::string>& pageNo,
                                              const std::optional<std::string>& pageSize, std::size_t defaultSize,
                                              std::size_t maxPageSize) {
  const auto parse = [](const std::string& s) -> std::optional<std::size_t> {
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
  };
  IocmPage page{0, defaultSize};
  if (pageNo && !pageNo->empty()) {
    auto n = parse(*pageNo);
    if (!n) return Unexpected("pageNo must be an integer of 0 or more, not '" + *pageNo + "'");
    page.pageNo = *n;
  }
  if (pageSize && !pageSize->empty()) {
    auto n = parse(*pageSize);
    if (!n || *n < 1 || *n > maxPageSize)
      return Unexpected("pageSize must be 1.." + std::to_string(maxPageSize) + ", not '" + *pageSize + "'");
    page.pageSize = *n;
  }
  return page;
}

std::pair<std::size_t, std::size_t> pageRange(const IocmPage& page, std::size_t total) {
  // pageNo × pageSize may overflow for absurd page numbers: compare by division first.
  if (page.pageSize == 0 || page.pageNo >= (total + page.pageSize - 1) / page.pageSize) return {total, total};
  const auto first = page.pageNo * page.pageSize;
  return {first, std::min(total, first + page.pageSize)};
}

json iocmCommandBody(std::string_view name, std::string_view payload, bool binary) {
  if (binary) return {{"serviceId", "RawData"}, {"method", "RawData"}, {"paras", {{"rawData", base64Encode(payload)}}}};
  auto parsed = json::parse(payload, nullptr, false);
  if (parsed.is_object() && parsed.contains("serviceId"))
    return {{"serviceId", parsed.value("serviceId", json(nullptr))},
            {"method", parsed.value("method", json(nullptr))},
            {"paras", parsed.value("paras", json::object())}};
  // A command created through /api/v1 with some other JSON payload: shown as its name and payload.
  return {{"serviceId", nullptr},
          {"method", name.empty() ? json(nullptr) : json(std::string(name))},
          {"paras", parsed.is_discarded() ? json(std::string(payload)) : parsed}};
}

json iocmCommandCallback(const json& command) {
  json detail = command.value("result", json(nullptr));
  if (detail.is_null()) detail = command.value("reason", json(nullptr));
  return {{"deviceId", command.value("deviceId", json(nullptr))},
          {"commandId", command.value("id", json(nullptr))},
          {"result", {{"resultCode", command.value("status", json(nullptr))}, {"resultDetail", detail}}}};
}

Expected<std::vector<json>, std::string> iocmDataChanged(std::string_view deviceId, const CodecProfile* profile,
                                                         std::span<const std::uint8_t> payload,
                                                         IocmClock::time_point time) {
  const auto notification = [&](const std::string& serviceId, json data) {
    return json{{"notifyType", "deviceDataChanged"},
                {"requestId", nullptr},
                {"deviceId", std::string(deviceId)},
                {"gatewayId", std::string(deviceId)},
                {"service",
                 {{"serviceId", serviceId},
                  {"serviceType", serviceId},
                  {"data", std::move(data)},
                  {"eventTime", iocmTime(time)}}}};
  };
  if (!profile) return std::vector<json>{notification("RawData", {{"rawData", base64Encode(payload)}})};
  const auto kind = profile->classify(payload);
  if (!kind) return Unexpected(kind.error().message());
  if (*kind == UplinkKind::CommandResponse) return std::vector<json>{};
  const auto decoded = profile->decodeUplink(payload);
  if (!decoded) return Unexpected(decoded.error().message());
  std::vector<json> out;
  for (const auto& [serviceId, data] : decoded->items()) out.push_back(notification(serviceId, data));
  return out;
}

}  // namespace fc::oceanconnect
