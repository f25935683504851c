// OtaJobStore (migration 5): rows round-trip with every field, upserts replace in place, a run
// goes with its job, removeAll empties both tables.
#include "storage/ota_job_store.hpp"

#include <gtest/gtest.h>

#include "storage/migrations.hpp"
#include "tests/unit/storage/test_support.hpp"

namespace fc::storage {
namespace {

class OtaJobStoreTest : public ::testing::Test {
 protected:
  OtaJobStoreTest() { migrate(db_); }

  Database db_ = Database::open(":memory:");
  test::ErrorLog errors_;
  Writer writer_{db_, errors_.handler()};
  OtaJobStore store_{writer_};
};

OtaJobRow job(std::string id, std::int64_t seq) {
  return {.id = std::move(id),
          .seq = seq,
          .spec = R"({"firmwareIds":["fw-1"]})",
          .state = "RUNNING",
          .createdAt = 1000,
          .startAt = 2000,
          .finishedAt = std::nullopt};
}

OtaRunRow run(std::string jobId, std::string deviceId) {
  return {.jobId = std::move(jobId),
          .deviceId = std::move(deviceId),
          .state = "DOWNLOADING",
          .step = 1,
          .progress = 42,
          .attempts = 2,
          .errorCode = "-2",
          .lastError = "download failed",
          .reportedVersion = "1.0",
          .offeredAt = 3000,
          .deadline = 4000,
          .finishedAt = std::nullopt,
          .updatedAt = 3500};
}

TEST_F(OtaJobStoreTest, EmptyLoadsNothing) {
  const auto s = store_.load();
  EXPECT_TRUE(s.jobs.empty());
  EXPECT_TRUE(s.runs.empty());
}

TEST_F(OtaJobStoreTest, EveryFieldRoundTripsAndUpsertsReplace) {
  store_.saveJob(job("j2", 2));
  store_.saveJob(job("j1", 1));
  store_.saveRun(run("j1", "d1"));
  auto s = store_.load();
  ASSERT_EQ(s.jobs.size(), 2u);
  EXPECT_EQ(s.jobs[0], job("j1", 1));  // in seq order
  ASSERT_EQ(s.runs.size(), 1u);
  EXPECT_EQ(s.runs[0], run("j1", "d1"));

  auto j = job("j1", 1);
  j.state = "COMPLETED";
  j.finishedAt = 9000;
  store_.saveJob(j);
  auto r = run("j1", "d1");
  r.state = "SUCCEEDED";
  r.deadline.reset();
  r.finishedAt = 9000;
  store_.saveRun(r);
  s = store_.load();
  EXPECT_EQ(s.jobs[0], j);
  ASSERT_EQ(s.runs.size(), 1u);
  EXPECT_EQ(s.runs[0], r);
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(OtaJobStoreTest, RemoveAllEmptiesBoth) {
  store_.saveJob(job("j1", 1));
  store_.saveRun(run("j1", "d1"));
  store_.removeAll();
  const auto s = store_.load();
  EXPECT_TRUE(s.jobs.empty());
  EXPECT_TRUE(s.runs.empty());
}

TEST_F(OtaJobStoreTest, ARunNeedsItsJob) {
  store_.saveRun(run("nope", "d1"));
  writer_.flush();
  EXPECT_FALSE(errors_.messages().empty());
  EXPECT_TRUE(store_.load().runs.empty());
}

}  // namespace
}  // namespace fc::storage
