// OtaJobStore: SQL for the ota_jobs and ota_job_devices tables of migration 5.
#include "storage/ota_job_store.hpp"

#include <string_view>
#include <utility>

namespace fc::storage {
namespace {

constexpr std::string_view kSaveJob =
    "INSERT OR REPLACE INTO ota_jobs (id, seq, spec, state, created_at, start_at, finished_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kSaveRun =
    "INSERT OR REPLACE INTO ota_job_devices (job_id, device_id, state, step, progress, attempts, error_code, "
    "last_error, reported_version, offered_at, deadline, finished_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr std::string_view kLoadJobs =
    "SELECT id, seq, spec, state, created_at, start_at, finished_at FROM ota_jobs ORDER BY seq";
constexpr std::string_view kLoadRuns =
    "SELECT job_id, device_id, state, step, progress, attempts, error_code, last_error, reported_version, "
    "offered_at, deadline, finished_at, updated_at FROM ota_job_devices ORDER BY job_id, device_id";

void bindOptional(Statement& st, int index, const std::optional<std::int64_t>& v) {
  if (v)
    st.bind(index, *v);
  else
    st.bind(index, nullptr);
}

std::optional<std::int64_t> optionalColumn(const Statement& st, int column) {
  if (st.columnIsNull(column)) return std::nullopt;
  return st.columnInt64(column);
}

}  // namespace

OtaJobStore::OtaJobStore(Writer& writer) : writer_(writer) {}

OtaJobSnapshot OtaJobStore::load() {
  OtaJobSnapshot out;
  writer_.read([&out](Database& db) {
    auto& jobs = db.cached(kLoadJobs);
    while (jobs.step()) {
      out.jobs.push_back(OtaJobRow{.id = jobs.columnText(0),
                                   .seq = jobs.columnInt64(1),
                                   .spec = jobs.columnText(2),
                                   .state = jobs.columnText(3),
                                   .createdAt = jobs.columnInt64(4),
                                   .startAt = jobs.columnInt64(5),
                                   .finishedAt = optionalColumn(jobs, 6)});
    }
    jobs.reset();
    auto& runs = db.cached(kLoadRuns);
    while (runs.step()) {
      out.runs.push_back(OtaRunRow{.jobId = runs.columnText(0),
                                   .deviceId = runs.columnText(1),
                                   .state = runs.columnText(2),
                                   .step = runs.columnInt64(3),
                                   .progress = runs.columnInt64(4),
                                   .attempts = runs.columnInt64(5),
                                   .errorCode = runs.columnText(6),
                                   .lastError = runs.columnText(7),
                                   .reportedVersion = runs.columnText(8),
                                   .offeredAt = optionalColumn(runs, 9),
                                   .deadline = optionalColumn(runs, 10),
                                   .finishedAt = optionalColumn(runs, 11),
                                   .updatedAt = runs.columnInt64(12)});
    }
    runs.reset();
  });
  return out;
}

void OtaJobStore::saveJob(OtaJobRow row) {
  writer_.submit([row = std::move(row)](Database& db) {
    auto& st = db.cached(kSaveJob);
    st.bind(1, row.id)
        .bind(2, row.seq)
        .bind(3, row.spec)
        .bind(4, row.state)
        .bind(5, row.createdAt)
        .bind(6, row.startAt);
    bindOptional(st, 7, row.finishedAt);
    st.run();
  });
}

void OtaJobStore::saveRun(OtaRunRow row) {
  writer_.submit([row = std::move(row)](Database& db) {
    auto& st = db.cached(kSaveRun);
    st.bind(1, row.jobId)
        .bind(2, row.deviceId)
        .bind(3, row.state)
        .bind(4, row.step)
        .bind(5, row.progress)
        .bind(6, row.attempts)
        .bind(7, row.errorCode)
        .bind(8, row.lastError)
        .bind(9, row.reportedVersion);
    bindOptional(st, 10, row.offeredAt);
    bindOptional(st, 11, row.deadline);
    bindOptional(st, 12, row.finishedAt);
    st.bind(13, row.updatedAt);
    st.run();
  });
}

void OtaJobStore::removeAll() {
  writer_.submit([](Database& db) {
    db.cached("DELETE FROM ota_job_devices").run();
    db.cached("DELETE FROM ota_jobs").run();
  });
}

void OtaJobStore::whenCommitted(std::function<void()> done) { writer_.whenCommitted(std::move(done)); }

}  // namespace fc::storage
