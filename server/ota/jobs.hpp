// Upgrade jobs as pure logic (issue 14; docs/ota.md, "Jobs"): calls take the platform time and
// append actions (offer this device its firmware, tell it to stop, persist and announce this job or
// this device's run, set its firmware version) for the owner (JobService) to carry out. No I/O, no
// threads, no clock of its own: unit-tested under made-up time. Not thread-safe.
//
// Per device and job:
//
//   QUEUED ──(job running, device ready, rollout limits allow)──▶ OFFERED
//   OFFERED ──progress %──▶ DOWNLOADING ──downloaded──▶ DOWNLOADED ──installing──▶ INSTALLING
//   any active ──version of the last firmware──▶ SUCCEEDED
//   any active ──version of firmware[step], more to come──▶ OFFERED (step + 1)
//   any active ──failed(code, reason)──▶ QUEUED again while retries remain, else FAILED
//   any active ──deadline (timeoutSeconds after the offer)──▶ QUEUED while retries remain, else TIMED_OUT
//   QUEUED or active ──cancel──▶ CANCELED
//   INSTALLING ──another version reported──▶ as failed ("version-mismatch")
//
// "Active" is OFFERED, DOWNLOADING, DOWNLOADED or INSTALLING. A device takes part in one job at a
// time: while it is active in one job, its runs in other jobs wait QUEUED. A job is SCHEDULED until
// its start time, RUNNING until every run has ended (COMPLETED) or it is CANCELED.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/expected.hpp"
#include "server/core/clock.hpp"
#include "server/ota/download_faults.hpp"
#include "server/ota/ota_part.hpp"

namespace fc::server::ota {

enum class RunState : std::uint8_t {
  Queued,
  Offered,
  Downloading,
  Downloaded,
  Installing,
  Succeeded,
  Failed,
  TimedOut,
  Canceled
};
std::string_view toString(RunState s) noexcept;
std::optional<RunState> parseRunState(std::string_view s) noexcept;
bool isFinal(RunState s) noexcept;
bool isActive(RunState s) noexcept;  // OFFERED … INSTALLING

enum class JobState : std::uint8_t { Scheduled, Running, Completed, Canceled };
std::string_view toString(JobState s) noexcept;
std::optional<JobState> parseJobState(std::string_view s) noexcept;

/// What a job was created with (validated and resolved by the service: devices listed, the start
/// time absolute). `targets` is kept as given, for the API.
struct JobSpec {
  std::vector<std::string> firmwareIds;       // install order
  std::vector<std::string> firmwareVersions;  // the version of each, same order: what the device must report
  std::vector<std::string> deviceIds;         // resolved targets
  std::string productId;                      // the product of the firmware (and devices)
  std::string targetProductId;                // targets.productId, "" when deviceIds were given
  std::vector<std::string> targetDeviceIds;   // targets.deviceIds as given
  std::vector<std::string> versions;          // targets.versions filter as given
  OtaMode mode = OtaMode::Forced;
  std::int64_t timeoutSeconds = 0;  // per device and offer; 0 = none
  std::uint32_t retries = 0;        // further offers after a failure or timeout
  std::uint32_t maxConcurrent = 0;  // active devices at once; 0 = no limit
  double perSecond = 0;             // offers per second; 0 = no limit
  DownloadFaults faults;            // put on every download offer the job makes (docs/ota.md, "Faults")
  bool operator==(const JobSpec&) const = default;
};

struct Job {
  std::string id;
  std::int64_t seq = 0;  // creation order
  JobSpec spec;
  JobState state = JobState::Scheduled;
  core::TimePoint createdAt{};
  core::TimePoint startAt{};
  std::optional<core::TimePoint> finishedAt;  // COMPLETED or CANCELED
  bool operator==(const Job&) const = default;
};

/// One device's part in one job.
struct DeviceRun {
  std::string jobId;
  std::string deviceId;
  RunState state = RunState::Queued;
  std::size_t step = 0;        // index into the job's firmware being installed
  int progress = -1;           // % of the current firmware's download the device reported; -1: none
  std::uint32_t attempts = 0;  // offers made (first + retries); re-offers after a reconnect do not count
  std::string errorCode;       // of the last failure (the device's code, "timeout", "version-mismatch")
  std::string lastError;
  std::string reportedVersion;               // the last version the device reported during the run
  std::optional<core::TimePoint> offeredAt;  // last offer
  std::optional<core::TimePoint> deadline;   // while active with a timeout
  std::optional<core::TimePoint> finishedAt;
  core::TimePoint updatedAt{};
  bool operator==(const DeviceRun&) const = default;
};

struct JobAction {
  enum class Kind : std::uint8_t {
    Offer,       // offer `run`'s firmware[step] to the device (`again`: a re-offer after a reconnect)
    Cancel,      // tell the device to stop its part in `run.jobId`
    RunChanged,  // persist and announce `run`
    JobChanged,  // persist and announce `job`
    SetVersion,  // the device's firmwareVersion is now `version`
  };
  Kind kind;
  Job job;        // JobChanged; also the run's job for Offer/Cancel/RunChanged
  DeviceRun run;  // Offer, Cancel, RunChanged
  bool again = false;
  std::string deviceId;  // SetVersion
  std::string version;   // SetVersion
};
using JobActions = std::vector<JobAction>;

enum class JobError : std::uint8_t { NotFound, AlreadyEnded };
std::string_view toString(JobError e) noexcept;

class JobBook {
 public:
  /// Reloads jobs and runs after a restart; every device starts offline. Call tick() next.
  void restore(std::vector<Job> jobs, std::vector<DeviceRun> runs);
  void clear();

