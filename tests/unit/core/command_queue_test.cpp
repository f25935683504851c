// Every command-state transition under a fake clock (plain time points: the queue never reads a clock).
#include <gtest/gtest.h>

#include "server/core/command_queue.hpp"

namespace fc::server::core {
namespace {

using namespace std::chrono_literals;
using Kind = CommandAction::Kind;

const TimePoint kT0 = fromMillis(1'700'000'000'000);

CommandSpec spec(std::string device = "dev-1", std::int64_t expire = kDefaultExpireSeconds) {
  CommandSpec s;
  s.deviceId = std::move(device);
  s.payload = R"({"light":1})";
  s.expireSeconds = expire;
  s.maxRetransmit = 2;
  s.ackTimeoutMs = 10'000;
  return s;
}

using Summary = std::vector<std::pair<Kind, CommandStatus>>;

Summary summary(const CommandActions& actions) {
  Summary out;
  for (const auto& a : actions) out.emplace_back(a.kind, a.command.status);
  return out;
}

class Commands : public ::testing::Test {
 protected:
  Command submit(CommandSpec s, TimePoint now = kT0) {
    out_.clear();
    auto c = queue_.submit("cmd-" + std::to_string(++n_), std::move(s), now, out_);
    EXPECT_TRUE(c);
    return *c;
  }
  CommandQueue queue_{CommandLimits{3}};
  CommandActions out_;
  int n_ = 0;
};

TEST_F(Commands, ImmediateToAnOfflineDeviceFailsAtOnce) {
  auto c = submit(spec("dev-1", 0));
  EXPECT_EQ(c.status, CommandStatus::Failed);
  EXPECT_EQ(c.reason, "device offline");
  EXPECT_EQ(summary(out_), (Summary{{Kind::StatusChanged, CommandStatus::Failed}}));
  out_.clear();
  queue_.deviceOnline("dev-1", kT0 + 1s, out_);
  EXPECT_TRUE(out_.empty()) << "an immediate command is never cached";
}

TEST_F(Commands, ImmediateToAnOnlineDeviceIsSent) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto c = submit(spec("dev-1", 0));
  EXPECT_EQ(c.status, CommandStatus::Sent);
  EXPECT_EQ(c.sends, 1u);
  EXPECT_EQ(summary(out_), (Summary{{Kind::StatusChanged, CommandStatus::Sent}, {Kind::Send, CommandStatus::Sent}}));
}

TEST_F(Commands, CachedCommandsWaitAndAreSentInCreationOrderWhenTheDeviceComesOnline) {
  auto a = submit(spec());
  auto b = submit(spec());
  EXPECT_EQ(a.status, CommandStatus::Pending);
  EXPECT_EQ(*a.expiresAt, kT0 + 48h);
  out_.clear();
  queue_.deviceOnline("dev-1", kT0 + 1h, out_);
  std::vector<std::string> sent;
  for (const auto& action : out_)
    if (action.kind == Kind::Send) sent.push_back(action.command.id);
  EXPECT_EQ(sent, (std::vector<std::string>{a.id, b.id}));
  EXPECT_EQ(queue_.find(a.id)->status, CommandStatus::Sent);
}

TEST_F(Commands, CachedCommandExpiresOnTheClock) {
  auto c = submit(spec("dev-1", 60));
  out_.clear();
  queue_.tick(kT0 + 59s, out_);
  EXPECT_TRUE(out_.empty());
  EXPECT_EQ(queue_.nextDeadline(), kT0 + 60s);
  queue_.tick(kT0 + 60s, out_);
  EXPECT_EQ(summary(out_), (Summary{{Kind::StatusChanged, CommandStatus::Expired}}));
  EXPECT_EQ(queue_.find(c.id)->status, CommandStatus::Expired);
  out_.clear();
  queue_.deviceOnline("dev-1", kT0 + 61s, out_);
  EXPECT_TRUE(out_.empty()) << "an expired command is not sent";
}

TEST_F(Commands, DefaultExpiryIs48Hours) {
  auto c = submit(spec());
  out_.clear();
  queue_.tick(kT0 + 48h - 1ms, out_);
  EXPECT_TRUE(out_.empty());
  queue_.tick(kT0 + 48h, out_);
  EXPECT_EQ(queue_.find(c.id)->status, CommandStatus::Expired);
}

TEST_F(Commands, AckMakesItDeliveredAndTheResultMakesItSuccessfulOrFailed) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto ok = submit(spec());
  auto bad = submit(spec());
  out_.clear();
  ASSERT_TRUE(queue_.delivered(ok.id, kT0 + 1s, out_));
  EXPECT_EQ(queue_.find(ok.id)->status, CommandStatus::Delivered);
  EXPECT_EQ(queue_.find(ok.id)->deliveredAt, kT0 + 1s);
  ASSERT_TRUE(queue_.completed(ok.id, true, R"({"code":200})", kT0 + 2s, out_));
  EXPECT_EQ(queue_.find(ok.id)->status, CommandStatus::Successful);
  EXPECT_EQ(queue_.find(ok.id)->result, R"({"code":200})");
  EXPECT_EQ(queue_.find(ok.id)->completedAt, kT0 + 2s);

