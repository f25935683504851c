// Expiring tokens on platform time: the platform's device tokens (aliyun's HTTP and CoAP auth
// tokens, the MQTT pre-step's iotId/iotToken pair) and the IoCM application's access and refresh
// tokens are each one TokenStore. I/O-free and thread-safe (its own mutex, never held while
// calling out); whoever owns a store persists the kinds that outlive a restart.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/core/clock.hpp"

namespace fc::server::core {

/// A token and what it stands for: `owner` (a device id, an application id) and `kind` (what it
/// may be used for); `secret` is the second half of a token pair (iotId → iotToken), else empty.
struct Token {
  std::string token;
  std::string kind;
  std::string owner;
  std::string secret;
  TimePoint expiresAt{};
  bool operator==(const Token&) const = default;
};

class TokenStore {
 public:
  /// What an issued token does to the owner's earlier tokens of the same kind.
  enum class Earlier : bool { Replace, Keep };

  explicit TokenStore(const Clock& clock) : clock_(clock) {}

  /// A new random 32-character token of `kind` for `owner`, valid for `lifetime` from now on the
  /// clock. With Earlier::Keep, the owner's earlier tokens stay valid (expired ones of any owner
  /// are dropped, so a store that is never read empties itself as it is used).
  Token issue(const std::string& kind, const std::string& owner, Duration lifetime, std::string secret = {},
              Earlier earlier = Earlier::Replace);
  /// The token if it is of `kind` and has not expired (or, with `evenExpired`, has).
  std::optional<Token> find(const std::string& kind, const std::string& token, bool evenExpired = false) const;
  /// Like find, for `owner` only, and the token is used up: it is found at most once.
  std::optional<Token> take(const std::string& kind, const std::string& token, const std::string& owner);

  /// Forgets the owner's tokens (of every kind).
  void eraseOwner(const std::string& owner);
  void clear();
  /// Tokens of an earlier run, as they were (expired ones too: a device is told its token expired).
  void restore(std::vector<Token> tokens);
  std::size_t size() const;

 private:
  bool live(const Token& t) const { return t.expiresAt > clock_.now(); }

  const Clock& clock_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Token> tokens_;  // token → token
};

}  // namespace fc::server::core
