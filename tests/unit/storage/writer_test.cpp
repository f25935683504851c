// Tests of the single writer: group commit, ordering, callbacks after commit, savepoint isolation
// of failing operations, flush/read/stop, and many submitting threads.
#include "storage/writer.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/unit/storage/test_support.hpp"

namespace fc::storage {
namespace {

constexpr std::string_view kSchema = "CREATE TABLE t (id INTEGER PRIMARY KEY, source INTEGER, n INTEGER)";

Writer::Op insert(int source, int n) {
  return [source, n](Database& db) {
    db.cached("INSERT INTO t (source, n) VALUES (?1, ?2)").bind(1, source).bind(2, n).run();
  };
}

std::vector<int> column(Database& db, std::string_view sql) {
  std::vector<int> out;
  Statement st(db, sql);
  while (st.step()) out.push_back(st.columnInt(0));
  return out;
}

int countRows(Database& db) { return column(db, "SELECT count(*) FROM t").at(0); }

/// Holds the writer thread inside one operation, so that what is submitted meanwhile is
/// guaranteed to end up together in the next batch.
class Gate {
 public:
  Writer::Op op() {
    return [this](Database&) {
      started_.set_value();
      released_.get_future().wait();
    };
  }
  void waitUntilHeld() { started_.get_future().wait(); }
  void release() { released_.set_value(); }

 private:
  std::promise<void> started_;
  std::promise<void> released_;
};

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override { db_.exec(kSchema); }

  Database db_ = Database::open(":memory:");
  test::ErrorLog errors_;
};

TEST_F(WriterTest, OpsQueuedTogetherCommitInOneTransactionInOrder) {
  std::atomic<int> commits{0};
  sqlite3_commit_hook(
      db_.handle(),
      [](void* counter) {
        static_cast<std::atomic<int>*>(counter)->fetch_add(1);
        return 0;
      },
      &commits);

  Writer writer(db_, errors_.handler());
  Gate gate;
  writer.submit(gate.op());
  gate.waitUntilHeld();
  for (int i = 0; i < 100; ++i) writer.submit(insert(0, i));
  gate.release();
  writer.flush();

  EXPECT_EQ(commits.load(), 2);  // the gate's batch, then all 100 inserts at once
  const auto stats = writer.stats();
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.ops, 101u);
  EXPECT_EQ(stats.failedOps, 0u);
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) expected[i] = i;
  writer.read([&](Database& db) { EXPECT_EQ(column(db, "SELECT n FROM t ORDER BY id"), expected); });
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(WriterTest, OpsRunInsideATransaction) {
  Writer writer(db_, errors_.handler());
  std::atomic<bool> inside{false};
  writer.submit([&](Database& db) { inside = db.inTransaction(); });
  writer.flush();
  EXPECT_TRUE(inside.load());
}

TEST(Writer, CallbacksRunAfterCommitInTheOrderQueued) {
  test::TempDir dir;
  const auto path = dir.file("w.db");
  auto db = Database::open(path);
  db.exec(kSchema);
  Writer writer(db);

  // Each callback counts the rows through a second connection: it can only see committed data.
  std::mutex mutex;
  std::vector<std::pair<int, int>> seen;  // (callback index, rows visible)
  auto observe = [&](int index) {
    return [&, index] {
      auto other = Database::open(path);
      const int rows = countRows(other);
      std::lock_guard lock(mutex);
      seen.emplace_back(index, rows);
    };
  };
  for (int i = 0; i < 5; ++i) writer.submit(insert(0, i));
  writer.whenCommitted(observe(0));
  for (int i = 5; i < 8; ++i) writer.submit(insert(0, i));
  writer.whenCommitted(observe(1));
  writer.whenCommitted(observe(2));
  writer.flush();

  std::lock_guard lock(mutex);
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].first, 0);
  EXPECT_EQ(seen[1].first, 1);
  EXPECT_EQ(seen[2].first, 2);
  EXPECT_GE(seen[0].second, 5);
  EXPECT_EQ(seen[1].second, 8);
  EXPECT_EQ(seen[2].second, 8);
}

