// The upgrade jobs' state machine (server/ota/jobs.*) under made-up time: every transition of the
// table at the top of jobs.hpp, the rollout limits, start times, retries and restore.
#include "server/ota/jobs.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace fc::server::ota {
namespace {

using namespace std::chrono_literals;
using Kind = JobAction::Kind;

const core::TimePoint t0 = core::fromMillis(1'700'000'000'000);

JobSpec spec(std::vector<std::string> devices, std::vector<std::string> versions = {"2.0"}) {
  JobSpec s;
  for (std::size_t i = 0; i < versions.size(); ++i) s.firmwareIds.push_back("fw-" + std::to_string(i + 1));
  s.firmwareVersions = std::move(versions);
  s.deviceIds = std::move(devices);
  s.productId = "p1";
  return s;
}

std::vector<JobAction> of(const JobActions& a, Kind k) {
  std::vector<JobAction> out;
  std::copy_if(a.begin(), a.end(), std::back_inserter(out), [k](const JobAction& x) { return x.kind == k; });
  return out;
}

RunState stateOf(const JobBook& b, const std::string& job, const std::string& device) {
  return b.run(job, device)->state;
}

TEST(OtaJobs, NamesRoundTrip) {
  for (auto s : {RunState::Queued, RunState::Offered, RunState::Downloading, RunState::Downloaded, RunState::Installing,
                 RunState::Succeeded, RunState::Failed, RunState::TimedOut, RunState::Canceled})
    EXPECT_EQ(parseRunState(toString(s)), s);
  EXPECT_EQ(toString(RunState::TimedOut), "TIMED_OUT");
  EXPECT_EQ(parseOtaMode("silent"), OtaMode::Silent);
  EXPECT_FALSE(parseOtaMode("loud"));
  EXPECT_EQ(parseJobState("COMPLETED"), JobState::Completed);
}

TEST(OtaJobs, OfflineDeviceStaysQueuedThenIsOfferedWhenReady) {
  JobBook b;
  JobActions a;
  const auto job = b.create("j1", spec({"d1"}), t0, t0, a);
  EXPECT_EQ(job.state, JobState::Running);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Queued);
  EXPECT_TRUE(of(a, Kind::Offer).empty());
  ASSERT_EQ(of(a, Kind::RunChanged).size(), 1u);
  ASSERT_EQ(of(a, Kind::JobChanged).size(), 1u);

  a.clear();
  b.deviceReady("d1", true, t0 + 1s, a);
  const auto offers = of(a, Kind::Offer);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].run.deviceId, "d1");
  EXPECT_FALSE(offers[0].again);
  EXPECT_EQ(offers[0].run.attempts, 1u);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);
  EXPECT_EQ(b.run("j1", "d1")->offeredAt, t0 + 1s);
}

TEST(OtaJobs, HappyPathThroughEveryState) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}), t0, t0, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);

  a.clear();
  EXPECT_TRUE(b.progress("d1", "", 40, t0 + 1s, a));
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Downloading);
  EXPECT_EQ(b.run("j1", "d1")->progress, 40);
  EXPECT_TRUE(b.progress("d1", "j1", 250, t0 + 2s, a));
  EXPECT_EQ(b.run("j1", "d1")->progress, 100);  // clamped
  EXPECT_TRUE(b.downloaded("d1", "j1", t0 + 3s, a));
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Downloaded);
  EXPECT_FALSE(b.progress("d1", "", 10, t0 + 3s, a));  // not after DOWNLOADED
  EXPECT_TRUE(b.installing("d1", "", t0 + 4s, a));
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Installing);

  a.clear();
  b.versionReported("d1", "2.0", t0 + 5s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Succeeded);
  EXPECT_EQ(b.run("j1", "d1")->finishedAt, t0 + 5s);
  const auto set = of(a, Kind::SetVersion);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].version, "2.0");
  EXPECT_EQ(b.job("j1")->state, JobState::Completed);
  EXPECT_EQ(b.job("j1")->finishedAt, t0 + 5s);
  EXPECT_EQ(b.activeRun("d1"), nullptr);
}

