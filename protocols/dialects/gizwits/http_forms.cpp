// Gizwits GService form bodies; see http_forms.hpp.
#include "protocols/dialects/gizwits/http_forms.hpp"

#include <cctype>
#include <charconv>

namespace fc::gizwits {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string decodeComponent(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool allHex(std::string_view s) {
  for (char c : s)
    if (hexValue(c) < 0) return false;
  return true;
}

template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::map<std::string, std::string> parseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto key = decodeComponent(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string{} : decodeComponent(pair.substr(eq + 1));
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string formEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

bool validDid(std::string_view did) noexcept {
  if (did.size() != 22) return false;
  for (unsigned char c : did)
    if (!std::isalnum(c)) return false;
  return true;
}

bool validPasscode(std::string_view passcode) noexcept {
  if (passcode.size() != 10) return false;
  for (unsigned char c : passcode)
    if (c <= 0x20 || c >= 0x7F || c == '&' || c == '=' || c == '%' || c == '+') return false;
  return true;
}

bool validProductKey(std::string_view productKey) noexcept { return productKey.size() == 32 && allHex(productKey); }

std::optional<std::string> normalizeMac(std::string_view mac) {
  std::string hex;
  if (mac.size() == 12) {
    hex = std::string(mac);
  } else if (mac.size() == 17) {
    const char sep = mac[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    for (std::size_t i = 0; i < mac.size(); ++i) {
      if (i % 3 == 2) {
        if (mac[i] != sep) return std::nullopt;
      } else {
        hex += mac[i];
      }
    }
  } else {
    return std::nullopt;
  }
  if (!allHex(hex)) return std::nullopt;
  for (auto& c : hex) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return hex;
}

std::string registerForm(std::string_view passcode, std::string_view mac, std::string_view productKey) {
  return "passcode=" + formEncode(passcode) + "&mac=" + formEncode(mac) + "&product_key=" + formEncode(productKey);
}

std::string registerAnswer(std::string_view did) { return "did=" + std::string(did); }

std::string deregisterForm(std::string_view did, std::string_view passcode) {
  return "did=" + formEncode(did) + "&passcode=" + formEncode(passcode);
}

std::string provisionAnswer(const Provision& p) {
  return "host=" + p.host + "&port=" + std::to_string(p.port) + "&server_ts=" + std::to_string(p.serverTs) +
         "&log_host=" + p.logHost + "&log_port=" + std::to_string(p.logPort) + "&biz_log=0&sys_log=0";
}

std::optional<Provision> parseProvision(std::string_view body) {
  // Raw `key=value` pairs, nothing decoded: GAgent copies the values as they are, and
  // provisionAnswer() encodes nothing.
  std::map<std::string, std::string> form;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos) form.emplace(pair.substr(0, eq), pair.substr(eq + 1));
  }
  Provision p;
  p.host = form["host"];
  auto port = number<std::uint16_t>(form["port"]);
  if (p.host.empty() || !port || *port == 0) return std::nullopt;
  p.port = *port;
  p.serverTs = number<std::int64_t>(form["server_ts"]).value_or(0);
  p.logHost = form["log_host"];
  p.logPort = number<std::uint16_t>(form["log_port"]).value_or(0);
  return p;
}

std::optional<std::string> parseRegisterAnswer(std::string_view body) {
  const auto at = body.find("did=");
  if (at == std::string_view::npos) return std::nullopt;
  auto did = body.substr(at + 4, 22);
  if (!validDid(did)) return std::nullopt;
  return std::string(did);
}

}  // namespace fc::gizwits