TEST(Writer, CallbackDoesNotRunBeforeItsOpsCommit) {
  test::TempDir dir;
  const auto path = dir.file("w.db");
  auto db = Database::open(path);
  db.exec(kSchema);
  Writer writer(db);
  // The first gate lines up the insert, the second gate and the callback in one batch; the
  // second gate then holds that batch open after the insert has run.
  Gate first;
  Gate second;
  std::atomic<bool> called{false};
  writer.submit(first.op());
  first.waitUntilHeld();
  writer.submit(insert(0, 1));
  writer.submit(second.op());
  writer.whenCommitted([&] { called = true; });
  first.release();
  second.waitUntilHeld();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(called.load());
  {
    auto other = Database::open(path);
    EXPECT_EQ(countRows(other), 0);  // the insert has run but is not committed
  }
  second.release();
  writer.flush();
  EXPECT_TRUE(called.load());
  auto other = Database::open(path);
  EXPECT_EQ(countRows(other), 1);
}

TEST_F(WriterTest, AFailingOpIsRolledBackAloneAndReported) {
  Writer writer(db_, errors_.handler());
  Gate gate;
  writer.submit(gate.op());
  gate.waitUntilHeld();
  writer.submit(insert(0, 1));
  writer.submit([](Database& db) {
    insert(0, 2)(db);  // written, then undone by the savepoint
    throw std::runtime_error("boom");
  });
  writer.submit(insert(0, 3));
  writer.submit([](Database& db) {
    insert(0, 4)(db);
    db.exec("INSERT INTO t (id) VALUES (1)");  // duplicate key: a storage::Error
  });
  writer.submit(insert(0, 5));
  std::atomic<bool> callbackRan{false};
  writer.whenCommitted([&] { callbackRan = true; });
  gate.release();
  writer.flush();

  writer.read([](Database& db) { EXPECT_EQ(column(db, "SELECT n FROM t ORDER BY id"), (std::vector<int>{1, 3, 5})); });
  const auto messages = errors_.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_NE(messages[0].find("boom"), std::string::npos) << messages[0];
  EXPECT_NE(messages[1].find("UNIQUE constraint failed"), std::string::npos) << messages[1];
  EXPECT_TRUE(callbackRan.load());
  const auto stats = writer.stats();
  EXPECT_EQ(stats.failedOps, 2u);
  EXPECT_EQ(stats.ops, 4u);  // gate + 1, 3, 5
  EXPECT_EQ(stats.batches, 2u);
}

TEST_F(WriterTest, AFailingOpDoesNotDisturbANestedTransactionInAnother) {
  Writer writer(db_, errors_.handler());
  writer.submit([](Database& db) {
    Transaction tx(db);  // inside the batch it becomes a savepoint of its own
    insert(0, 1)(db);
    tx.commit();
  });
  writer.submit([](Database& db) {
    Transaction tx(db);
    insert(0, 2)(db);
    throw std::runtime_error("abandon");
  });
  writer.flush();
  writer.read([](Database& db) { EXPECT_EQ(column(db, "SELECT n FROM t"), (std::vector<int>{1})); });
  EXPECT_EQ(errors_.messages().size(), 1u);
}

TEST_F(WriterTest, FlushWaitsForEverythingSubmitted) {
  Writer writer(db_, errors_.handler());
  for (int i = 0; i < 20; ++i) {
    writer.submit([i](Database& db) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      insert(0, i)(db);
    });
  }
  writer.flush();
  EXPECT_EQ(writer.stats().ops, 20u);
  writer.read([](Database& db) { EXPECT_EQ(countRows(db), 20); });
}

TEST_F(WriterTest, ReadSeesEverythingSubmittedBeforeIt) {
  Writer writer(db_, errors_.handler());
  for (int i = 0; i < 50; ++i) writer.submit(insert(0, i));
  int rows = -1;
  writer.read([&](Database& db) { rows = countRows(db); });
  EXPECT_EQ(rows, 50);
}

