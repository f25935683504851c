// Download faults: the JSON form and the byte arithmetic, no I/O.
#include "server/ota/download_faults.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <utility>

namespace fc::server::ota {
namespace {

using nlohmann::json;

// CoAP response codes with an HTTP status of the same digits (RFC 8075 §7).
constexpr std::array<int, 14> kSameDigits = {400, 401, 403, 404, 405, 406, 412, 413, 415, 500, 501, 502, 503, 504};

bool sameDigits(int status) { return std::find(kSameDigits.begin(), kSameDigits.end(), status) != kSameDigits.end(); }

std::string coapText(const FailWith& w) {
  std::string s = std::to_string(w.coapClass) + ".";
  if (w.coapDetail < 10) s += "0";
  return s + std::to_string(w.coapDetail);
}

/// "4.04" → class and detail; nullopt unless c.dd with c 4 or 5 and dd ≤ 31 (the 5-bit detail, RFC 7252 §3).
std::optional<std::pair<std::uint8_t, std::uint8_t>> parseCoapCode(const std::string& s) {
  if (s.size() != 4 || s[1] != '.' || (s[0] != '4' && s[0] != '5') || s[2] < '0' || s[2] > '9' || s[3] < '0' ||
      s[3] > '9')
    return std::nullopt;
  const int detail = (s[2] - '0') * 10 + (s[3] - '0');
  if (detail > 31) return std::nullopt;
  return std::pair{static_cast<std::uint8_t>(s[0] - '0'), static_cast<std::uint8_t>(detail)};
}

}  // namespace

FailWith failWithHttp(int status) {
  FailWith w;
  w.http = status;
  const int cls = status / 100;
  w.coapClass = static_cast<std::uint8_t>(cls);
  w.coapDetail = sameDigits(status) ? static_cast<std::uint8_t>(status % 100) : 0;
  return w;
}

FailWith failWithCoap(std::uint8_t coapClass, std::uint8_t coapDetail) {
  FailWith w;
  w.coapClass = coapClass;
  w.coapDetail = coapDetail;
  w.givenAsCoap = true;
  const int digits = coapClass * 100 + coapDetail;
  if (sameDigits(digits))
    w.http = digits;
  else if (coapClass == 5 && coapDetail == 5)
    w.http = 502;  // 5.05 Proxying Not Supported
  else
    w.http = coapClass == 4 ? 400 : 500;
  return w;
}

Expected<DownloadFaults, std::string> parseFaults(const json& j) {
  if (!j.is_object()) return Unexpected(std::string("faults: a JSON object"));
  DownloadFaults f;
  for (auto item = j.begin(); item != j.end(); ++item) {
    const std::string key = item.key();
    const json& value = item.value();
    const auto offset = [&](std::optional<std::uint64_t>& target, bool positive) -> std::optional<std::string> {
      // Parsed JSON gives non-negative integers as unsigned; a built json object may hold them signed.
      const bool whole = value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0);
      if (!whole || (positive && value.get<std::uint64_t>() == 0))
        return key + (positive ? ": an integer ≥ 1" : ": an integer ≥ 0");
      target = value.get<std::uint64_t>();
      return std::nullopt;
    };
    std::optional<std::string> error;
    if (key == "corruptAt")
      error = offset(f.corruptAt, false);
    else if (key == "truncateAt")
      error = offset(f.truncateAt, false);
    else if (key == "stallAfter")
      error = offset(f.stallAfter, false);
    else if (key == "throttleBytesPerSec")
      error = offset(f.throttleBytesPerSec, true);
    else if (key == "dropConnectionAt")
      error = offset(f.dropConnectionAt, false);
    else if (key == "failWith") {
      if (value.is_number_integer() && value.get<std::int64_t>() >= 400 && value.get<std::int64_t>() <= 599)
        f.failWith = failWithHttp(value.get<int>());
      else if (const auto c = value.is_string() ? parseCoapCode(value.get<std::string>()) : std::nullopt)
        f.failWith = failWithCoap(c->first, c->second);
      else
        error = "failWith: an HTTP status 400–599 or a CoAP code \"4.00\"–\"5.31\"";
    } else {
      error = "unknown fault '" + key +
              "' (corruptAt, truncateAt, stallAfter, throttleBytesPerSec, failWith, dropConnectionAt)";
    }
    if (error) return Unexpected(std::move(*error));
  }
  return f;
}

json toJson(const DownloadFaults& f) {
  json j = json::object();
  if (f.corruptAt) j["corruptAt"] = *f.corruptAt;
  if (f.truncateAt) j["truncateAt"] = *f.truncateAt;
  if (f.stallAfter) j["stallAfter"] = *f.stallAfter;
  if (f.throttleBytesPerSec) j["throttleBytesPerSec"] = *f.throttleBytesPerSec;
  if (f.failWith) j["failWith"] = f.failWith->givenAsCoap ? json(coapText(*f.failWith)) : json(f.failWith->http);
  if (f.dropConnectionAt) j["dropConnectionAt"] = *f.dropConnectionAt;
  return j;
}

std::string describe(const DownloadFaults& f) {
  std::string out;
  const json j = toJson(f);  // kept alive: a range-for over toJson(f).items() would dangle
  for (const auto& [key, value] : j.items()) {
    if (!out.empty()) out += ' ';
    out += key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

BytePlan planBytes(const DownloadFaults& f, std::uint64_t start, std::uint64_t a, std::uint64_t b) noexcept {
  BytePlan plan;
  plan.send = b > a ? b - a : 0;
  const auto consider = [&](std::optional<std::uint64_t> point, BytePlan::Stop why) {
    if (!point || *point >= b) return;
    const std::uint64_t n = *point > a ? *point - a : 0;
    if (plan.stop == BytePlan::Stop::None || n < plan.send) {
      plan.send = n;
      plan.stop = why;
    }
  };
  consider(f.truncateAt, BytePlan::Stop::Truncate);
  // A resume from the drop point (or past it) is served: the fault is the cut, not the offset.
  if (f.dropConnectionAt && (start < *f.dropConnectionAt || *f.dropConnectionAt == 0))
    consider(f.dropConnectionAt, BytePlan::Stop::Drop);
  if (f.stallAfter) consider(start + *f.stallAfter, BytePlan::Stop::Stall);
  if (f.corruptAt && *f.corruptAt >= a && *f.corruptAt < a + plan.send) plan.corruptOffset = *f.corruptAt;
  return plan;
}

void applyCorruption(const BytePlan& plan, std::uint64_t a, std::uint8_t* bytes) noexcept {
  if (plan.corruptOffset) bytes[*plan.corruptOffset - a] ^= 0xFF;
}

std::uint64_t throttleDelayMs(const DownloadFaults& f, std::uint64_t bytes) noexcept {
  if (!f.throttleBytesPerSec || *f.throttleBytesPerSec == 0) return 0;
  return bytes * 1000 / *f.throttleBytesPerSec;
}

}  // namespace fc::server::ota
