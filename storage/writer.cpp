// Writer: queue, group-commit loop and per-operation savepoints.
#include "storage/writer.hpp"

#include <cstdio>
#include <exception>
#include <future>
#include <stdexcept>
#include <utility>

namespace fc::storage {

namespace {

constexpr std::string_view kBegin = "BEGIN IMMEDIATE";
constexpr std::string_view kCommit = "COMMIT";
constexpr std::string_view kRollback = "ROLLBACK";
constexpr std::string_view kSavepoint = "SAVEPOINT fc_op";
constexpr std::string_view kRelease = "RELEASE fc_op";
constexpr std::string_view kRollbackTo = "ROLLBACK TO fc_op";

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

Writer::Writer(Database& db, ErrorHandler onError) : db_(db), onError_(std::move(onError)) {
  thread_ = std::thread([this] { run(); });
  threadId_ = thread_.get_id();
}

Writer::~Writer() { stop(); }

void Writer::submit(Op op) {
  bool wasIdle = false;
  {
    std::lock_guard lock(queueMutex_);
    if (exited_) throw std::logic_error("storage::Writer::submit after stop()");
    wasIdle = ops_.empty() && callbacks_.empty();
    ops_.push_back(std::move(op));
  }
  // A non-empty queue has already woken the thread, which takes everything when it gets there:
  // skipping the notify keeps the hot path to one uncontended lock.
  if (wasIdle) wake_.notify_one();
}

void Writer::whenCommitted(Callback done) {
  {
    std::lock_guard lock(queueMutex_);
    if (!exited_) {
      const bool wasIdle = ops_.empty() && callbacks_.empty();
      callbacks_.push_back(std::move(done));
      if (wasIdle) wake_.notify_one();
      return;
    }
  }
  done();
}

void Writer::flush() {
  requireNotWriterThread("flush");
  std::promise<void> committed;
  auto future = committed.get_future();
  whenCommitted([&committed] { committed.set_value(); });
  future.wait();
}

void Writer::read(const std::function<void(Database&)>& fn) {
  requireNotWriterThread("read");
  flush();
  std::lock_guard lock(dbMutex_);
  try {
    fn(db_);
  } catch (...) {
    db_.resetCached();
    throw;
  }
  db_.resetCached();
}

void Writer::stop() {
  requireNotWriterThread("stop");
  {
    std::lock_guard lock(queueMutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  std::lock_guard join(joinMutex_);
  if (thread_.joinable()) thread_.join();
}

WriterStats Writer::stats() const {
  return WriterStats{batches_.load(), committedOps_.load(), failedOps_.load()};
}

void Writer::requireNotWriterThread(const char* what) const {
  // The writer thread waiting on itself would never wake.
  if (std::this_thread::get_id() == threadId_) {
    throw std::logic_error(std::string("storage::Writer::") + what + " called on the writer thread");
  }
}

void Writer::report(const std::string& message) noexcept {
  try {
    if (onError_) {
      onError_(message);
    } else {
      std::fprintf(stderr, "fc::storage::Writer: %s\n", message.c_str());
    }
  } catch (...) {
  }
}

void Writer::run() {
  std::vector<Op> ops;
  std::vector<Callback> callbacks;
  for (;;) {
    {
      std::unique_lock lock(queueMutex_);
      wake_.wait(lock, [this] { return stopping_ || !ops_.empty() || !callbacks_.empty(); });
      if (ops_.empty() && callbacks_.empty()) {
        exited_ = true;  // stopping, and nothing left: later whenCommitted() calls run inline
        return;
      }
      // Swapping hands the queue our emptied vectors back, so their capacity is reused.
      ops.swap(ops_);
      callbacks.swap(callbacks_);
    }
    if (!ops.empty()) runBatch(ops);
    for (auto& done : callbacks) {
      try {
        done();
      } catch (...) {
        report("whenCommitted callback threw: " + describe(std::current_exception()));
      }
    }
    ops.clear();
    callbacks.clear();
  }
}

void Writer::runBatch(std::vector<Op>& ops) {
  std::lock_guard lock(dbMutex_);
  std::uint64_t pending = 0;  // ops run in the open transaction, not yet committed

  for (std::size_t i = 0; i < ops.size(); ++i) {
    // Opened lazily: an earlier failure may have cost us the transaction (see below).
    if (!db_.inTransaction()) {
      try {
        db_.cached(kBegin).run();
      } catch (...) {
        const std::size_t dropped = ops.size() - i;
        failedOps_ += dropped;
        report("cannot begin a transaction, " + std::to_string(dropped) +
               " operation(s) dropped: " + describe(std::current_exception()));
        return;
      }
    }
    try {
      db_.cached(kSavepoint).run();
      ops[i](db_);
      db_.cached(kRelease).run();
      ++pending;
    } catch (...) {
      ++failedOps_;
      report("operation failed and was rolled back: " + describe(std::current_exception()));
      db_.resetCached();
      bool undone = false;
      if (db_.inTransaction()) {
        try {
          db_.cached(kRollbackTo).run();
          db_.cached(kRelease).run();
          undone = true;
        } catch (...) {
          // The failed op's changes cannot be separated from the others': none may commit.
          try {
            db_.cached(kRollback).run();
          } catch (...) {
          }
        }
      }
      // SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM and the like make SQLite roll back the whole
      // transaction by itself; the operations before this one are then gone too.
      if (!undone && pending > 0) {
        failedOps_ += pending;
        report("the batch transaction was rolled back; " + std::to_string(pending) +
               " earlier operation(s) of the batch were lost");
        pending = 0;
      }
    }
  }

  if (!db_.inTransaction()) return;
  db_.resetCached();  // no statement left mid-step across the commit
  try {
    db_.cached(kCommit).run();
    ++batches_;
    committedOps_ += pending;
  } catch (...) {
    failedOps_ += pending;
    report("commit failed, " + std::to_string(pending) + " operation(s) lost: " + describe(std::current_exception()));
    try {
      if (db_.inTransaction()) db_.cached(kRollback).run();
    } catch (...) {
    }
  }
}

}  // namespace fc::storage
