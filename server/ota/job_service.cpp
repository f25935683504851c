// The upgrade jobs service; see job_service.hpp.
#include "server/ota/job_service.hpp"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <future>
#include <set>

#include "protocols/common/overloaded.hpp"
#include "server/core/platform.hpp"
#include "server/core/random.hpp"
#include "server/ota/downloads.hpp"
#include "server/ota/firmware_repository.hpp"
#include "storage/ota_job_store.hpp"

namespace fc::server::ota {
namespace {

using core::Errc;
using core::Failure;
using nlohmann::json;

json optionalTime(const std::optional<core::TimePoint>& t) { return t ? json(core::isoTime(*t)) : json(nullptr); }
std::optional<std::int64_t> optionalMillis(const std::optional<core::TimePoint>& t) {
  if (!t) return std::nullopt;
  return core::toMillis(*t);
}
std::optional<core::TimePoint> optionalTimePoint(const std::optional<std::int64_t>& ms) {
  if (!ms) return std::nullopt;
  return core::fromMillis(*ms);
}

json specJson(const JobSpec& s) {
  return {
      {"firmwareIds", s.firmwareIds}, {"firmwareVersions", s.firmwareVersions}, {"deviceIds", s.deviceIds},
      {"productId", s.productId},     {"targetProductId", s.targetProductId},   {"targetDeviceIds", s.targetDeviceIds},
      {"versions", s.versions},       {"mode", std::string(toString(s.mode))},  {"timeoutSeconds", s.timeoutSeconds},
      {"retries", s.retries},         {"maxConcurrent", s.maxConcurrent},       {"perSecond", s.perSecond},
      {"faults", toJson(s.faults)}};
}

JobSpec specOf(const json& j) {
  JobSpec s;
  s.firmwareIds = j.value("firmwareIds", std::vector<std::string>{});
  s.firmwareVersions = j.value("firmwareVersions", std::vector<std::string>{});
  s.deviceIds = j.value("deviceIds", std::vector<std::string>{});
  s.productId = j.value("productId", "");
  s.targetProductId = j.value("targetProductId", "");
  s.targetDeviceIds = j.value("targetDeviceIds", std::vector<std::string>{});
  s.versions = j.value("versions", std::vector<std::string>{});
  s.mode = parseOtaMode(j.value("mode", "forced")).value_or(OtaMode::Forced);
  s.timeoutSeconds = j.value("timeoutSeconds", std::int64_t{0});
  s.retries = j.value("retries", std::uint32_t{0});
  s.maxConcurrent = j.value("maxConcurrent", std::uint32_t{0});
  s.perSecond = j.value("perSecond", 0.0);
  if (j.contains("faults"))
    if (auto faults = parseFaults(j["faults"])) s.faults = *faults;  // stored by this code: valid
  return s;
}

storage::OtaJobRow rowOf(const Job& j) {
  return {.id = j.id,
          .seq = j.seq,
          .spec = specJson(j.spec).dump(),
          .state = std::string(toString(j.state)),
          .createdAt = core::toMillis(j.createdAt),
          .startAt = core::toMillis(j.startAt),
          .finishedAt = optionalMillis(j.finishedAt)};
}

storage::OtaRunRow rowOf(const DeviceRun& r) {
  return {.jobId = r.jobId,
          .deviceId = r.deviceId,
          .state = std::string(toString(r.state)),
          .step = static_cast<std::int64_t>(r.step),
          .progress = r.progress,
          .attempts = r.attempts,
          .errorCode = r.errorCode,
          .lastError = r.lastError,
          .reportedVersion = r.reportedVersion,
          .offeredAt = optionalMillis(r.offeredAt),
          .deadline = optionalMillis(r.deadline),
          .finishedAt = optionalMillis(r.finishedAt),
          .updatedAt = core::toMillis(r.updatedAt)};
}

core::OtaDeviceChanged eventOf(const Job& j, const DeviceRun& r) {
  const bool inRange = r.step < j.spec.firmwareIds.size();
  return {r.jobId,
          r.deviceId,
          std::string(toString(r.state)),
          static_cast<std::int64_t>(r.step),
          inRange ? j.spec.firmwareIds[r.step] : "",
          inRange && r.step < j.spec.firmwareVersions.size() ? j.spec.firmwareVersions[r.step] : "",
          r.progress,
          r.attempts,
          r.errorCode,
          r.lastError,
          r.updatedAt};
}

}  // namespace

JobService::JobService(core::Platform& platform, std::shared_ptr<FirmwareRepository> repository,
                       std::shared_ptr<DownloadLedger> ledger, storage::OtaJobStore* store, const OtaPartCatalog& parts,
                       UrlsOf urls)
    : platform_(platform),
      repository_(std::move(repository)),
      ledger_(std::move(ledger)),
      store_(store),
      parts_(parts),
      urls_(std::move(urls)) {
  subscription_ = platform_.subscribe([this](const core::Event& e) { onEvent(e); });
  repository_->setDeleteGuard([this](const Firmware& f) -> std::optional<std::string> {
    std::lock_guard lock(mutex_);
    const auto jobs = book_.unfinishedJobsUsing(f.id);
    if (jobs.empty()) return std::nullopt;
    return "firmware '" + f.id + "' is installed by unfinished job " + jobs.front() +
           (jobs.size() > 1 ? " (and " + std::to_string(jobs.size() - 1) + " more)" : "");
  });
}

JobService::~JobService() {
  platform_.unsubscribe(subscription_);
  repository_->setDeleteGuard({});
  // Effects wait for commits on the writer's thread and use this object: let them finish.
  if (store_) {
    std::promise<void> drained;
    store_->whenCommitted([&drained] { drained.set_value(); });
    drained.get_future().wait();
  }
}

void JobService::load(const storage::OtaJobSnapshot& snapshot) {
  std::vector<Job> jobs;
  for (const auto& row : snapshot.jobs) {
    const auto spec = json::parse(row.spec, nullptr, false);
    jobs.push_back(Job{.id = row.id,
                       .seq = row.seq,
                       .spec = specOf(spec.is_object() ? spec : json::object()),
                       .state = parseJobState(row.state).value_or(JobState::Canceled),
                       .createdAt = core::fromMillis(row.createdAt),
                       .startAt = core::fromMillis(row.startAt),
                       .finishedAt = optionalTimePoint(row.finishedAt)});
  }
  std::vector<DeviceRun> runs;
  for (const auto& row : snapshot.runs) {
    runs.push_back(DeviceRun{.jobId = row.jobId,
                             .deviceId = row.deviceId,
                             .state = parseRunState(row.state).value_or(RunState::Canceled),
                             .step = static_cast<std::size_t>(row.step),
                             .progress = static_cast<int>(row.progress),
                             .attempts = static_cast<std::uint32_t>(row.attempts),
                             .errorCode = row.errorCode,
                             .lastError = row.lastError,
                             .reportedVersion = row.reportedVersion,
                             .offeredAt = optionalTimePoint(row.offeredAt),
                             .deadline = optionalTimePoint(row.deadline),
                             .finishedAt = optionalTimePoint(row.finishedAt),
                             .updatedAt = core::fromMillis(row.updatedAt)});
  }
  std::lock_guard lock(mutex_);
  book_.restore(std::move(jobs), std::move(runs));
}

Expected<Job, Failure> JobService::create(const JobRequest& req) {
  if (req.firmwareIds.empty()) return Unexpected(Failure{Errc::Invalid, "firmwareIds: at least one firmware"});
  JobSpec spec;
  std::set<std::string> seenFirmware;
  for (const auto& id : req.firmwareIds) {
    const auto f = repository_->get(id);
    if (!f) return Unexpected(Failure{Errc::Invalid, "no firmware '" + id + "'"});
    if (!seenFirmware.insert(id).second)
      return Unexpected(Failure{Errc::Invalid, "firmware '" + id + "' is listed twice"});
    if (spec.productId.empty()) spec.productId = f->productId;
    if (f->productId != spec.productId)
      return Unexpected(Failure{Errc::Invalid, "firmware '" + id + "' is for product " + f->productId + ", not " +
                                                   spec.productId + ": a job's firmware are for one product"});
    spec.firmwareIds.push_back(id);
    spec.firmwareVersions.push_back(f->version);
  }
  const auto product = platform_.product(spec.productId);
  if (!product) return Unexpected(Failure{Errc::Invalid, "the firmware's product '" + spec.productId + "' is gone"});
  if (!parts_.otaPart(product->dialect))
    return Unexpected(
        Failure{Errc::Invalid, "the " + product->dialect + " dialect (product " + product->id + ") does no OTA yet"});

  std::vector<core::Device> candidates;
  if (!req.productId.empty()) {
    if (req.productId != spec.productId)
      return Unexpected(Failure{
          Errc::Invalid, "targets.productId '" + req.productId + "' is not the firmware's product " + spec.productId});
    candidates = platform_.devices(spec.productId);
    spec.targetProductId = req.productId;
  } else {
    std::set<std::string> seen;
    for (const auto& id : req.deviceIds) {
      if (!seen.insert(id).second) continue;
      auto d = platform_.device(id);
      if (!d) return Unexpected(Failure{Errc::Invalid, "no device '" + id + "'"});
      if (d->productId != spec.productId)
        return Unexpected(Failure{Errc::Invalid, "device '" + id + "' is of product " + d->productId +
                                                     ", the firmware of " + spec.productId});
      candidates.push_back(std::move(*d));
    }
    spec.targetDeviceIds = req.deviceIds;
  }
  spec.versions = req.versions;
  for (const auto& d : candidates) {
    if (!req.versions.empty() &&
        std::find(req.versions.begin(), req.versions.end(), d.firmwareVersion) == req.versions.end())
      continue;
    spec.deviceIds.push_back(d.id);
  }
  if (spec.deviceIds.empty()) return Unexpected(Failure{Errc::Invalid, "no device matches the job's targets"});
  spec.mode = req.mode;
  spec.timeoutSeconds = req.timeoutSeconds;
  spec.retries = req.retries;
  spec.maxConcurrent = req.maxConcurrent;
  spec.perSecond = req.perSecond;
  spec.faults = req.faults;

  const auto now = platform_.clock().now();
  const auto startAt = req.startAt.value_or(now) + std::chrono::seconds(req.upgradeDelaySeconds);
  JobActions actions;
  Job job;
  {
    std::lock_guard lock(mutex_);
    job = book_.create("job-" + core::randomHex(6), std::move(spec), startAt, now, actions);
  }
  spdlog::info("ota: job {} created for {} device(s), {} firmware", job.id, job.spec.deviceIds.size(),
               job.spec.firmwareIds.size());
  carryOut(std::move(actions));
  return job;
}

Expected<Job, Failure> JobService::cancel(const std::string& jobId) {
  JobActions actions;
  Expected<Job, JobError> r = Unexpected(JobError::NotFound);
  {
    std::lock_guard lock(mutex_);
    r = book_.cancel(jobId, platform_.clock().now(), actions);
  }
  if (!r) {
    if (r.error() == JobError::NotFound) return Unexpected(Failure{Errc::NotFound, "no job '" + jobId + "'"});
    return Unexpected(Failure{Errc::Conflict, "job " + jobId + " has already ended"});
  }
  carryOut(std::move(actions));
  return *r;
}

std::vector<Job> JobService::jobs() const {
  std::lock_guard lock(mutex_);
  return book_.jobs();
}

std::optional<Job> JobService::job(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const Job* j = book_.job(id);
  if (!j) return std::nullopt;
  return *j;
}

std::optional<std::vector<DeviceRun>> JobService::runs(const std::string& jobId) const {
  std::lock_guard lock(mutex_);
  if (!book_.job(jobId)) return std::nullopt;
  return book_.runs(jobId);
}

json JobService::toJson(const Job& j) const {
  const auto runs = this->runs(j.id).value_or(std::vector<DeviceRun>{});
  json counts = json::object();
  for (auto s : {RunState::Queued, RunState::Offered, RunState::Downloading, RunState::Downloaded, RunState::Installing,
                 RunState::Succeeded, RunState::Failed, RunState::TimedOut, RunState::Canceled})
    counts[std::string(toString(s))] = 0;
  std::size_t finished = 0;
  for (const auto& r : runs) {
    counts[std::string(toString(r.state))] = counts[std::string(toString(r.state))].get<int>() + 1;
    if (isFinal(r.state)) ++finished;
  }
  json targets = json::object();
  if (!j.spec.targetProductId.empty())
    targets["productId"] = j.spec.targetProductId;
  else
    targets["deviceIds"] = j.spec.targetDeviceIds;
  if (!j.spec.versions.empty()) targets["versions"] = j.spec.versions;
  return {{"id", j.id},
          {"state", std::string(toString(j.state))},
          {"productId", j.spec.productId},
          {"firmwareIds", j.spec.firmwareIds},
          {"targets", targets},
          {"deviceIds", j.spec.deviceIds},
          {"mode", std::string(toString(j.spec.mode))},
          {"startAt", core::isoTime(j.startAt)},
          {"timeoutSeconds", j.spec.timeoutSeconds},
          {"retries", j.spec.retries},
          {"maxConcurrent", j.spec.maxConcurrent},
          {"perSecond", j.spec.perSecond},
          {"faults", ota::toJson(j.spec.faults)},
          {"createdAt", core::isoTime(j.createdAt)},
          {"finishedAt", optionalTime(j.finishedAt)},
          {"counts", counts},
          {"total", runs.size()},
          {"progress", runs.empty() ? 100 : static_cast<int>(finished * 100 / runs.size())}};
}

json JobService::toJson(const Job& j, const DeviceRun& r) const {
  const bool inRange = r.step < j.spec.firmwareIds.size();
  const std::string firmwareId = inRange ? j.spec.firmwareIds[r.step] : "";
  std::uint64_t bytes = 0;
  for (const auto& id : j.spec.firmwareIds) bytes += ledger_->stats({r.deviceId, j.id, id}).bytesServed;
  json progress = r.progress < 0 ? json(nullptr) : json(r.progress);
  if (r.progress < 0 && isActive(r.state) && inRange) {
    // The dialect reported none: what the hosting served this device of the current firmware.
    if (const auto f = repository_->get(firmwareId); f && f->size > 0) {
      const auto served = ledger_->stats({r.deviceId, j.id, firmwareId}).bytesServed;
      progress = static_cast<int>(std::min<std::uint64_t>(100, served * 100 / f->size));
    }
  }
  return {{"jobId", j.id},
          {"deviceId", r.deviceId},
          {"state", std::string(toString(r.state))},
          {"step", r.step},
          {"firmwareId", firmwareId},
          {"version", inRange ? j.spec.firmwareVersions[r.step] : ""},
          {"progress", progress},
          {"bytesServed", bytes},
          {"attempts", r.attempts},
          {"errorCode", r.errorCode.empty() ? json(nullptr) : json(r.errorCode)},
          {"lastError", r.lastError.empty() ? json(nullptr) : json(r.lastError)},
          {"reportedVersion", r.reportedVersion.empty() ? json(nullptr) : json(r.reportedVersion)},
          {"offeredAt", optionalTime(r.offeredAt)},
          {"deadline", optionalTime(r.deadline)},
          {"finishedAt", optionalTime(r.finishedAt)},
          {"updatedAt", core::isoTime(r.updatedAt)}};
}

void JobService::tick() {
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    const auto now = platform_.clock().now();
    const auto next = book_.nextDeadline();
    if (!next || *next > now) return;
    book_.tick(now, actions);
  }
  carryOut(std::move(actions));
}