TEST(OtaJobs, ReportsForAnotherJobOrWithoutARunAreIgnored) {
  JobBook b;
  JobActions a;
  EXPECT_FALSE(b.progress("d1", "", 10, t0, a));
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}), t0, t0, a);
  EXPECT_FALSE(b.progress("d1", "j9", 10, t0, a));
  EXPECT_FALSE(b.failed("d1", "j9", "1", "x", t0, a));
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);
  a.clear();
  b.versionReported("d1", "1.0", t0, a);  // an old version before installing: only the device's version
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);
  EXPECT_EQ(of(a, Kind::SetVersion).size(), 1u);
  EXPECT_EQ(b.run("j1", "d1")->reportedVersion, "1.0");
}

TEST(OtaJobs, SeveralFirmwareAreOfferedInOrder) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}, {"1.5", "2.0", "3.0"}), t0, t0, a);
  EXPECT_EQ(b.run("j1", "d1")->step, 0u);
  for (std::size_t step = 0; step < 2; ++step) {
    a.clear();
    b.installing("d1", "", t0, a);
    b.versionReported("d1", step == 0 ? "1.5" : "2.0", t0 + 1s, a);
    const auto offers = of(a, Kind::Offer);
    ASSERT_EQ(offers.size(), 1u) << step;
    EXPECT_EQ(offers[0].run.step, step + 1);
    EXPECT_EQ(offers[0].run.attempts, 1u);  // the next firmware is no new attempt
    EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);
  }
  b.versionReported("d1", "3.0", t0 + 2s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Succeeded);
}

TEST(OtaJobs, FailureIsRetriedThenFinal) {
  JobBook b;
  JobActions a;
  auto s = spec({"d1"});
  s.retries = 1;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", s, t0, t0, a);
  a.clear();
  EXPECT_TRUE(b.failed("d1", "", "-2", "download failed", t0 + 1s, a));
  // Back to QUEUED and, the device being ready, offered again at once as attempt 2.
  const auto changes = of(a, Kind::RunChanged);
  ASSERT_GE(changes.size(), 2u);
  EXPECT_EQ(changes[0].run.state, RunState::Queued);
  EXPECT_EQ(changes[0].run.errorCode, "-2");
  ASSERT_EQ(of(a, Kind::Offer).size(), 1u);
  EXPECT_EQ(b.run("j1", "d1")->attempts, 2u);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);

  a.clear();
  b.failed("d1", "", "-3", "verify failed", t0 + 2s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Failed);
  EXPECT_EQ(b.run("j1", "d1")->errorCode, "-3");
  EXPECT_EQ(b.run("j1", "d1")->lastError, "verify failed");
  EXPECT_TRUE(of(a, Kind::Offer).empty());
  EXPECT_EQ(b.job("j1")->state, JobState::Completed);
}

TEST(OtaJobs, InstallingThenAnotherVersionIsAFailure) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}), t0, t0, a);
  b.installing("d1", "", t0, a);
  b.versionReported("d1", "1.0", t0 + 1s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Failed);
  EXPECT_EQ(b.run("j1", "d1")->errorCode, "version-mismatch");
}

