// Command state transitions; see the table at the top of command_queue.hpp.
#include "server/core/command_queue.hpp"

#include <array>

namespace fc::server::core {
namespace {

constexpr std::array<std::string_view, 8> kStatusNames = {"PENDING", "SENT",    "DELIVERED", "SUCCESSFUL",
                                                          "FAILED",  "TIMEOUT", "EXPIRED",   "CANCELED"};

}  // namespace

std::string_view toString(CommandStatus s) noexcept { return kStatusNames[static_cast<std::size_t>(s)]; }

std::optional<CommandStatus> parseCommandStatus(std::string_view s) noexcept {
  for (std::size_t i = 0; i < kStatusNames.size(); ++i)
    if (kStatusNames[i] == s) return static_cast<CommandStatus>(i);
  return std::nullopt;
}

bool isFinal(CommandStatus s) noexcept {
  return s != CommandStatus::Pending && s != CommandStatus::Sent && s != CommandStatus::Delivered;
}

std::string_view toString(CommandError e) noexcept {
  switch (e) {
    case CommandError::NotFound: return "no such command";
    case CommandError::NotCancelable: return "only PENDING commands can be cancelled";
    case CommandError::TooManyPending: return "too many open commands for this device";
    case CommandError::NotSent: return "the command has not been sent";
    case CommandError::AlreadyFinal: return "the command has already ended";
  }
  return "unknown command error";
}

CommandQueue::CommandQueue(CommandLimits limits) : limits_(limits) {}

void CommandQueue::clear() {
  commands_.clear();
  byDevice_.clear();
  online_.clear();
  open_.clear();
  deadlines_.clear();
}

void CommandQueue::restore(std::vector<Command> commands) {
  clear();
  for (auto& c : commands) {
    nextSeq_ = std::max(nextSeq_, c.seq + 1);
    byDevice_[c.spec.deviceId][c.seq] = c.id;
    if (!isFinal(c.status)) ++open_[c.spec.deviceId];
    arm(c);
    commands_.emplace(c.id, std::move(c));
  }
}

void CommandQueue::arm(const Command& c) {
  if (c.status == CommandStatus::Pending && c.expiresAt) deadlines_.emplace(*c.expiresAt, c.id);
  if (c.status == CommandStatus::Sent && c.ackDeadline) deadlines_.emplace(*c.ackDeadline, c.id);
}

void CommandQueue::disarm(const Command& c) {
  if (c.expiresAt) deadlines_.erase({*c.expiresAt, c.id});
  if (c.ackDeadline) deadlines_.erase({*c.ackDeadline, c.id});
}

void CommandQueue::setStatus(Command& c, CommandStatus s, TimePoint now, CommandActions& out, std::string reason) {
  disarm(c);
  const bool wasOpen = !isFinal(c.status);
  c.status = s;
  if (!reason.empty()) c.reason = std::move(reason);
  if (isFinal(s)) {
    c.completedAt = now;
    c.ackDeadline.reset();
    if (wasOpen && --open_[c.spec.deviceId] == 0) open_.erase(c.spec.deviceId);
  }
  arm(c);
  out.push_back({CommandAction::Kind::StatusChanged, c});
}

void CommandQueue::send(Command& c, TimePoint now, CommandActions& out) {
  disarm(c);
  ++c.sends;
  c.sentAt = now;
  c.ackDeadline = now + std::chrono::milliseconds(c.spec.ackTimeoutMs);
  setStatus(c, CommandStatus::Sent, now, out);
  out.push_back({CommandAction::Kind::Send, c});
}

Expected<Command, CommandError> CommandQueue::submit(std::string id, CommandSpec spec, TimePoint now,
                                                     CommandActions& out) {
  if (auto it = open_.find(spec.deviceId); it != open_.end() && it->second >= limits_.maxPendingPerDevice)
    return Unexpected(CommandError::TooManyPending);
  Command c;
  c.id = std::move(id);
  c.seq = nextSeq_++;
  c.spec = std::move(spec);
  c.createdAt = now;
  if (c.spec.expireSeconds > 0) c.expiresAt = now + std::chrono::seconds(c.spec.expireSeconds);
  const auto deviceId = c.spec.deviceId;
  ++open_[deviceId];
  byDevice_[deviceId][c.seq] = c.id;
  auto& stored = commands_.emplace(c.id, std::move(c)).first->second;

  if (online(deviceId)) {
    send(stored, now, out);
  } else if (stored.spec.expireSeconds == 0) {
    setStatus(stored, CommandStatus::Failed, now, out, "device offline");
  } else {
    setStatus(stored, CommandStatus::Pending, now, out);
  }
  return stored;
}

void CommandQueue::deviceOnline(const std::string& deviceId, TimePoint now, CommandActions& out) {
  online_.insert(deviceId);
  auto it = byDevice_.find(deviceId);
  if (it == byDevice_.end()) return;
  for (const auto& [seq, id] : it->second) {
    auto& c = commands_.at(id);
    if (c.status == CommandStatus::Pending) send(c, now, out);
  }
}

void CommandQueue::deviceOffline(const std::string& deviceId) { online_.erase(deviceId); }

Expected<Command, CommandError> CommandQueue::delivered(const std::string& commandId, TimePoint now,
                                                        CommandActions& out) {
  auto it = commands_.find(commandId);
  if (it == commands_.end()) return Unexpected(CommandError::NotFound);
  auto& c = it->second;
  if (c.status == CommandStatus::Pending) return Unexpected(CommandError::NotSent);
  if (c.status != CommandStatus::Sent) return c;  // a second ack, or one after the result: nothing changes
  disarm(c);
  c.deliveredAt = now;
  c.ackDeadline.reset();
  setStatus(c, CommandStatus::Delivered, now, out);
  return c;
}

Expected<Command, CommandError> CommandQueue::completed(const std::string& commandId, bool success,
                                                        std::string result, TimePoint now, CommandActions& out) {
  auto it = commands_.find(commandId);
  if (it == commands_.end()) return Unexpected(CommandError::NotFound);
  auto& c = it->second;
  if (c.status == CommandStatus::Pending) return Unexpected(CommandError::NotSent);
  if (isFinal(c.status)) return Unexpected(CommandError::AlreadyFinal);
  disarm(c);
  if (!c.deliveredAt) c.deliveredAt = now;
  c.ackDeadline.reset();
  c.result = std::move(result);
  setStatus(c, success ? CommandStatus::Successful : CommandStatus::Failed, now, out,
            success ? std::string{} : std::string("the device reported failure"));
  return c;
}

Expected<Command, CommandError> CommandQueue::cancel(const std::string& commandId, TimePoint now,
                                                     CommandActions& out) {
  auto it = commands_.find(commandId);
  if (it == commands_.end()) return Unexpected(CommandError::NotFound);
  auto& c = it->second;
  if (c.status != CommandStatus::Pending) return Unexpected(CommandError::NotCancelable);
  setStatus(c, CommandStatus::Canceled, now, out, "cancelled");
  return c;
}

void CommandQueue::tick(TimePoint now, CommandActions& out) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const auto id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto& c = commands_.at(id);
    if (c.status == CommandStatus::Pending) {
      setStatus(c, CommandStatus::Expired, now, out, "not delivered within expireTime");
    } else if (c.status == CommandStatus::Sent) {
      const bool retransmitsLeft = c.sends <= c.spec.maxRetransmit;
      if (retransmitsLeft && online(c.spec.deviceId)) {
        send(c, now, out);
      } else {
        setStatus(c, CommandStatus::Timeout, now, out,
                  "no acknowledgement after " + std::to_string(c.sends) + (c.sends == 1 ? " send" : " sends"));
      }
    }
  }
}

std::optional<TimePoint> CommandQueue::nextDeadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

const Command* CommandQueue::find(const std::string& commandId) const {
  auto it = commands_.find(commandId);
  return it == commands_.end() ? nullptr : &it->second;
}

std::vector<Command> CommandQueue::list(const std::string& deviceId, std::optional<CommandStatus> status) const {
  std::vector<Command> out;
  auto it = byDevice_.find(deviceId);
  if (it == byDevice_.end()) return out;
  for (const auto& [seq, id] : it->second) {
    const auto& c = commands_.at(id);
    if (!status || c.status == *status) out.push_back(c);
  }
  return out;
}

}  // namespace fc::server::core
