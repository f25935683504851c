// Random strings over RAND_bytes; a modulo bias of 4/256 per letter is fine for test credentials.
#include "server/core/random.hpp"

#include <openssl/rand.h>

#include <vector>

namespace fc::server::core {

std::string randomAlnum(std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::vector<unsigned char> random(n);
  RAND_bytes(random.data(), static_cast<int>(n));
  std::string out;
  for (auto r : random) out += kAlphabet[r % 62];
  return out;
}

std::string randomHex(std::size_t bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::vector<unsigned char> random(bytes);
  RAND_bytes(random.data(), static_cast<int>(bytes));
  std::string out;
  for (auto b : random) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace fc::server::core