  // A result without a separate ack implies delivery.
  ASSERT_TRUE(queue_.completed(bad.id, false, R"({"code":500})", kT0 + 3s, out_));
  EXPECT_EQ(queue_.find(bad.id)->status, CommandStatus::Failed);
  EXPECT_EQ(queue_.find(bad.id)->deliveredAt, kT0 + 3s);

  auto again = queue_.completed(ok.id, true, "{}", kT0 + 4s, out_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), CommandError::AlreadyFinal);
}

TEST_F(Commands, NoAckIsResentUpToMaxRetransmitThenTimesOut) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto c = submit(spec());  // maxRetransmit 2, ack timeout 10 s
  out_.clear();
  queue_.tick(kT0 + 10s, out_);
  EXPECT_EQ(summary(out_), (Summary{{Kind::StatusChanged, CommandStatus::Sent}, {Kind::Send, CommandStatus::Sent}}));
  EXPECT_EQ(queue_.find(c.id)->sends, 2u);
  out_.clear();
  queue_.tick(kT0 + 20s, out_);
  EXPECT_EQ(queue_.find(c.id)->sends, 3u);
  out_.clear();
  queue_.tick(kT0 + 30s, out_);
  EXPECT_EQ(summary(out_), (Summary{{Kind::StatusChanged, CommandStatus::Timeout}}));
  EXPECT_EQ(queue_.find(c.id)->reason, "no acknowledgement after 3 sends");
  EXPECT_FALSE(queue_.nextDeadline());
}

TEST_F(Commands, AckStopsRetransmission) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto c = submit(spec());
  out_.clear();
  queue_.tick(kT0 + 10s, out_);  // first resend
  ASSERT_TRUE(queue_.delivered(c.id, kT0 + 11s, out_));
  out_.clear();
  queue_.tick(kT0 + 1h, out_);
  EXPECT_TRUE(out_.empty());
  EXPECT_EQ(queue_.find(c.id)->status, CommandStatus::Delivered);
}

TEST_F(Commands, SentToADeviceThatWentOfflineTimesOutInsteadOfResending) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto c = submit(spec());
  queue_.deviceOffline("dev-1");
  out_.clear();
  queue_.tick(kT0 + 10s, out_);
  EXPECT_EQ(queue_.find(c.id)->status, CommandStatus::Timeout);
}