TEST_F(WriterTest, ManyThreadsSubmittingKeepEachThreadsOrder) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 500;
  Writer writer(db_, errors_.handler());
  std::vector<std::thread> threads;
  for (int source = 0; source < kThreads; ++source) {
    threads.emplace_back([&writer, source] {
      for (int n = 0; n < kPerThread; ++n) {
        writer.submit(insert(source, n));
        if (n % 100 == 99) writer.flush();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  writer.flush();

  std::map<int, std::vector<int>> bySource;
  writer.read([&](Database& db) {
    Statement st(db, "SELECT source, n FROM t ORDER BY id");
    while (st.step()) bySource[st.columnInt(0)].push_back(st.columnInt(1));
  });
  ASSERT_EQ(bySource.size(), static_cast<std::size_t>(kThreads));
  std::vector<int> expected(kPerThread);
  for (int n = 0; n < kPerThread; ++n) expected[n] = n;
  for (const auto& [source, ns] : bySource) EXPECT_EQ(ns, expected) << "source " << source;
  const auto stats = writer.stats();
  EXPECT_EQ(stats.ops, static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_LT(stats.batches, stats.ops);  // batching happened at all
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(WriterTest, StopCommitsWhatIsQueuedAndThenRefusesWork) {
  Writer writer(db_, errors_.handler());
  Gate gate;
  writer.submit(gate.op());
  gate.waitUntilHeld();
  for (int i = 0; i < 10; ++i) writer.submit(insert(0, i));
  std::thread stopper([&] { writer.stop(); });
  gate.release();
  stopper.join();

  writer.read([](Database& db) { EXPECT_EQ(countRows(db), 10); });
  EXPECT_THROW(writer.submit(insert(0, 99)), std::logic_error);
  // Nothing is left to commit, so a late callback runs at once, here.
  std::thread::id ranOn;
  writer.whenCommitted([&] { ranOn = std::this_thread::get_id(); });
  EXPECT_EQ(ranOn, std::this_thread::get_id());
  writer.flush();
  writer.stop();  // idempotent
}

TEST(Writer, DestructorCommitsPendingWork) {
  test::TempDir dir;
  const auto path = dir.file("w.db");
  {
    auto db = Database::open(path);
    db.exec(kSchema);
    Writer writer(db);
    for (int i = 0; i < 100; ++i) writer.submit(insert(0, i));
  }
  auto db = Database::open(path);
  EXPECT_EQ(countRows(db), 100);
}

TEST_F(WriterTest, WaitingOnTheWriterFromItsOwnThreadIsRefused) {
  Writer writer(db_, errors_.handler());
  std::promise<std::string> fromCallback;
  writer.submit([&writer](Database&) { writer.flush(); });
  writer.whenCommitted([&] {
    try {
      writer.read([](Database&) {});
      fromCallback.set_value("no exception");
    } catch (const std::logic_error& e) {
      fromCallback.set_value(e.what());
    }
  });
  writer.flush();
  EXPECT_NE(fromCallback.get_future().get().find("writer thread"), std::string::npos);
  const auto messages = errors_.messages();
  ASSERT_EQ(messages.size(), 1u);  // the op that called flush() failed instead of deadlocking
  EXPECT_NE(messages[0].find("writer thread"), std::string::npos) << messages[0];
}

TEST_F(WriterTest, AThrowingCallbackIsReportedAndTheNextOnesStillRun) {
  Writer writer(db_, errors_.handler());
  std::atomic<bool> second{false};
  writer.whenCommitted([] { throw std::runtime_error("callback broke"); });
  writer.whenCommitted([&] { second = true; });
  writer.flush();
  EXPECT_TRUE(second.load());
  const auto messages = errors_.messages();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("callback broke"), std::string::npos) << messages[0];
}

TEST_F(WriterTest, OpsMaySubmitMoreWork) {
  Writer writer(db_, errors_.handler());
  writer.submit([&writer](Database& db) {
    insert(0, 1)(db);
    writer.submit(insert(0, 2));
  });
  // The follow-up is queued while the first batch runs, so only a flush queued after the first
  // one returned is sure to cover it.
  writer.flush();
  writer.flush();
  writer.read([](Database& db) { EXPECT_EQ(column(db, "SELECT n FROM t ORDER BY id"), (std::vector<int>{1, 2})); });
}

}  // namespace
}  // namespace fc::storage
