// Download faults (issue 14; docs/ota.md, "Download faults"): a test control no real cloud has.
// A firmware or an offer carries a DownloadFaults; the HTTP(S) hosting applies it at the BodySource
// seam and the CoAP Block2 hosting per block. Everything here is pure: parsing and validating the
// JSON form, and deciding what happens to the bytes [a, b) of an image — the transports only carry
// the decision out.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "protocols/common/expected.hpp"

namespace fc::server::ota {

/// An error status to answer every download with, in both transports' terms.
struct FailWith {
  int http = 0;                 ///< 400–599
  std::uint8_t coapClass = 0;   ///< 4 or 5
  std::uint8_t coapDetail = 0;  ///< 0–31
  bool givenAsCoap = false;     ///< "4.04" rather than 503: how toJson writes it back
  bool operator==(const FailWith&) const = default;
};

/// CoAP code c.dd for an HTTP status (RFC 8075 §7 read backwards): the same digits where CoAP
/// defines them, else 4.00 or 5.00.
FailWith failWithHttp(int status);
/// The HTTP status for a CoAP code c.dd (RFC 8075 §7): 4.02 and 4.08 → 400, 5.05 → 502, the
/// defined ones with the same digits, any other 4.xx → 400, 5.xx → 500.
FailWith failWithCoap(std::uint8_t coapClass, std::uint8_t coapDetail);

struct DownloadFaults {
  std::optional<std::uint64_t> corruptAt;            ///< the byte at this image offset is flipped (XOR 0xFF)
  std::optional<std::uint64_t> truncateAt;           ///< the image ends here (the full size is still announced)
  std::optional<std::uint64_t> stallAfter;           ///< a response (transfer) stops sending after this many bytes
  std::optional<std::uint64_t> throttleBytesPerSec;  ///< at most this many body bytes a second
  std::optional<FailWith> failWith;                  ///< every request is answered with this error
  std::optional<std::uint64_t> dropConnectionAt;     ///< a response crossing this offset ends there (connection closed)

  [[nodiscard]] bool empty() const noexcept { return *this == DownloadFaults{}; }
  bool operator==(const DownloadFaults&) const = default;
};

/// From the API's JSON object; the message says what is wrong (for a 400 `invalid`). Unknown keys
/// are refused so that a misspelt fault is not silently ignored.
Expected<DownloadFaults, std::string> parseFaults(const nlohmann::json& j);
/// The JSON object parseFaults reads ({} when empty).
nlohmann::json toJson(const DownloadFaults& f);
/// "corruptAt=100 throttleBytesPerSec=2048" for log and journal lines; "" when empty.
std::string describe(const DownloadFaults& f);

/// What happens to the image bytes [a, b) of a response (HTTP) or transfer (CoAP) that began at
/// image offset `start`, in an image of `size` bytes.
struct BytePlan {
  enum class Stop : std::uint8_t {
    None,      ///< all of [a, b) goes out
    Truncate,  ///< the image ends at a + send (truncateAt)
    Stall,     ///< sending stops at a + send and the connection stays open (stallAfter)
    Drop,      ///< the connection ends at a + send (dropConnectionAt)
  };
  std::uint64_t send = 0;                      ///< bytes from a that go out
  std::optional<std::uint64_t> corruptOffset;  ///< image offset in [a, a + send) to flip
  Stop stop = Stop::None;
  bool operator==(const BytePlan&) const = default;
};

/// The first of truncateAt, dropConnectionAt (only when the response starts before it: a resume
/// from there is served) and start + stallAfter that falls in [a, b) decides `stop`; a point at or
/// before `a` stops before any byte. Throttling and failWith are not about bytes and not here.
BytePlan planBytes(const DownloadFaults& f, std::uint64_t start, std::uint64_t a, std::uint64_t b) noexcept;

/// Flips the byte of `bytes` (which hold the image from offset `a`) that the plan corrupts.
void applyCorruption(const BytePlan& plan, std::uint64_t a, std::uint8_t* bytes) noexcept;

/// How long `bytes` take at the throttled rate, in milliseconds (0 without throttling).
std::uint64_t throttleDelayMs(const DownloadFaults& f, std::uint64_t bytes) noexcept;

}  // namespace fc::server::ota