  /// Adds a job whose runs start QUEUED; it runs at once when spec startAt ≤ now.
  Job create(std::string id, JobSpec spec, core::TimePoint startAt, core::TimePoint now, JobActions& out);
  Expected<Job, JobError> cancel(const std::string& jobId, core::TimePoint now, JobActions& out);

  /// The device can take offers (online, and ready when its dialect waits for that). `reoffer`:
  /// a run it is active in is offered again (the dialect's rule for reconnects) — only when the
  /// device was not ready already (it came back since deviceGone, or since a restart).
  void deviceReady(const std::string& deviceId, bool reoffer, core::TimePoint now, JobActions& out);
  void deviceGone(const std::string& deviceId);
  /// The device was deleted: its open runs fail ("device-deleted").
  void deviceDeleted(const std::string& deviceId, core::TimePoint now, JobActions& out);

  // Reports from the device's dialect; `jobId` "" means the device's active run. An unknown job, a
  // device with no active run, or a report that does not fit the state is ignored (false).
  bool progress(const std::string& deviceId, const std::string& jobId, int percent, core::TimePoint now,
                JobActions& out);
  bool downloaded(const std::string& deviceId, const std::string& jobId, core::TimePoint now, JobActions& out);
  bool installing(const std::string& deviceId, const std::string& jobId, core::TimePoint now, JobActions& out);
  bool failed(const std::string& deviceId, const std::string& jobId, std::string code, std::string reason,
              core::TimePoint now, JobActions& out);
  /// Always sets the device's version (SetVersion); moves its active run on when it is the target.
  void versionReported(const std::string& deviceId, const std::string& version, core::TimePoint now, JobActions& out);

  /// Start times, deadlines and rate limits due at `now`.
  void tick(core::TimePoint now, JobActions& out);
  /// The earliest time tick() has work to do.
  std::optional<core::TimePoint> nextDeadline() const;

  const Job* job(const std::string& id) const;
  std::vector<Job> jobs() const;  // creation order
  std::vector<DeviceRun> runs(const std::string& jobId) const;
  const DeviceRun* run(const std::string& jobId, const std::string& deviceId) const;
  /// The run the device is active in, if any.
  const DeviceRun* activeRun(const std::string& deviceId) const;
  /// Jobs not COMPLETED or CANCELED that install `firmwareId`.
  std::vector<std::string> unfinishedJobsUsing(const std::string& firmwareId) const;
  bool ready(const std::string& deviceId) const { return ready_.contains(deviceId); }

 private:
  using RunKey = std::pair<std::string, std::string>;  // job, device
  DeviceRun* findRun(const std::string& deviceId, const std::string& jobId);
  void setRun(DeviceRun& r, RunState s, core::TimePoint now, JobActions& out);
  void offer(Job& j, DeviceRun& r, bool again, core::TimePoint now, JobActions& out);
  void retryOrEnd(Job& j, DeviceRun& r, RunState finalState, std::string code, std::string reason, core::TimePoint now,
                  JobActions& out);
  void pump(core::TimePoint now, JobActions& out);
  void finishIfDone(Job& j, core::TimePoint now, JobActions& out);
  std::size_t activeCount(const std::string& jobId) const;

  std::int64_t nextSeq_ = 1;
  std::map<std::string, Job> jobs_;
  std::map<RunKey, DeviceRun> runs_;
  std::map<std::string, std::string> active_;  // device → job it is active in
  std::set<std::string> ready_;
  std::map<std::string, core::TimePoint> nextOfferAt_;  // job → earliest next offer (perSecond)
};

}  // namespace fc::server::ota
