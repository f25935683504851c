// Alibaba's sign-in parameters; the contract is in sign.hpp.
#include "protocols/dialects/aliyun/sign.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

namespace fc::aliyun {
namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

}  // namespace

std::optional<SignMethod> parseSignMethod(std::string_view s) noexcept {
  if (equalsIgnoreCase(s, "hmacmd5")) return SignMethod::HmacMd5;
  if (equalsIgnoreCase(s, "hmacsha1")) return SignMethod::HmacSha1;
  if (equalsIgnoreCase(s, "hmacsha256")) return SignMethod::HmacSha256;
  return std::nullopt;
}

std::string_view toString(SignMethod m) noexcept {
  switch (m) {
    case SignMethod::HmacMd5: return "hmacmd5";
    case SignMethod::HmacSha1: return "hmacsha1";
    case SignMethod::HmacSha256: return "hmacsha256";
  }
  return "?";
}

std::string hmacHex(SignMethod method, std::string_view key, std::string_view message) {
  const EVP_MD* md = method == SignMethod::HmacMd5    ? EVP_md5()
                     : method == SignMethod::HmacSha1 ? EVP_sha1()
                                                      : EVP_sha256();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int outLen = 0;
  // HMAC() with an empty key still needs a non-null pointer.
  static const unsigned char kEmpty = 0;
  const void* keyData = key.empty() ? static_cast<const void*>(&kEmpty) : static_cast<const void*>(key.data());
  if (!HMAC(md, keyData, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
            message.size(), out, &outLen))
    return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(outLen * 2);
  for (unsigned int i = 0; i < outLen; ++i) {
    hex += kHex[out[i] >> 4];
    hex += kHex[out[i] & 15];
  }
  return hex;
}

std::string signContent(std::string_view clientId, std::string_view deviceName, std::string_view productKey,
                        std::string_view timestamp) {
  std::string s;
  s.reserve(48 + clientId.size() + deviceName.size() + productKey.size() + timestamp.size());
  s.append("clientId").append(clientId);
  s.append("deviceName").append(deviceName);
  s.append("productKey").append(productKey);
  if (!timestamp.empty()) s.append("timestamp").append(timestamp);
  return s;
}

std::string sign(SignMethod method, std::string_view deviceSecret, std::string_view clientId,
                 std::string_view deviceName, std::string_view productKey, std::string_view timestamp) {
  return hmacHex(method, deviceSecret, signContent(clientId, deviceName, productKey, timestamp));
}

std::string registrationSignContent(std::string_view deviceName, std::string_view productKey,
                                    std::string_view random) {
  std::string s;
  s.reserve(32 + deviceName.size() + productKey.size() + random.size());
  s.append("deviceName").append(deviceName);
  s.append("productKey").append(productKey);
  s.append("random").append(random);
  return s;
}

bool signatureMatches(std::string_view expectedHex, std::string_view givenHex) noexcept {
  if (expectedHex.empty() || expectedHex.size() != givenHex.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < expectedHex.size(); ++i)
    diff |= static_cast<unsigned char>(lower(expectedHex[i]) ^ lower(givenHex[i]));
  return diff == 0;
}

std::string_view toString(ClientIdError e) noexcept {
  switch (e) {
    case ClientIdError::Empty: return "the client id names no device";
    case ClientIdError::UnclosedParams: return "the client id's parameter list has no closing '|'";
    case ClientIdError::TrailingBytes: return "bytes after the client id's parameter list";
    case ClientIdError::MalformedParam: return "a client id parameter is not name=value";
  }
  return "?";
}

std::optional<std::string> ClientId::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::nullopt : std::optional<std::string>(it->second);
}

Expected<ClientId, ClientIdError> parseClientId(std::string_view s) {
  ClientId out;
  const auto bar = s.find('|');
  out.id = std::string(s.substr(0, bar));
  if (out.id.empty()) return Unexpected(ClientIdError::Empty);
  if (bar == std::string_view::npos) return out;
  const auto close = s.find('|', bar + 1);
  if (close == std::string_view::npos) return Unexpected(ClientIdError::UnclosedParams);
  if (close + 1 != s.size()) return Unexpected(ClientIdError::TrailingBytes);
  std::string_view list = s.substr(bar + 1, close - bar - 1);
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = list.substr(0, comma);
    if (!item.empty()) {
      const auto eq = item.find('=');
      if (eq == std::string_view::npos || eq == 0) return Unexpected(ClientIdError::MalformedParam);
      out.params[std::string(item.substr(0, eq))] = std::string(item.substr(eq + 1));
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

std::optional<Username> parseUsername(std::string_view s) {
  const auto amp = s.find('&');
  if (amp == std::string_view::npos || amp == 0 || amp + 1 == s.size()) return std::nullopt;
  return Username{std::string(s.substr(0, amp)), std::string(s.substr(amp + 1))};
}

std::optional<int> parseSecureMode(std::string_view s) noexcept {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool validName(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f || c == '/' || c == '+' || c == '#' || c == '&' || c == '|') return false;
  return true;
}

}  // namespace fc::aliyun