TEST_F(Commands, OnlyPendingCanBeCancelled) {
  auto pending = submit(spec());
  out_.clear();
  auto cancelled = queue_.cancel(pending.id, kT0 + 1s, out_);
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->status, CommandStatus::Canceled);
  EXPECT_FALSE(queue_.nextDeadline()) << "a cancelled command no longer expires";

  queue_.deviceOnline("dev-1", kT0, out_);
  auto sent = submit(spec());
  auto refused = queue_.cancel(sent.id, kT0 + 1s, out_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), CommandError::NotCancelable);
  auto unknown = queue_.cancel("nope", kT0, out_);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), CommandError::NotFound);
}

TEST_F(Commands, OpenCommandsPerDeviceAreBounded) {
  submit(spec());
  submit(spec());
  submit(spec());
  auto fourth = queue_.submit("cmd-x", spec(), kT0, out_);
  ASSERT_FALSE(fourth);
  EXPECT_EQ(fourth.error(), CommandError::TooManyPending);
  EXPECT_TRUE(queue_.submit("cmd-y", spec("dev-2"), kT0, out_)) << "the bound is per device";
  // Once one ends, there is room again.
  ASSERT_TRUE(queue_.cancel("cmd-1", kT0, out_));
  EXPECT_TRUE(queue_.submit("cmd-z", spec(), kT0, out_));
}

TEST_F(Commands, AckOrResultForAPendingCommandIsRefused) {
  auto c = submit(spec());
  auto ack = queue_.delivered(c.id, kT0, out_);
  ASSERT_FALSE(ack);
  EXPECT_EQ(ack.error(), CommandError::NotSent);
  auto result = queue_.completed(c.id, true, "{}", kT0, out_);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error(), CommandError::NotSent);
}

TEST_F(Commands, RestoreKeepsDeadlinesAndOrderAndStartsDevicesOffline) {
  queue_.deviceOnline("dev-9", kT0, out_);
  auto expiring = submit(spec("dev-1", 60));
  auto later = submit(spec("dev-1", 3600));
  auto sent = submit(spec("dev-9"));
  std::vector<Command> saved{*queue_.find(expiring.id), *queue_.find(later.id), *queue_.find(sent.id)};

  CommandQueue restarted{CommandLimits{3}};
  restarted.restore(saved);
  EXPECT_FALSE(restarted.online("dev-9"));
  CommandActions out;
  restarted.tick(kT0 + 61s, out);  // the server was down past the first expiry, and past the ack timeout
  EXPECT_EQ(restarted.find(expiring.id)->status, CommandStatus::Expired);
  EXPECT_EQ(restarted.find(later.id)->status, CommandStatus::Pending);
  EXPECT_EQ(restarted.find(sent.id)->status, CommandStatus::Timeout);
  out.clear();
  restarted.deviceOnline("dev-1", kT0 + 62s, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].command.id, later.id);
  auto next = restarted.submit("cmd-new", spec("dev-1"), kT0 + 63s, out);
  ASSERT_TRUE(next);
  EXPECT_GT(next->seq, later.seq) << "sequence numbers continue after a restart";
}

// A transport acknowledgement can arrive after the command ended: the result can overtake the PUBACK
// (a client that publishes the result from inside its message callback), a device can ack a resend
// after TIMEOUT, a stale ack can name a command that expired or was cancelled. None of them changes
// the outcome. Mutations these tests are meant to kill (CommandQueue::delivered):
//   `if (c.status != Sent) return c;` → `if (c.status == Delivered) return c;`   (a late ack revives it)
//   the same line dropped                                                         (a second ack moves deliveredAt)
//   `if (c.status == Pending) return Unexpected(NotSent);` dropped                (an ack for an unsent command)
class LateAcks : public Commands {
 protected:
  // An acknowledgement at `when` changes nothing: same status, same times, no action.
  void expectIgnored(const std::string& id, TimePoint when) {
    const Command before = *queue_.find(id);
    out_.clear();
    auto ack = queue_.delivered(id, when, out_);
    ASSERT_TRUE(ack) << "a late ack is not an error: the device did nothing wrong";
    EXPECT_EQ(ack->status, before.status);
    const Command after = *queue_.find(id);
    EXPECT_EQ(toString(after.status), toString(before.status));
    EXPECT_EQ(after.deliveredAt, before.deliveredAt);
    EXPECT_EQ(after.completedAt, before.completedAt);
    EXPECT_EQ(after.result, before.result);
    EXPECT_TRUE(out_.empty()) << "no status change is announced";
    EXPECT_FALSE(queue_.nextDeadline()) << "nothing is re-armed";
  }
};

