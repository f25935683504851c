// A small RAII wrapper over one SQLite connection: Database (open + pragmas + a prepared-statement
// cache), Statement (bind by index, step, column getters) and Transaction (BEGIN IMMEDIATE / COMMIT,
// rolled back on destruction unless committed). Every SQLite failure throws storage::Error.
//
// Durability: a file database runs in WAL mode with synchronous=NORMAL. A COMMIT has written the
// transaction to the WAL file (into the OS page cache) before it returns, so a committed transaction
// survives the process being killed at any moment, SIGKILL included. What NORMAL gives up is the
// fsync on every commit: a power loss or kernel crash can lose the last few transactions (never
// corrupt the database). That is the right trade for a test cloud; it keeps commits fast.
//
// Threads: a Database (and its Statements) must be used by one thread at a time. The Writer
// serialises all access to the connection it is given behind one mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace fc::storage {

/// Any failure reported by SQLite (or a storage invariant broken, with code SQLITE_ERROR).
/// code() is the extended result code, e.g. SQLITE_CONSTRAINT_PRIMARYKEY.
class Error : public std::runtime_error {
 public:
  Error(int code, std::string sqliteMessage, std::string_view context = {});

  int code() const noexcept { return code_; }
  int primaryCode() const noexcept { return code_ & 0xff; }
  const std::string& sqliteMessage() const noexcept { return sqliteMessage_; }

 private:
  int code_;
  std::string sqliteMessage_;
};

class Database;

/// One prepared statement. Bind indexes start at 1, column indexes at 0 (as in SQLite).
/// Text and blobs are copied by SQLite when bound, so temporaries are safe to bind.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value);
  Statement& bind(int index, std::string_view text);  // an empty string binds '' (not NULL)
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::span<const std::uint8_t> blob);  // an empty blob binds x'' (not NULL)
  Statement& bind(int index, std::nullptr_t);

  /// Advances: true when a row is available, false when the statement is done.
  bool step();
  /// Steps to completion, discarding any rows, then resets (bindings are kept).
  void run();
  /// Makes the statement runnable again and clears its bindings to NULL.
  void reset();

  int columnCount() const;
  bool columnIsNull(int column) const;
  std::int64_t columnInt64(int column) const;
  int columnInt(int column) const;
  std::string columnText(int column) const;                 // NULL reads as ""
  std::vector<std::uint8_t> columnBlob(int column) const;   // NULL reads as empty

  sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  void check(int rc, std::string_view what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

struct OpenOptions {
  std::chrono::milliseconds busyTimeout{5000};  ///< how long to wait for another connection's lock
};

class Database {
 public:
  /// Opens (creating if needed) `path`, or a private in-memory database for ":memory:".
  /// The parent directory must exist. Files get WAL + synchronous=NORMAL; every connection gets
  /// busy_timeout and foreign_keys=ON.
  static Database open(const std::string& path, const OpenOptions& options = {});

  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Runs one or more SQL statements with no parameters (schema scripts, pragmas).
  void exec(std::string_view sql);

  /// A statement prepared once per connection and reused: returned reset, bindings cleared.
  /// The reference stays valid for the connection's life. Do not hold one cached statement
  /// across a nested call that may fetch the same SQL again.
  Statement& cached(std::string_view sql);
  /// Resets every cached statement, so none holds a read snapshot open.
  void resetCached();

  bool inTransaction() const;
  std::int64_t lastInsertRowid() const;
  int changes() const;  ///< rows changed by the last INSERT/UPDATE/DELETE
  const std::string& path() const noexcept { return path_; }
  bool isMemory() const noexcept { return path_ == ":memory:"; }
  sqlite3* handle() const noexcept { return db_; }

 private:
  Database(sqlite3* db, std::string path);
  void close() noexcept;

  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Statement>, StringHash, std::equal_to<>> cache_;
};

enum class TransactionKind : std::uint8_t {
  Immediate,  ///< BEGIN IMMEDIATE: takes the write lock now, so COMMIT cannot fail with BUSY for lock order
  Deferred,   ///< BEGIN: for a consistent multi-query read
};

/// BEGIN … COMMIT, rolled back by the destructor unless commit() succeeded. Opened while the
/// connection is already inside a transaction (e.g. inside a Writer op), it becomes a SAVEPOINT,
/// so code that wants atomicity can use Transaction without knowing who called it.
class Transaction {
 public:
  explicit Transaction(Database& db, TransactionKind kind = TransactionKind::Immediate);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit();
  bool nested() const noexcept { return nested_; }

 private:
  Database& db_;
  bool nested_ = false;
  bool done_ = false;
};

}  // namespace fc::storage