void JobService::reset() {
  {
    std::lock_guard lock(mutex_);
    book_.clear();
    tokens_.clear();
  }
  if (store_) store_->removeAll();
}

OtaPart* JobService::partOf(const core::Device& d) const {
  const auto product = platform_.product(d.productId);
  return product ? parts_.otaPart(product->dialect) : nullptr;
}

void JobService::onEvent(const core::Event& e) {
  JobActions actions;
  if (const auto* p = std::get_if<core::PresenceChanged>(&e)) {
    OtaPart* part = partOf(p->device);
    if (!part) return;
    std::lock_guard lock(mutex_);
    if (!p->device.online) {
      book_.deviceGone(p->device.id);
      return;
    }
    if (part->waitsForReady()) return;
    book_.deviceReady(p->device.id, part->reofferOnReconnect(), platform_.clock().now(), actions);
  } else if (const auto* d = std::get_if<core::DeviceDeleted>(&e)) {
    std::lock_guard lock(mutex_);
    book_.deviceDeleted(d->device.id, platform_.clock().now(), actions);
  } else {
    return;
  }
  carryOut(std::move(actions));
}

void JobService::ready(const std::string& deviceId) {
  const auto d = platform_.device(deviceId);
  if (!d) return;
  OtaPart* part = partOf(*d);
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    book_.deviceReady(deviceId, part ? part->reofferOnReconnect() : true, platform_.clock().now(), actions);
  }
  carryOut(std::move(actions));
}