TEST(OtaJobs, TimeoutRetriesThenTimesOut) {
  JobBook b;
  JobActions a;
  auto s = spec({"d1"});
  s.timeoutSeconds = 60;
  s.retries = 1;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", s, t0, t0, a);
  EXPECT_EQ(b.run("j1", "d1")->deadline, t0 + 60s);
  EXPECT_EQ(b.nextDeadline(), t0 + 60s);
  a.clear();
  b.tick(t0 + 59s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);
  EXPECT_TRUE(a.empty());
  b.tick(t0 + 60s, a);
  ASSERT_EQ(of(a, Kind::Cancel).size(), 1u);  // the device is told to stop before the retry
  ASSERT_EQ(of(a, Kind::Offer).size(), 1u);
  EXPECT_EQ(b.run("j1", "d1")->attempts, 2u);
  EXPECT_EQ(b.run("j1", "d1")->deadline, t0 + 120s);
  a.clear();
  b.tick(t0 + 120s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::TimedOut);
  EXPECT_EQ(b.run("j1", "d1")->errorCode, "timeout");
  EXPECT_EQ(of(a, Kind::Cancel).size(), 1u);
  EXPECT_EQ(b.job("j1")->state, JobState::Completed);
  EXPECT_FALSE(b.nextDeadline());
}

TEST(OtaJobs, CancelEndsOpenRunsAndTellsActiveDevices) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1", "d2"}), t0, t0, a);
  a.clear();
  const auto c = b.cancel("j1", t0 + 1s, a);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->state, JobState::Canceled);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Canceled);
  EXPECT_EQ(stateOf(b, "j1", "d2"), RunState::Canceled);
  const auto cancels = of(a, Kind::Cancel);
  ASSERT_EQ(cancels.size(), 1u);  // only d1 had been offered
  EXPECT_EQ(cancels[0].run.deviceId, "d1");
  EXPECT_EQ(b.cancel("j1", t0, a).error(), JobError::AlreadyEnded);
  EXPECT_EQ(b.cancel("nope", t0, a).error(), JobError::NotFound);
  // A late report changes nothing.
  EXPECT_FALSE(b.progress("d1", "", 50, t0 + 2s, a));
}

TEST(OtaJobs, ScheduledJobStartsAtItsTime) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  const auto j = b.create("j1", spec({"d1"}), t0 + 30s, t0, a);
  EXPECT_EQ(j.state, JobState::Scheduled);
  EXPECT_TRUE(of(a, Kind::Offer).empty());
  EXPECT_EQ(b.nextDeadline(), t0 + 30s);
  a.clear();
  b.tick(t0 + 29s, a);
  EXPECT_TRUE(a.empty());
  b.tick(t0 + 30s, a);
  EXPECT_EQ(b.job("j1")->state, JobState::Running);
  EXPECT_EQ(of(a, Kind::Offer).size(), 1u);
}

TEST(OtaJobs, MaxConcurrentHoldsTheRestQueued) {
  JobBook b;
  JobActions a;
  for (auto d : {"d1", "d2", "d3"}) b.deviceReady(d, true, t0, a);
  auto s = spec({"d1", "d2", "d3"});
  s.maxConcurrent = 2;
  b.create("j1", s, t0, t0, a);
  EXPECT_EQ(of(a, Kind::Offer).size(), 2u);
  EXPECT_EQ(stateOf(b, "j1", "d3"), RunState::Queued);
  a.clear();
  b.versionReported("d1", "2.0", t0 + 1s, a);
  const auto offers = of(a, Kind::Offer);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(offers[0].run.deviceId, "d3");
}

TEST(OtaJobs, PerSecondSpacesTheOffers) {
  JobBook b;
  JobActions a;
  for (auto d : {"d1", "d2", "d3"}) b.deviceReady(d, true, t0, a);
  auto s = spec({"d1", "d2", "d3"});
  s.perSecond = 2;  // one offer every 500 ms
  b.create("j1", s, t0, t0, a);
  EXPECT_EQ(of(a, Kind::Offer).size(), 1u);
  EXPECT_EQ(b.nextDeadline(), t0 + 500ms);
  a.clear();
  b.tick(t0 + 499ms, a);
  EXPECT_TRUE(of(a, Kind::Offer).empty());
  b.tick(t0 + 500ms, a);
  EXPECT_EQ(of(a, Kind::Offer).size(), 1u);
  a.clear();
  b.tick(t0 + 1000ms, a);
  EXPECT_EQ(of(a, Kind::Offer).size(), 1u);
  EXPECT_FALSE(b.nextDeadline());
}

