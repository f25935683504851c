// The command queue with OceanConnect's semantics, as pure logic: calls take the platform time and
// append actions (send this command to the device; this command's status changed) for the owner to
// carry out. The owner persists every status change, notifies, and delivers through the device's
// dialect. Not thread-safe: one strand drives it.
//
//   immediate (expireTime 0):  online → SENT;  offline → FAILED ("device offline")
//   cached (expireTime > 0):   PENDING → SENT when the device is online (creation order)
//                              PENDING → EXPIRED when expireTime passes first
//   SENT → DELIVERED (transport acknowledgement) → SUCCESSFUL | FAILED (the device's result)
//   SENT → (no ack within ackTimeout) resent up to maxRetransmit times → TIMEOUT
//   PENDING → CANCELED (cancel); any other status cannot be cancelled
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "protocols/common/expected.hpp"
#include "server/core/clock.hpp"

namespace fc::server::core {

enum class CommandStatus : std::uint8_t { Pending, Sent, Delivered, Successful, Failed, Timeout, Expired, Canceled };

std::string_view toString(CommandStatus s) noexcept;
std::optional<CommandStatus> parseCommandStatus(std::string_view s) noexcept;
/// SUCCESSFUL, FAILED, TIMEOUT, EXPIRED and CANCELED never change again.
bool isFinal(CommandStatus s) noexcept;

inline constexpr std::int64_t kDefaultExpireSeconds = 172'800;  // 48 h, OceanConnect's default

struct CommandSpec {
  std::string deviceId;
  std::string name;        // optional: what the dialect calls it (e.g. an aliyun service identifier)
  std::string payload;     // JSON text, or raw bytes when `binary`
  bool binary = false;
  std::int64_t expireSeconds = kDefaultExpireSeconds;  // 0 = immediate
  std::uint32_t maxRetransmit = 3;
  std::uint32_t ackTimeoutMs = 30'000;
  std::string callbackUrl;
  bool operator==(const CommandSpec&) const = default;
};

struct Command {
  std::string id;
  std::int64_t seq = 0;  // creation order
  CommandSpec spec;
  CommandStatus status = CommandStatus::Pending;
  TimePoint createdAt{};
  std::optional<TimePoint> expiresAt;    // cached commands
  std::optional<TimePoint> sentAt;       // last send
  std::optional<TimePoint> ackDeadline;  // while SENT
  std::optional<TimePoint> deliveredAt;
  std::optional<TimePoint> completedAt;
  std::uint32_t sends = 0;
  std::string result;  // the device's result (JSON text), if any
  std::string reason;  // why it failed, timed out or expired
  bool operator==(const Command&) const = default;
};

struct CommandAction {
  enum class Kind : std::uint8_t {
    Send,           // deliver `command` to its device now (first send or a resend: see command.sends)
    StatusChanged,  // persist and announce `command`
  };
  Kind kind;
  Command command;
};
using CommandActions = std::vector<CommandAction>;

enum class CommandError : std::uint8_t {
  NotFound,        // no such command
  NotCancelable,   // only PENDING commands can be cancelled
  TooManyPending,  // the device has CommandLimits::maxPendingPerDevice open commands
  NotSent,         // an acknowledgement or result for a command that was never sent
  AlreadyFinal,    // an acknowledgement or result for a command that has ended
};
std::string_view toString(CommandError e) noexcept;

struct CommandLimits {
  std::size_t maxPendingPerDevice = 1000;  // PENDING + SENT + DELIVERED commands per device
};

class CommandQueue {
 public:
  explicit CommandQueue(CommandLimits limits = {});

  /// Reloads commands after a restart; devices start offline. Call tick() next.
  void restore(std::vector<Command> commands);
  /// Forgets everything (admin reset).
  void clear();

  Expected<Command, CommandError> submit(std::string id, CommandSpec spec, TimePoint now, CommandActions& out);
  void deviceOnline(const std::string& deviceId, TimePoint now, CommandActions& out);
  void deviceOffline(const std::string& deviceId);
  /// The transport acknowledged delivery (PUBACK, CoAP ACK, …).
  Expected<Command, CommandError> delivered(const std::string& commandId, TimePoint now, CommandActions& out);
  /// The device answered: SUCCESSFUL or FAILED with its result. Also accepted while SENT (the
  /// result implies delivery).
  Expected<Command, CommandError> completed(const std::string& commandId, bool success, std::string result,
                                            TimePoint now, CommandActions& out);
  Expected<Command, CommandError> cancel(const std::string& commandId, TimePoint now, CommandActions& out);
  /// Expires cached commands and handles ack timeouts due at `now`.
  void tick(TimePoint now, CommandActions& out);
  /// The earliest time tick() has work to do.
  std::optional<TimePoint> nextDeadline() const;

  const Command* find(const std::string& commandId) const;
  /// A device's commands in creation order, optionally of one status.
  std::vector<Command> list(const std::string& deviceId, std::optional<CommandStatus> status = {}) const;
  bool online(const std::string& deviceId) const { return online_.contains(deviceId); }
  std::size_t size() const { return commands_.size(); }

 private:
  void setStatus(Command& c, CommandStatus s, TimePoint now, CommandActions& out, std::string reason = {});
  void send(Command& c, TimePoint now, CommandActions& out);
  void arm(const Command& c);
  void disarm(const Command& c);

  CommandLimits limits_;
  std::int64_t nextSeq_ = 1;
  std::unordered_map<std::string, Command> commands_;
  std::unordered_map<std::string, std::map<std::int64_t, std::string>> byDevice_;  // seq → id
  std::unordered_set<std::string> online_;
  std::unordered_map<std::string, std::size_t> open_;  // device → commands not yet final
  std::set<std::pair<TimePoint, std::string>> deadlines_;  // expiry or ack deadline → command id
};

}  // namespace fc::server::core
