#include "server/core/token_store.hpp"

#include "server/core/random.hpp"

namespace fc::server::core {

Token TokenStore::issue(const std::string& kind, const std::string& owner, Duration lifetime, std::string secret,
                        Earlier earlier) {
  const auto now = clock_.now();
  Token t{randomAlnum(32), kind, owner, std::move(secret), now + lifetime};
  std::lock_guard lock(mutex_);
  if (earlier == Earlier::Replace)
    std::erase_if(tokens_, [&](const auto& e) { return e.second.owner == owner && e.second.kind == kind; });
  else
    std::erase_if(tokens_, [&](const auto& e) { return e.second.kind == kind && e.second.expiresAt <= now; });
  tokens_[t.token] = t;
  return t;
}

std::optional<Token> TokenStore::find(const std::string& kind, const std::string& token, bool evenExpired) const {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end() || it->second.kind != kind || (!evenExpired && !live(it->second))) return std::nullopt;
  return it->second;
}

std::optional<Token> TokenStore::take(const std::string& kind, const std::string& token, const std::string& owner) {
  std::lock_guard lock(mutex_);
  auto it = tokens_.find(token);
  if (it == tokens_.end() || it->second.kind != kind || it->second.owner != owner || !live(it->second))
    return std::nullopt;
  auto out = std::move(it->second);
  tokens_.erase(it);
  return out;
}

void TokenStore::eraseOwner(const std::string& owner) {
  std::lock_guard lock(mutex_);
  std::erase_if(tokens_, [&](const auto& e) { return e.second.owner == owner; });
}

void TokenStore::clear() {
  std::lock_guard lock(mutex_);
  tokens_.clear();
}

void TokenStore::restore(std::vector<Token> tokens) {
  std::lock_guard lock(mutex_);
  for (auto& t : tokens) {
    auto key = t.token;
    tokens_[std::move(key)] = std::move(t);
  }
}

std::size_t TokenStore::size() const {
  std::lock_guard lock(mutex_);
  return tokens_.size();
}

}  // namespace fc::server::core
