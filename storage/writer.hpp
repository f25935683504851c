// Writer — the single writer thread of a database, with group commit.
//
// Any thread submits operations; the writer thread drains whatever is queued, runs it all in ONE
// transaction, commits, then runs the whenCommitted callbacks of that batch. One fsync-free commit
// per batch rather than per operation is what keeps a busy broker fast: while one batch commits,
// the next one accumulates.
//
// Each operation runs inside its own SAVEPOINT: an operation that throws is rolled back alone and
// reported through the error handler, and the rest of the batch still commits.
//
// The Writer owns all access to the connection it is given: from its construction on, use the
// Database only through submit() (writes) and read() (synchronous access, e.g. loading at startup).
// One mutex guards the connection, which is what makes a single ":memory:" connection safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/database.hpp"

namespace fc::storage {

struct WriterStats {
  std::uint64_t batches = 0;    ///< transactions committed (batches that held at least one op)
  std::uint64_t ops = 0;        ///< operations committed
  std::uint64_t failedOps = 0;  ///< operations rolled back (each reported through onError)
};

class Writer {
 public:
  using Op = std::function<void(Database&)>;
  using Callback = std::function<void()>;
  /// Called on the writer thread, once per failure. Must not call flush() or read().
  using ErrorHandler = std::function<void(const std::string&)>;

  /// Starts the writer thread. `db` must outlive the Writer. Without a handler, errors go to stderr.
  explicit Writer(Database& db, ErrorHandler onError = {});
  /// stop(): commits everything submitted, then joins the thread. Not from the writer thread
  /// (a callback must not destroy its Writer).
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  /// Queues an operation; operations commit in submission order (per submitting thread, and
  /// globally in the order submit() calls return). Throws std::logic_error once stop() finished.
  void submit(Op op);

  /// Queues `done` to run on the writer thread once every operation submitted before it has been
  /// committed. Callbacks run in the order they were queued and must be quick (post elsewhere for
  /// real work). If the batch's COMMIT itself fails, the failure goes to onError first and the
  /// callbacks still run, so that nothing waits forever. After stop() has finished there is nothing
  /// left to commit and `done` runs at once on the calling thread.
  void whenCommitted(Callback done);

  /// Blocks until everything submitted so far is committed. Not from the writer thread.
  void flush();

  /// Runs `fn` synchronously on the calling thread, after everything submitted before the call
  /// has been committed, with exclusive use of the connection. Meant for loading at startup and
  /// for tests; writes made here bypass the batching. Not from the writer thread.
  void read(const std::function<void(Database&)>& fn);

  /// Stops accepting work once the queue is drained: commits everything submitted (operations
  /// submitted while it drains are still taken), then joins the thread. Idempotent.
  void stop();

  WriterStats stats() const;

 private:
  void run();
  void runBatch(std::vector<Op>& ops);
  void report(const std::string& message) noexcept;
  void requireNotWriterThread(const char* what) const;

  Database& db_;
  ErrorHandler onError_;

  std::mutex dbMutex_;  // held by the writer thread for a whole batch, and by read()

  mutable std::mutex queueMutex_;
  std::condition_variable wake_;
  std::vector<Op> ops_;
  std::vector<Callback> callbacks_;
  bool stopping_ = false;
  bool exited_ = false;

  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> committedOps_{0};
  std::atomic<std::uint64_t> failedOps_{0};

  std::mutex joinMutex_;
  std::thread thread_;  // last: starts after every member above is initialised
  std::thread::id threadId_;
};

}  // namespace fc::storage
