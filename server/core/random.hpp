// Random identifiers and secrets from OpenSSL's generator.
#pragma once

#include <cstddef>
#include <string>

namespace fc::server::core {

/// `n` characters of A-Z a-z 0-9 (Alibaba-style keys, secrets and tokens).
std::string randomAlnum(std::size_t n);
/// `bytes` random bytes as lower-case hex (2 × bytes characters).
std::string randomHex(std::size_t bytes);

}  // namespace fc::server::core