void JobService::progress(const std::string& deviceId, int percent, const std::string& jobId) {
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    book_.progress(deviceId, jobId, percent, platform_.clock().now(), actions);
  }
  carryOut(std::move(actions));
}

void JobService::downloaded(const std::string& deviceId, const std::string& jobId) {
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    book_.downloaded(deviceId, jobId, platform_.clock().now(), actions);
  }
  carryOut(std::move(actions));
}

void JobService::installing(const std::string& deviceId, const std::string& jobId) {
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    book_.installing(deviceId, jobId, platform_.clock().now(), actions);
  }
  carryOut(std::move(actions));
}

void JobService::failed(const std::string& deviceId, std::string code, std::string reason, const std::string& jobId) {
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    if (!book_.failed(deviceId, jobId, code, reason, platform_.clock().now(), actions)) return;
  }
  spdlog::info("ota: device {} reports failure {} ({})", deviceId, code, reason);
  carryOut(std::move(actions));
}

void JobService::versionReported(const std::string& deviceId, std::string version, std::string module) {
  JobActions actions;
  {
    std::lock_guard lock(mutex_);
    book_.versionReported(deviceId, version, platform_.clock().now(), actions);
  }
  if (!module.empty())  // a module's version is not the device's
    std::erase_if(actions, [](const JobAction& a) { return a.kind == JobAction::Kind::SetVersion; });
  carryOut(std::move(actions));
}

