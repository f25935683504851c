// OtaJobStore — the upgrade jobs' rows (migration 5): one per job and one per device and job, each
// written whole (upsert) on every transition through the storage writer, so the answer or event
// that follows a transition can wait for its commit (whenCommitted).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/writer.hpp"

namespace fc::storage {

struct OtaJobRow {
  std::string id;
  std::int64_t seq = 0;
  std::string spec;  ///< JSON text (the jobs service's form)
  std::string state;
  std::int64_t createdAt = 0;  ///< ms since the Unix epoch
  std::int64_t startAt = 0;
  std::optional<std::int64_t> finishedAt;
  bool operator==(const OtaJobRow&) const = default;
};

struct OtaRunRow {
  std::string jobId;
  std::string deviceId;
  std::string state;
  std::int64_t step = 0;
  std::int64_t progress = -1;
  std::int64_t attempts = 0;
  std::string errorCode;
  std::string lastError;
  std::string reportedVersion;
  std::optional<std::int64_t> offeredAt;
  std::optional<std::int64_t> deadline;
  std::optional<std::int64_t> finishedAt;
  std::int64_t updatedAt = 0;
  bool operator==(const OtaRunRow&) const = default;
};

struct OtaJobSnapshot {
  std::vector<OtaJobRow> jobs;  ///< in seq order
  std::vector<OtaRunRow> runs;
};

class OtaJobStore {
 public:
  /// The writer's database must have been migrated (storage::migrate).
  explicit OtaJobStore(Writer& writer);

  /// Every job and run. Synchronous: for startup and tests.
  OtaJobSnapshot load();
  void saveJob(OtaJobRow row);
  void saveRun(OtaRunRow row);
  void removeAll();
  /// Writer::whenCommitted.
  void whenCommitted(std::function<void()> done);

 private:
  Writer& writer_;
};

}  // namespace fc::storage
