// Job and run transitions; see the table at the top of jobs.hpp.
#include "server/ota/jobs.hpp"

#include <algorithm>
#include <array>
#include <chrono>

namespace fc::server::ota {
namespace {

constexpr std::array<std::string_view, 9> kRunNames = {
    "QUEUED", "OFFERED", "DOWNLOADING", "DOWNLOADED", "INSTALLING", "SUCCEEDED", "FAILED", "TIMED_OUT", "CANCELED"};
constexpr std::array<std::string_view, 4> kJobNames = {"SCHEDULED", "RUNNING", "COMPLETED", "CANCELED"};
constexpr std::array<std::string_view, 3> kModeNames = {"forced", "optional", "silent"};

template <class E, std::size_t N>
std::optional<E> parseName(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

}  // namespace

std::string_view toString(OtaMode m) noexcept { return kModeNames[static_cast<std::size_t>(m)]; }
std::optional<OtaMode> parseOtaMode(std::string_view s) noexcept { return parseName<OtaMode>(kModeNames, s); }
std::string_view toString(RunState s) noexcept { return kRunNames[static_cast<std::size_t>(s)]; }
std::optional<RunState> parseRunState(std::string_view s) noexcept { return parseName<RunState>(kRunNames, s); }
std::string_view toString(JobState s) noexcept { return kJobNames[static_cast<std::size_t>(s)]; }
std::optional<JobState> parseJobState(std::string_view s) noexcept { return parseName<JobState>(kJobNames, s); }

bool isFinal(RunState s) noexcept {
  return s == RunState::Succeeded || s == RunState::Failed || s == RunState::TimedOut || s == RunState::Canceled;
}
bool isActive(RunState s) noexcept {
  return s == RunState::Offered || s == RunState::Downloading || s == RunState::Downloaded || s == RunState::Installing;
}

std::string_view toString(JobError e) noexcept {
  switch (e) {
    case JobError::NotFound:
      return "no such job";
    case JobError::AlreadyEnded:
      return "the job has already ended";
  }
  return "unknown job error";
}

void JobBook::clear() {
  jobs_.clear();
  runs_.clear();
  active_.clear();
  ready_.clear();
  nextOfferAt_.clear();
}

void JobBook::restore(std::vector<Job> jobs, std::vector<DeviceRun> runs) {
  clear();
  for (auto& j : jobs) {
    nextSeq_ = std::max(nextSeq_, j.seq + 1);
    jobs_.emplace(j.id, std::move(j));
  }
  for (auto& r : runs) {
    if (!jobs_.contains(r.jobId)) continue;
    if (isActive(r.state)) active_[r.deviceId] = r.jobId;
    runs_.emplace(RunKey{r.jobId, r.deviceId}, std::move(r));
  }
}

Job JobBook::create(std::string id, JobSpec spec, core::TimePoint startAt, core::TimePoint now, JobActions& out) {
  Job j{.id = std::move(id),
        .seq = nextSeq_++,
        .spec = std::move(spec),
        .state = JobState::Scheduled,
        .createdAt = now,
        .startAt = startAt};
  if (startAt <= now) j.state = JobState::Running;
  auto& job = jobs_.emplace(j.id, j).first->second;
  out.push_back({JobAction::Kind::JobChanged, job, {}});
  for (const auto& deviceId : job.spec.deviceIds) {
    DeviceRun r{.jobId = job.id, .deviceId = deviceId, .updatedAt = now};
    auto& run = runs_.emplace(RunKey{job.id, deviceId}, r).first->second;
    out.push_back({JobAction::Kind::RunChanged, job, run});
  }
  finishIfDone(job, now, out);
  pump(now, out);
  return jobs_.at(j.id);
}

Expected<Job, JobError> JobBook::cancel(const std::string& jobId, core::TimePoint now, JobActions& out) {
  auto it = jobs_.find(jobId);
  if (it == jobs_.end()) return Unexpected(JobError::NotFound);
  Job& j = it->second;
  if (j.state == JobState::Completed || j.state == JobState::Canceled) return Unexpected(JobError::AlreadyEnded);
  for (auto r = runs_.lower_bound(RunKey{jobId, ""}); r != runs_.end() && r->first.first == jobId; ++r) {
    DeviceRun& run = r->second;
    if (isFinal(run.state)) continue;
    const bool wasActive = isActive(run.state);
    setRun(run, RunState::Canceled, now, out);
    if (wasActive) out.push_back({JobAction::Kind::Cancel, j, run});
  }
  j.state = JobState::Canceled;
  j.finishedAt = now;
  out.push_back({JobAction::Kind::JobChanged, j, {}});
  pump(now, out);  // devices freed from this job may go on with another
  return j;
}

void JobBook::deviceReady(const std::string& deviceId, bool reoffer, core::TimePoint now, JobActions& out) {
  const bool again = !ready_.insert(deviceId).second;  // already ready: no reconnect, nothing to re-offer
  if (reoffer && !again) {
    if (auto a = active_.find(deviceId); a != active_.end()) {
      Job& j = jobs_.at(a->second);
      DeviceRun& r = runs_.at(RunKey{a->second, deviceId});
      offer(j, r, true, now, out);
    }
  }
  pump(now, out);
}

void JobBook::deviceGone(const std::string& deviceId) { ready_.erase(deviceId); }

void JobBook::deviceDeleted(const std::string& deviceId, core::TimePoint now, JobActions& out) {
  ready_.erase(deviceId);
  active_.erase(deviceId);
  for (auto& [key, r] : runs_) {
    if (key.second != deviceId || isFinal(r.state)) continue;
    r.errorCode = "device-deleted";
    r.lastError = "the device was deleted";
    r.deadline.reset();
    setRun(r, RunState::Failed, now, out);
    finishIfDone(jobs_.at(key.first), now, out);
  }
  pump(now, out);
}

DeviceRun* JobBook::findRun(const std::string& deviceId, const std::string& jobId) {
  const auto a = active_.find(deviceId);
  if (a == active_.end()) return nullptr;
  if (!jobId.empty() && jobId != a->second) return nullptr;
  return &runs_.at(RunKey{a->second, deviceId});
}

bool JobBook::progress(const std::string& deviceId, const std::string& jobId, int percent, core::TimePoint now,
                       JobActions& out) {
  DeviceRun* r = findRun(deviceId, jobId);
  if (!r || (r->state != RunState::Offered && r->state != RunState::Downloading)) return false;
  r->progress = std::clamp(percent, 0, 100);
  setRun(*r, RunState::Downloading, now, out);
  return true;
}

bool JobBook::downloaded(const std::string& deviceId, const std::string& jobId, core::TimePoint now, JobActions& out) {
  DeviceRun* r = findRun(deviceId, jobId);
  if (!r || (r->state != RunState::Offered && r->state != RunState::Downloading)) return false;
  r->progress = 100;
  setRun(*r, RunState::Downloaded, now, out);
  return true;
}

bool JobBook::installing(const std::string& deviceId, const std::string& jobId, core::TimePoint now, JobActions& out) {
  DeviceRun* r = findRun(deviceId, jobId);
  if (!r || r->state == RunState::Installing) return false;
  setRun(*r, RunState::Installing, now, out);
  return true;
}

bool JobBook::failed(const std::string& deviceId, const std::string& jobId, std::string code, std::string reason,
                     core::TimePoint now, JobActions& out) {
  DeviceRun* r = findRun(deviceId, jobId);
  if (!r) return false;
  retryOrEnd(jobs_.at(r->jobId), *r, RunState::Failed, std::move(code), std::move(reason), now, out);
  pump(now, out);
  return true;
}

void JobBook::versionReported(const std::string& deviceId, const std::string& version, core::TimePoint now,
                              JobActions& out) {
  out.push_back({.kind = JobAction::Kind::SetVersion, .deviceId = deviceId, .version = version});
  DeviceRun* r = findRun(deviceId, "");
  if (!r) return;
  Job& j = jobs_.at(r->jobId);
  r->reportedVersion = version;
  const auto& versions = j.spec.firmwareVersions;
  if (r->step < versions.size() && version == versions[r->step]) {
    if (r->step + 1 >= versions.size()) {
      r->progress = 100;
      r->deadline.reset();
      active_.erase(deviceId);
      setRun(*r, RunState::Succeeded, now, out);
      finishIfDone(j, now, out);
    } else {
      ++r->step;
      r->progress = -1;
      offer(j, *r, false, now, out);  // the next firmware of the set: same attempt
    }
  } else if (r->state == RunState::Installing) {
    retryOrEnd(j, *r, RunState::Failed, "version-mismatch",
               "the device reports version " + version + " after installing " + versions.at(r->step), now, out);
  } else {
    setRun(*r, r->state, now, out);  // reportedVersion changed
    return;
  }
  pump(now, out);
}

void JobBook::tick(core::TimePoint now, JobActions& out) {
  for (auto& [id, j] : jobs_) {
    if (j.state == JobState::Scheduled && j.startAt <= now) {
      j.state = JobState::Running;
      out.push_back({JobAction::Kind::JobChanged, j, {}});
    }
  }
  for (auto& [key, r] : runs_) {
    if (!isActive(r.state) || !r.deadline || *r.deadline > now) continue;
    Job& j = jobs_.at(key.first);
    out.push_back({JobAction::Kind::Cancel, j, r});
    retryOrEnd(j, r, RunState::TimedOut, "timeout",
               "no success within " + std::to_string(j.spec.timeoutSeconds) + " s of the offer", now, out);
  }
  pump(now, out);
}

std::optional<core::TimePoint> JobBook::nextDeadline() const {
  std::optional<core::TimePoint> next;
  const auto consider = [&next](core::TimePoint t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [id, j] : jobs_)
    if (j.state == JobState::Scheduled) consider(j.startAt);
  for (const auto& [key, r] : runs_)
    if (isActive(r.state) && r.deadline) consider(*r.deadline);
  for (const auto& [jobId, t] : nextOfferAt_) {
    const auto j = jobs_.find(jobId);
    if (j == jobs_.end() || j->second.state != JobState::Running) continue;
    for (auto r = runs_.lower_bound(RunKey{jobId, ""}); r != runs_.end() && r->first.first == jobId; ++r)
      if (r->second.state == RunState::Queued && ready_.contains(r->first.second)) {
        consider(t);
        break;
      }
  }
  return next;
}

void JobBook::setRun(DeviceRun& r, RunState s, core::TimePoint now, JobActions& out) {
  r.state = s;
  r.updatedAt = now;
  if (isFinal(s)) {
    r.finishedAt = now;
    r.deadline.reset();
  }
  out.push_back({JobAction::Kind::RunChanged, jobs_.at(r.jobId), r});
}

void JobBook::offer(Job& j, DeviceRun& r, bool again, core::TimePoint now, JobActions& out) {
  if (!again && r.state == RunState::Queued) ++r.attempts;
  r.offeredAt = now;
  if (j.spec.timeoutSeconds > 0) r.deadline = now + std::chrono::seconds(j.spec.timeoutSeconds);
  if (!again) r.progress = -1;
  active_[r.deviceId] = j.id;
  setRun(r, RunState::Offered, now, out);
  out.push_back({JobAction::Kind::Offer, j, r, again});
}

void JobBook::retryOrEnd(Job& j, DeviceRun& r, RunState finalState, std::string code, std::string reason,
                         core::TimePoint now, JobActions& out) {
  r.errorCode = std::move(code);
  r.lastError = std::move(reason);
  r.deadline.reset();
  active_.erase(r.deviceId);
  if (r.attempts <= j.spec.retries) {
    setRun(r, RunState::Queued, now, out);  // pump offers it again when the limits allow
    return;
  }
  setRun(r, finalState, now, out);
  finishIfDone(j, now, out);
}

std::size_t JobBook::activeCount(const std::string& jobId) const {
  std::size_t n = 0;
  for (auto r = runs_.lower_bound(RunKey{jobId, ""}); r != runs_.end() && r->first.first == jobId; ++r)
    if (isActive(r->second.state)) ++n;
  return n;
}

void JobBook::pump(core::TimePoint now, JobActions& out) {
  std::vector<Job*> running;
  for (auto& [id, j] : jobs_)
    if (j.state == JobState::Running) running.push_back(&j);
  std::sort(running.begin(), running.end(), [](const Job* a, const Job* b) { return a->seq < b->seq; });
  for (Job* j : running) {
    std::size_t active = activeCount(j->id);
    for (auto it = runs_.lower_bound(RunKey{j->id, ""}); it != runs_.end() && it->first.first == j->id; ++it) {
      DeviceRun& r = it->second;
      if (r.state != RunState::Queued || !ready_.contains(r.deviceId) || active_.contains(r.deviceId)) continue;
      if (j->spec.maxConcurrent > 0 && active >= j->spec.maxConcurrent) break;
      if (j->spec.perSecond > 0) {
        auto& next = nextOfferAt_[j->id];
        if (now < next) break;
        next = now + std::chrono::duration_cast<core::Duration>(std::chrono::duration<double>(1.0 / j->spec.perSecond));
      }
      offer(*j, r, false, now, out);
      ++active;
    }
  }
}

void JobBook::finishIfDone(Job& j, core::TimePoint now, JobActions& out) {
  if (j.state != JobState::Running && j.state != JobState::Scheduled) return;
  for (auto r = runs_.lower_bound(RunKey{j.id, ""}); r != runs_.end() && r->first.first == j.id; ++r)
    if (!isFinal(r->second.state)) return;
  j.state = JobState::Completed;
  j.finishedAt = now;
  out.push_back({JobAction::Kind::JobChanged, j, {}});
}

const Job* JobBook::job(const std::string& id) const {
  const auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<Job> JobBook::jobs() const {
  std::vector<Job> out;
  for (const auto& [id, j] : jobs_) out.push_back(j);
  std::sort(out.begin(), out.end(), [](const Job& a, const Job& b) { return a.seq < b.seq; });
  return out;
}

std::vector<DeviceRun> JobBook::runs(const std::string& jobId) const {
  std::vector<DeviceRun> out;
  for (auto r = runs_.lower_bound(RunKey{jobId, ""}); r != runs_.end() && r->first.first == jobId; ++r)
    out.push_back(r->second);
  return out;
}

const DeviceRun* JobBook::run(const std::string& jobId, const std::string& deviceId) const {
  const auto it = runs_.find(RunKey{jobId, deviceId});
  return it == runs_.end() ? nullptr : &it->second;
}

const DeviceRun* JobBook::activeRun(const std::string& deviceId) const {
  const auto a = active_.find(deviceId);
  return a == active_.end() ? nullptr : &runs_.at(RunKey{a->second, deviceId});
}

std::vector<std::string> JobBook::unfinishedJobsUsing(const std::string& firmwareId) const {
  std::vector<std::string> out;
  for (const auto& [id, j] : jobs_) {
    if (j.state == JobState::Completed || j.state == JobState::Canceled) continue;
    if (std::find(j.spec.firmwareIds.begin(), j.spec.firmwareIds.end(), firmwareId) != j.spec.firmwareIds.end())
      out.push_back(id);
  }
  return out;
}

}  // namespace fc::server::ota