std::optional<OtaOffer> JobService::currentOffer(const std::string& deviceId) {
  ready(deviceId);
  Job job;
  DeviceRun run;
  {
    std::lock_guard lock(mutex_);
    const DeviceRun* r = book_.activeRun(deviceId);
    if (!r) return std::nullopt;
    run = *r;
    job = *book_.job(r->jobId);
  }
  return buildOffer(job, run, false);
}

std::optional<OtaOffer> JobService::buildOffer(const Job& j, const DeviceRun& r, bool again) {
  OtaOffer offer{.jobId = j.id,
                 .deviceId = r.deviceId,
                 .mode = j.spec.mode,
                 .step = r.step,
                 .attempt = r.attempts,
                 .again = again};
  for (const auto& id : j.spec.firmwareIds) {
    const auto f = repository_->get(id);
    if (!f) return std::nullopt;
    std::string token;
    {
      std::lock_guard lock(mutex_);
      auto& t = tokens_[{j.id, r.deviceId, id}];
      if (t.empty() || !ledger_->offer(t)) t = ledger_->issue(id, r.deviceId, j.id, j.spec.faults).token;
      token = t;
    }
    const auto urls = urls_(Offer{token, id, r.deviceId, j.id});
    offer.firmware.push_back(OfferedFirmware{.firmwareId = id,
                                             .version = f->version,
                                             .name = f->name,
                                             .module = f->module,
                                             .size = f->size,
                                             .md5 = f->md5,
                                             .sha1 = f->sha1,
                                             .sha256 = f->sha256,
                                             .token = token,
                                             .httpUrl = urls.http,
                                             .httpsUrl = urls.https});
  }
  if (offer.step >= offer.firmware.size()) return std::nullopt;
  return offer;
}

