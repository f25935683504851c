// The upgrade jobs service (issue 14; docs/ota.md, "Jobs"): the pure JobBook (jobs.hpp) behind one
// mutex, with what it needs around it — targets resolved against the platform, firmware from the
// repository, download offers from the ledger, every transition written to storage::OtaJobStore,
// and offers, cancels and ota.* events sent only once that write is committed. It is the
// OtaReporter of every dialect's OtaPart, listens to presence on the platform's event bus, and
// guards firmware deletion (409 while an unfinished job installs it).
//
// Threads: every call is thread-safe. Side effects (offers through a dialect's part, events) run
// outside the service's lock, on the storage writer's thread once the change is committed.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "protocols/common/expected.hpp"
#include "server/core/events.hpp"
#include "server/core/model.hpp"
#include "server/ota/jobs.hpp"
#include "server/ota/ota_part.hpp"

namespace fc::storage {
class OtaJobStore;
struct OtaJobSnapshot;
}  // namespace fc::storage

namespace fc::server::core {
class Platform;
}

namespace fc::server::ota {

class FirmwareRepository;
class DownloadLedger;
struct Offer;

/// A job as the API asks for it, before its targets are resolved.
struct JobRequest {
  std::vector<std::string> firmwareIds;
  std::vector<std::string> deviceIds;  // targets.deviceIds, or
  std::string productId;               // targets.productId (every device of the product)
  std::vector<std::string> versions;   // only devices whose firmwareVersion is one of these (empty: all)
  OtaMode mode = OtaMode::Forced;
  std::optional<core::TimePoint> startAt;
  std::int64_t upgradeDelaySeconds = 0;  // after startAt, or after now
  std::int64_t timeoutSeconds = 0;
  std::uint32_t retries = 0;
  std::uint32_t maxConcurrent = 0;
  double perSecond = 0;
  DownloadFaults faults;
};

/// The download URLs of an offer on the public bases (the HTTP side knows them).
struct OfferUrls {
  std::string http;
  std::string https;
};

class JobService final : public OtaReporter {
 public:
  using UrlsOf = std::function<OfferUrls(const Offer&)>;

  /// `store` may be null (tests): changes then take effect at once.
  JobService(core::Platform& platform, std::shared_ptr<FirmwareRepository> repository,
             std::shared_ptr<DownloadLedger> ledger, storage::OtaJobStore* store, const OtaPartCatalog& parts,
             UrlsOf urls);
  ~JobService() override;
  JobService(const JobService&) = delete;
  JobService& operator=(const JobService&) = delete;

  /// Rebuilds the jobs of an earlier run (devices start offline). Call before devices connect.
  void load(const storage::OtaJobSnapshot& snapshot);

  /// Validates and creates (422 for firmware, devices or a dialect that do not fit).
  Expected<Job, core::Failure> create(const JobRequest& request);
  /// 404 unknown, 409 already ended.
  Expected<Job, core::Failure> cancel(const std::string& jobId);
  /// Runs `done` once every change made so far is stored, and its offers and events are out
  /// (on the storage writer's thread; at once without a store).
  void whenCommitted(std::function<void()> done);
  std::vector<Job> jobs() const;
  std::optional<Job> job(const std::string& id) const;
  std::optional<std::vector<DeviceRun>> runs(const std::string& jobId) const;

  /// {"id","state","firmwareIds","targets","mode",…,"counts","total","progress"}
  nlohmann::json toJson(const Job& j) const;
  /// {"deviceId","state","step","firmwareId","version","progress","bytesServed",…}: progress
  /// reported by the device, else from the bytes the hosting served it for the current firmware.
  nlohmann::json toJson(const Job& j, const DeviceRun& r) const;

  /// Start times, deadlines and rollout limits on the platform clock (the scheduler; clock changes).
  void tick();
  /// Admin reset: every job goes.
  void reset();

  // OtaReporter
  void ready(const std::string& deviceId) override;
  void progress(const std::string& deviceId, int percent, const std::string& jobId = {}) override;
  void downloaded(const std::string& deviceId, const std::string& jobId = {}) override;
  void installing(const std::string& deviceId, const std::string& jobId = {}) override;
  void failed(const std::string& deviceId, std::string code, std::string reason,
              const std::string& jobId = {}) override;
  void versionReported(const std::string& deviceId, std::string version, std::string module = {}) override;
  std::optional<OtaOffer> currentOffer(const std::string& deviceId) override;

 private:
  void onEvent(const core::Event& e);
  OtaPart* partOf(const core::Device& d) const;
  /// Stores what `actions` changed, then (after the commit) carries out offers, cancels and events.
  void carryOut(JobActions actions);
  std::optional<OtaOffer> buildOffer(const Job& j, const DeviceRun& r, bool again);

  core::Platform& platform_;
  std::shared_ptr<FirmwareRepository> repository_;
  std::shared_ptr<DownloadLedger> ledger_;
  storage::OtaJobStore* store_;
  const OtaPartCatalog& parts_;
  UrlsOf urls_;
  std::uint64_t subscription_ = 0;

  mutable std::mutex mutex_;
  JobBook book_;
  std::map<std::tuple<std::string, std::string, std::string>, std::string> tokens_;  // (job, device, fw) → offer token
};

}  // namespace fc::server::ota
