// Range, If-Range and HTTP-date. Parsing is strict where a wrong guess would send the wrong bytes
// (digits only, no overflow) and lenient only where RFC 9110 asks for it (optional whitespace).
#include "protocols/http/range.hpp"

#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <limits>

namespace fc::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// 1*DIGIT with no sign and no overflow.
std::optional<std::uint64_t> number(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::optional<int> month(std::string_view s) {
  for (std::size_t i = 0; i < kMonths.size(); ++i)
    if (s == kMonths[i]) return static_cast<int>(i);
  return std::nullopt;
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<std::int64_t> fixedDigits(std::string_view s, std::size_t n) {
  if (s.size() != n) return std::nullopt;
  auto v = number(s);
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

/// "HH:MM:SS" → seconds of the day.
std::optional<std::int64_t> timeOfDay(std::string_view s) {
  if (s.size() != 8 || s[2] != ':' || s[5] != ':') return std::nullopt;
  auto h = fixedDigits(s.substr(0, 2), 2), m = fixedDigits(s.substr(3, 2), 2), sec = fixedDigits(s.substr(6, 2), 2);
  if (!h || !m || !sec || *h > 23 || *m > 59 || *sec > 60) return std::nullopt;
  return *h * 3600 + *m * 60 + *sec;
}

std::optional<std::int64_t> assemble(std::int64_t year, int mon, std::int64_t day, std::int64_t seconds) {
  static constexpr std::array<int, 12> kDaysIn = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day < 1 || day > kDaysIn[static_cast<std::size_t>(mon)] || (mon == 1 && day == 29 && !leap)) return std::nullopt;
  return daysFromCivil(year, static_cast<unsigned>(mon + 1), static_cast<unsigned>(day)) * 86400 + seconds;
}

}  // namespace

Expected<ByteRange, RangeError> parseRange(std::string_view header, std::uint64_t size) noexcept {
  header = trim(header);
  const auto eq = header.find('=');
  if (eq == std::string_view::npos || !iequals(trim(header.substr(0, eq)), "bytes"))
    return Unexpected(RangeError::Ignored);
  std::string_view set = header.substr(eq + 1);
  // §14.1.1: a range-set is 1#range-spec; empty list elements are allowed and skipped.
  std::optional<std::string_view> only;
  std::size_t specs = 0;
  while (true) {
    const auto comma = set.find(',');
    const auto element = trim(set.substr(0, comma));
    if (!element.empty()) {
      ++specs;
      only = element;
    }
    if (comma == std::string_view::npos) break;
    set.remove_prefix(comma + 1);
  }
  if (specs == 0) return Unexpected(RangeError::Ignored);
  if (specs > 1) return Unexpected(RangeError::MultipleRanges);
  const std::string_view spec = *only;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return Unexpected(RangeError::Ignored);
  const auto firstText = spec.substr(0, dash);
  const auto lastText = spec.substr(dash + 1);
  if (firstText.empty()) {  // suffix-range: the last N bytes
    const auto n = number(lastText);
    if (!n) return Unexpected(RangeError::Ignored);
    if (*n == 0 || size == 0) return Unexpected(RangeError::Unsatisfiable);
    const std::uint64_t take = *n < size ? *n : size;
    return ByteRange{size - take, size - 1};
  }
  const auto first = number(firstText);
  if (!first) return Unexpected(RangeError::Ignored);
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!lastText.empty()) {
    const auto l = number(lastText);
    if (!l || *l < *first) return Unexpected(RangeError::Ignored);  // §14.1.1: invalid, not unsatisfiable
    if (*l < last) last = *l;
  }
  if (*first >= size) return Unexpected(RangeError::Unsatisfiable);
  return ByteRange{*first, last};
}

RangeDecision decideRange(std::string_view range, std::string_view ifRange, std::uint64_t size,
                          const Validators& validators) noexcept {
  using Kind = RangeDecision::Kind;
  if (trim(range).empty()) return {};
  ifRange = trim(ifRange);
  if (!ifRange.empty()) {
    if (ifRange.front() == '"' || ifRange.starts_with("W/")) {
      // §13.1.5: a strong comparison; a weak tag (W/"…") never matches.
      if (ifRange.starts_with("W/") || ifRange != validators.etag) return {};
    } else {
      const auto date = parseHttpDate(ifRange);
      if (!date || *date != validators.lastModified) return {};
    }
  }
  const auto r = parseRange(range, size);
  if (r) return {Kind::Partial, *r};
  if (r.error() == RangeError::Unsatisfiable) return {Kind::Unsatisfiable, {}};
  return {};
}

std::string formatHttpDate(std::int64_t t) {
  const auto tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays[static_cast<std::size_t>(tm.tm_wday)].data(), tm.tm_mday,
                kMonths[static_cast<std::size_t>(tm.tm_mon)].data(), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::int64_t> parseHttpDate(std::string_view s) noexcept {
  s = trim(s);
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters).
  if (s.size() == 29 && s[3] == ',' && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' && s[16] == ' ' &&
      s.substr(25) == " GMT") {
    const auto day = fixedDigits(s.substr(5, 2), 2);
    const auto mon = month(s.substr(8, 3));
    const auto year = fixedDigits(s.substr(12, 4), 4);
    const auto tod = timeOfDay(s.substr(17, 8));
    if (!day || !mon || !year || !tod) return std::nullopt;
    return assemble(*year, *mon, *day, *tod);
  }
  // asctime: "Sun Nov  6 08:49:37 1994" (24 characters, day padded with a space).
  if (s.size() == 24 && s[3] == ' ' && s[7] == ' ' && s[10] == ' ' && s[19] == ' ') {
    const auto mon = month(s.substr(4, 3));
    auto dayText = s.substr(8, 2);
    if (dayText.front() == ' ') dayText.remove_prefix(1);
    const auto day = number(dayText);
    const auto tod = timeOfDay(s.substr(11, 8));
    const auto year = fixedDigits(s.substr(20, 4), 4);
    if (!day || !mon || !year || !tod) return std::nullopt;
    return assemble(*year, *mon, static_cast<std::int64_t>(*day), *tod);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; §5.6.7: a two-digit year more than 50 years in the
  // future is taken as the past century — we take 70–99 as 19xx and 00–69 as 20xx.
  const auto comma = s.find(", ");
  if (comma != std::string_view::npos && s.size() == comma + 24 && s.substr(s.size() - 4) == " GMT") {
    const auto rest = s.substr(comma + 2);  // "06-Nov-94 08:49:37 GMT"
    if (rest[2] != '-' || rest[6] != '-' || rest[9] != ' ') return std::nullopt;
    const auto day = fixedDigits(rest.substr(0, 2), 2);
    const auto mon = month(rest.substr(3, 3));
    const auto yy = fixedDigits(rest.substr(7, 2), 2);
    const auto tod = timeOfDay(rest.substr(10, 8));
    if (!day || !mon || !yy || !tod) return std::nullopt;
    return assemble(*yy < 70 ? 2000 + *yy : 1900 + *yy, *mon, *day, *tod);
  }
  return std::nullopt;
}

}  // namespace fc::http