void JobService::whenCommitted(std::function<void()> done) {
  if (store_)
    store_->whenCommitted(std::move(done));
  else
    done();
}

void JobService::carryOut(JobActions actions) {
  struct Effects {
    std::vector<std::pair<JobAction, bool>> sends;  // offer (true) or cancel (false)
    std::vector<core::Event> events;
  };
  auto effects = std::make_shared<Effects>();
  for (auto& a : actions) {
    switch (a.kind) {
      case JobAction::Kind::JobChanged:
        if (store_) store_->saveJob(rowOf(a.job));
        effects->events.push_back(core::OtaJobChanged{a.job.id, std::string(toString(a.job.state)),
                                                      a.job.finishedAt.value_or(platform_.clock().now())});
        break;
      case JobAction::Kind::RunChanged:
        if (store_) store_->saveRun(rowOf(a.run));
        effects->events.push_back(eventOf(a.job, a.run));
        break;
      case JobAction::Kind::SetVersion:
        if (auto d = platform_.device(a.deviceId); d && d->firmwareVersion != a.version)
          (void)platform_.updateDevice(a.deviceId, json{{"firmwareVersion", a.version}});
        break;
      case JobAction::Kind::Offer:
        effects->sends.emplace_back(std::move(a), true);
        break;
      case JobAction::Kind::Cancel:
        effects->sends.emplace_back(std::move(a), false);
        break;
    }
  }
  auto run = [this, effects] {
    for (auto& [a, isOffer] : effects->sends) {
      const auto device = platform_.device(a.run.deviceId);
      if (!device) continue;
      OtaPart* part = partOf(*device);
      if (!part) continue;
      if (!isOffer) {
        part->cancel(*device, a.run.jobId);
        continue;
      }
      if (auto offer = buildOffer(a.job, a.run, a.again)) {
        spdlog::info("ota: offering {} (step {} of {}) to device {} for job {}", offer->current().firmwareId,
                     offer->step + 1, offer->firmware.size(), device->id, a.job.id);
        part->offer(*device, *offer);
      }
    }
    platform_.events().publish(effects->events);
  };
  if (store_)
    store_->whenCommitted(std::move(run));
  else
    run();
}

}  // namespace fc::server::ota
