// Database, Statement and Transaction over the SQLite C API.
#include "storage/database.hpp"

#include <sqlite3.h>

#include <utility>

namespace fc::storage {

namespace {

std::string composeWhat(int code, const std::string& message, std::string_view context) {
  std::string what = "sqlite: ";
  if (!context.empty()) {
    what.append(context);
    what += ": ";
  }
  what += message;
  what += " (code " + std::to_string(code) + ")";
  return what;
}

[[noreturn]] void throwFrom(sqlite3* db, int rc, std::string_view context) {
  // The connection's message is only meaningful when it reports this failure; for a failure with
  // no connection (open ran out of memory) fall back to the generic text for the code.
  int code = rc;
  std::string message = sqlite3_errstr(rc);
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff)) {
    code = sqlite3_extended_errcode(db);
    message = sqlite3_errmsg(db);
  }
  throw Error(code, std::move(message), context);
}

constexpr std::string_view kNestedSavepoint = "fc_nested";

}  // namespace

Error::Error(int code, std::string sqliteMessage, std::string_view context)
    : std::runtime_error(composeWhat(code, sqliteMessage, context)),
      code_(code),
      sqliteMessage_(std::move(sqliteMessage)) {}

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Database& db, std::string_view sql) : db_(db.handle()) {
  // PERSISTENT: these statements are mostly cached and reused for the connection's life.
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    throwFrom(db_, rc, "prepare \"" + std::string(sql.substr(0, 120)) + "\"");
  }
  if (stmt_ == nullptr) throw Error(SQLITE_MISUSE, "empty SQL statement", "prepare");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

void Statement::check(int rc, std::string_view what) const {
  if (rc != SQLITE_OK) throwFrom(db_, rc, what);
}

Statement& Statement::bind(int index, std::int64_t value) {
  check(sqlite3_bind_int64(stmt_, index, value), "bind int64");
  return *this;
}

Statement& Statement::bind(int index, int value) {
  check(sqlite3_bind_int(stmt_, index, value), "bind int");
  return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
  // A null data pointer would bind NULL; an empty view may well have one.
  const char* data = text.data() != nullptr ? text.data() : "";
  check(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8), "bind text");
  return *this;
}

Statement& Statement::bind(int index, std::span<const std::uint8_t> blob) {
  if (blob.empty()) {
    // sqlite3_bind_blob with a null pointer binds NULL; a zero-length zeroblob is an empty blob.
    check(sqlite3_bind_zeroblob(stmt_, index, 0), "bind blob");
  } else {
    check(sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size(), SQLITE_TRANSIENT), "bind blob");
  }
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  check(sqlite3_bind_null(stmt_, index), "bind null");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset now so a failed statement does not keep the connection busy until its next use.
  sqlite3_reset(stmt_);
  throwFrom(db_, rc, "step \"" + std::string(std::string_view(sqlite3_sql(stmt_)).substr(0, 120)) + "\"");
}

void Statement::run() {
  while (step()) {
  }
  sqlite3_reset(stmt_);
}

void Statement::reset() {
  // sqlite3_reset repeats the error of the last step, which step() already reported.
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::columnCount() const { return sqlite3_column_count(stmt_); }

bool Statement::columnIsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Statement::columnInt64(int column) const { return sqlite3_column_int64(stmt_, column); }

int Statement::columnInt(int column) const { return sqlite3_column_int(stmt_, column); }

std::string Statement::columnText(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);  // after _text, as SQLite requires
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::vector<std::uint8_t> Statement::columnBlob(int column) const {
  const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};
  return std::vector<std::uint8_t>(data, data + size);
}

// ---------------------------------------------------------------------------------------------
// Database

Database Database::open(const std::string& path, const OpenOptions& options) {
  sqlite3* raw = nullptr;
  // FULLMUTEX costs an uncontended lock per call and turns a threading mistake into a wait
  // instead of memory corruption.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    const int code = raw != nullptr ? sqlite3_extended_errcode(raw) : rc;
    std::string message = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    throw Error(code, std::move(message), "open \"" + path + "\"");
  }
  Database db(raw, path);
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, static_cast<int>(options.busyTimeout.count()));
  db.exec("PRAGMA foreign_keys = ON");
  if (!db.isMemory()) {
    Statement mode(db, "PRAGMA journal_mode = WAL");
    const std::string got = mode.step() ? mode.columnText(0) : std::string();
    // The durability promise in the header relies on WAL; refuse to run silently without it.
    if (got != "wal") throw Error(SQLITE_ERROR, "journal_mode is '" + got + "', expected 'wal'", "open \"" + path + "\"");
    db.exec("PRAGMA synchronous = NORMAL");
  }
  return db;
}

Database::Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

Database::~Database() { close(); }

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)), cache_(std::move(other.cache_)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
    cache_ = std::move(other.cache_);
  }
  return *this;
}

void Database::close() noexcept {
  cache_.clear();  // finalize cached statements before the connection
  // close_v2 defers the close until any Statement the caller still holds is finalized.
  if (db_ != nullptr) sqlite3_close_v2(db_);
  db_ = nullptr;
}

void Database::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);  // sqlite3_exec needs a terminated string
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string what = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(sqlite3_extended_errcode(db_), std::move(what), "exec \"" + text.substr(0, 120) + "\"");
  }
}

Statement& Database::cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(std::string(sql), std::make_unique<Statement>(*this, sql)).first;
  } else {
    it->second->reset();
  }
  return *it->second;
}

void Database::resetCached() {
  for (auto& [sql, statement] : cache_) sqlite3_reset(statement->handle());
}

bool Database::inTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

std::int64_t Database::lastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }

int Database::changes() const { return sqlite3_changes(db_); }

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& db, TransactionKind kind) : db_(db), nested_(db.inTransaction()) {
  if (nested_) {
    db_.exec("SAVEPOINT " + std::string(kNestedSavepoint));
  } else {
    db_.exec(kind == TransactionKind::Immediate ? "BEGIN IMMEDIATE" : "BEGIN");
  }
}

Transaction::~Transaction() {
  if (done_) return;
  // Destructors must not throw; a failed rollback leaves nothing better to do. Some errors
  // (SQLITE_FULL, SQLITE_IOERR) have already rolled the whole transaction back.
  try {
    if (nested_) {
      if (db_.inTransaction()) {
        db_.exec("ROLLBACK TO " + std::string(kNestedSavepoint));
        db_.exec("RELEASE " + std::string(kNestedSavepoint));
      }
    } else if (db_.inTransaction()) {
      db_.exec("ROLLBACK");
    }
  } catch (...) {
  }
}

void Transaction::commit() {
  if (done_) throw Error(SQLITE_MISUSE, "transaction already committed", "commit");
  db_.exec(nested_ ? "RELEASE " + std::string(kNestedSavepoint) : std::string("COMMIT"));
  done_ = true;
}

}  // namespace fc::storage