TEST_F(LateAcks, AfterSuccessfulOrFailedTheResultStands) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto ok = submit(spec());
  auto bad = submit(spec());
  ASSERT_TRUE(queue_.completed(ok.id, true, R"({"code":200})", kT0 + 1s, out_));
  ASSERT_TRUE(queue_.completed(bad.id, false, R"({"code":500})", kT0 + 1s, out_));
  expectIgnored(ok.id, kT0 + 2s);
  expectIgnored(bad.id, kT0 + 2s);
  EXPECT_EQ(queue_.find(ok.id)->status, CommandStatus::Successful);
  EXPECT_EQ(queue_.find(bad.id)->status, CommandStatus::Failed);
}

TEST_F(LateAcks, AfterDeliveredAndSuccessfulASecondAckChangesNothing) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto c = submit(spec());
  ASSERT_TRUE(queue_.delivered(c.id, kT0 + 1s, out_));
  expectIgnored(c.id, kT0 + 2s);
  EXPECT_EQ(queue_.find(c.id)->deliveredAt, kT0 + 1s);
  ASSERT_TRUE(queue_.completed(c.id, true, "{}", kT0 + 3s, out_));
  expectIgnored(c.id, kT0 + 4s);
  EXPECT_EQ(queue_.find(c.id)->status, CommandStatus::Successful);
}

TEST_F(LateAcks, AfterTimeoutTheCommandStaysTimedOut) {
  queue_.deviceOnline("dev-1", kT0, out_);
  auto c = submit(spec());  // maxRetransmit 2, ack timeout 10 s
  for (auto t : {10s, 20s, 30s}) queue_.tick(kT0 + t, out_);
  ASSERT_EQ(queue_.find(c.id)->status, CommandStatus::Timeout);
  expectIgnored(c.id, kT0 + 31s);
  EXPECT_EQ(queue_.find(c.id)->status, CommandStatus::Timeout);
  EXPECT_FALSE(queue_.find(c.id)->deliveredAt);
}

TEST_F(LateAcks, AfterExpiredOrCanceledTheCommandStaysEnded) {
  auto expiring = submit(spec("dev-1", 60));
  auto canceled = submit(spec("dev-1", 3600));
  ASSERT_TRUE(queue_.cancel(canceled.id, kT0 + 1s, out_));
  queue_.tick(kT0 + 60s, out_);
  ASSERT_EQ(queue_.find(expiring.id)->status, CommandStatus::Expired);
  queue_.deviceOnline("dev-1", kT0 + 61s, out_);
  expectIgnored(expiring.id, kT0 + 62s);
  expectIgnored(canceled.id, kT0 + 62s);
  EXPECT_EQ(queue_.find(expiring.id)->status, CommandStatus::Expired);
  EXPECT_EQ(queue_.find(canceled.id)->status, CommandStatus::Canceled);
}

TEST(CommandStatusNames, RoundTrip) {
  for (auto s : {CommandStatus::Pending, CommandStatus::Sent, CommandStatus::Delivered, CommandStatus::Successful,
                 CommandStatus::Failed, CommandStatus::Timeout, CommandStatus::Expired, CommandStatus::Canceled})
    EXPECT_EQ(parseCommandStatus(toString(s)), s);
  EXPECT_EQ(toString(CommandStatus::Canceled), "CANCELED");
  EXPECT_FALSE(parseCommandStatus("pending"));
}

}  // namespace
}  // namespace fc::server::core