TEST(OtaJobs, ReconnectReoffersOrWaitsPerTheDialect) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}), t0, t0, a);
  b.progress("d1", "", 30, t0, a);
  b.deviceGone("d1");
  EXPECT_FALSE(b.ready("d1"));
  a.clear();
  b.deviceReady("d1", false, t0 + 1s, a);  // a dialect that does not re-offer
  EXPECT_TRUE(of(a, Kind::Offer).empty());
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Downloading);
  b.deviceGone("d1");
  b.deviceReady("d1", true, t0 + 2s, a);
  const auto offers = of(a, Kind::Offer);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_TRUE(offers[0].again);
  EXPECT_EQ(offers[0].run.attempts, 1u);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Offered);
  EXPECT_EQ(b.run("j1", "d1")->progress, 30);  // kept: the download may resume
}

TEST(OtaJobs, OneJobAtATimePerDevice) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}), t0, t0, a);
  a.clear();
  b.create("j2", spec({"d1"}, {"3.0"}), t0, t0, a);
  EXPECT_TRUE(of(a, Kind::Offer).empty());
  EXPECT_EQ(stateOf(b, "j2", "d1"), RunState::Queued);
  a.clear();
  b.versionReported("d1", "2.0", t0 + 1s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Succeeded);
  ASSERT_EQ(of(a, Kind::Offer).size(), 1u);
  EXPECT_EQ(of(a, Kind::Offer)[0].job.id, "j2");
}

TEST(OtaJobs, DeletedDeviceFailsItsRuns) {
  JobBook b;
  JobActions a;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", spec({"d1"}), t0, t0, a);
  b.deviceDeleted("d1", t0 + 1s, a);
  EXPECT_EQ(stateOf(b, "j1", "d1"), RunState::Failed);
  EXPECT_EQ(b.run("j1", "d1")->errorCode, "device-deleted");
  EXPECT_EQ(b.job("j1")->state, JobState::Completed);
}

TEST(OtaJobs, RestoreKeepsStatesAndDevicesStartOffline) {
  JobBook b;
  JobActions a;
  auto s = spec({"d1", "d2"});
  s.timeoutSeconds = 100;
  b.deviceReady("d1", true, t0, a);
  b.create("j1", s, t0, t0, a);
  b.progress("d1", "", 50, t0 + 1s, a);

  JobBook restored;
  restored.restore(b.jobs(), b.runs("j1"));
  EXPECT_EQ(restored.jobs(), b.jobs());
  EXPECT_EQ(restored.runs("j1"), b.runs("j1"));
  EXPECT_FALSE(restored.ready("d1"));
  ASSERT_NE(restored.activeRun("d1"), nullptr);
  EXPECT_EQ(restored.nextDeadline(), t0 + 100s);
  a.clear();
  restored.deviceReady("d1", true, t0 + 2s, a);
  EXPECT_EQ(of(a, Kind::Offer).size(), 1u);
  EXPECT_TRUE(of(a, Kind::Offer)[0].again);
  // New jobs get later sequence numbers than the restored ones.
  const auto j2 = restored.create("j2", spec({"d2"}), t0, t0 + 3s, a);
  EXPECT_GT(j2.seq, restored.job("j1")->seq);
}

TEST(OtaJobs, UnfinishedJobsUsingAFirmware) {
  JobBook b;
  JobActions a;
  b.create("j1", spec({"d1"}, {"1.5", "2.0"}), t0, t0, a);
  EXPECT_EQ(b.unfinishedJobsUsing("fw-2"), std::vector<std::string>{"j1"});
  EXPECT_TRUE(b.unfinishedJobsUsing("fw-9").empty());
  ASSERT_TRUE(b.cancel("j1", t0, a));
  EXPECT_TRUE(b.unfinishedJobsUsing("fw-2").empty());
}

}  // namespace
}  // namespace fc::server::ota
