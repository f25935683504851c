// Tests of the SQLite wrapper: open and pragmas, Statement binding/reading, errors, Transaction.
#include "storage/database.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tests/unit/storage/test_support.hpp"

namespace fc::storage {
namespace {

std::int64_t scalar(Database& db, std::string_view sql) {
  Statement st(db, sql);
  EXPECT_TRUE(st.step()) << sql;
  return st.columnInt64(0);
}

std::string text(Database& db, std::string_view sql) {
  Statement st(db, sql);
  EXPECT_TRUE(st.step()) << sql;
  return st.columnText(0);
}

TEST(Database, MemoryDatabaseHasForeignKeysOn) {
  auto db = Database::open(":memory:");
  EXPECT_TRUE(db.isMemory());
  EXPECT_EQ(scalar(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(scalar(db, "PRAGMA busy_timeout"), 5000);
}

TEST(Database, FileDatabaseUsesWalWithNormalSync) {
  test::TempDir dir;
  auto db = Database::open(dir.file("a.db"), OpenOptions{.busyTimeout = std::chrono::milliseconds(1234)});
  EXPECT_EQ(text(db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(scalar(db, "PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(scalar(db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(scalar(db, "PRAGMA busy_timeout"), 1234);
}

TEST(Database, OpeningInAMissingDirectoryThrowsCantOpen) {
  try {
    Database::open("/tmp/fc-storage-no-such-dir-for-sure/x/y.db");
    FAIL() << "open should have thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.primaryCode(), SQLITE_CANTOPEN);
    EXPECT_NE(std::string(e.what()).find("y.db"), std::string::npos) << e.what();
  }
}

TEST(Database, MovedDatabaseKeepsWorking) {
  auto first = Database::open(":memory:");
  first.exec("CREATE TABLE t (x INTEGER)");
  first.cached("INSERT INTO t VALUES (?1)").bind(1, 7).run();
  Database second = std::move(first);
  second.cached("INSERT INTO t VALUES (?1)").bind(1, 8).run();
  EXPECT_EQ(scalar(second, "SELECT sum(x) FROM t"), 15);
}

TEST(Statement, BindsAndReadsEveryType) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE t (i INTEGER, j INTEGER, s TEXT, b BLOB, n, e TEXT, eb BLOB)");
  const std::vector<std::uint8_t> blob{0x00, 0xff, 0x10, 0x00};
  Statement insert(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  insert.bind(1, std::numeric_limits<std::int64_t>::min())
      .bind(2, -42)
      .bind(3, std::string("h\0llo", 5))
      .bind(4, blob)
      .bind(5, nullptr)
      .bind(6, std::string_view())
      .bind(7, std::vector<std::uint8_t>());
  EXPECT_FALSE(insert.step());

  Statement select(db, "SELECT i, j, s, b, n, e, eb, typeof(e), typeof(eb) FROM t");
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.columnCount(), 9);
  EXPECT_EQ(select.columnInt64(0), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(select.columnInt(1), -42);
  EXPECT_EQ(select.columnText(2), std::string("h\0llo", 5));
  EXPECT_EQ(select.columnBlob(3), blob);
  EXPECT_TRUE(select.columnIsNull(4));
  EXPECT_FALSE(select.columnIsNull(5));
  EXPECT_EQ(select.columnText(5), "");
  EXPECT_TRUE(select.columnBlob(6).empty());
  // Empty values must stay empty values: a NOT NULL payload column depends on it.
  EXPECT_EQ(select.columnText(7), "text");
  EXPECT_EQ(select.columnText(8), "blob");
  EXPECT_FALSE(select.step());
}

TEST(Statement, ResetClearsBindingsAndAllowsReuse) {
  auto db = Database::open(":memory:");
  Statement st(db, "SELECT ?1");
  st.bind(1, 5);
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.columnInt(0), 5);
  st.reset();
  ASSERT_TRUE(st.step());
  EXPECT_TRUE(st.columnIsNull(0));
  st.reset();
  st.bind(1, "again");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.columnText(0), "again");
}

TEST(Statement, RunStepsToCompletionAndKeepsBindings) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER)");
  Statement insert(db, "INSERT INTO t VALUES (?1)");
  insert.bind(1, 3);
  insert.run();
  insert.run();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t WHERE x = 3"), 2);
  EXPECT_EQ(db.changes(), 1);
  EXPECT_EQ(db.lastInsertRowid(), 2);
}

TEST(Statement, SyntaxErrorThrowsWithCodeAndMessage) {
  auto db = Database::open(":memory:");
  try {
    Statement st(db, "SELEKT 1");
    FAIL() << "prepare should have thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.primaryCode(), SQLITE_ERROR);
    EXPECT_NE(e.sqliteMessage().find("syntax error"), std::string::npos) << e.sqliteMessage();
    EXPECT_NE(std::string(e.what()).find("SELEKT"), std::string::npos) << e.what();
  }
}

TEST(Statement, ConstraintViolationCarriesTheExtendedCode) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
  db.cached("INSERT INTO t VALUES (?1, ?2)").bind(1, 1).bind(2, "a").run();
  try {
    db.cached("INSERT INTO t VALUES (?1, ?2)").bind(1, 1).bind(2, "b").run();
    FAIL() << "duplicate key should have thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), SQLITE_CONSTRAINT_PRIMARYKEY);
    EXPECT_EQ(e.primaryCode(), SQLITE_CONSTRAINT);
  }
  // The failed statement is reset, so it is usable again at once.
  db.cached("INSERT INTO t VALUES (?1, ?2)").bind(1, 2).bind(2, "b").run();
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), 2);
}

TEST(Database, CachedStatementIsReusedAndComesBackReset) {
  auto db = Database::open(":memory:");
  Statement& first = db.cached("SELECT ?1");
  first.bind(1, 9);
  ASSERT_TRUE(first.step());
  Statement& second = db.cached("SELECT ?1");
  EXPECT_EQ(&first, &second);
  ASSERT_TRUE(second.step());
  EXPECT_TRUE(second.columnIsNull(0));
}

TEST(Database, ExecRunsScriptsAndReportsErrors) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE a (x); CREATE TABLE b (y); INSERT INTO a VALUES (1);");
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'"), 2);
  EXPECT_THROW(db.exec("INSERT INTO nowhere VALUES (1)"), Error);
}

TEST(Transaction, CommitPersists) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER)");
  {
    Transaction tx(db);
    EXPECT_FALSE(tx.nested());
    EXPECT_TRUE(db.inTransaction());
    db.exec("INSERT INTO t VALUES (1)");
    tx.commit();
  }
  EXPECT_FALSE(db.inTransaction());
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), 1);
}

TEST(Transaction, RollsBackWhenAnExceptionLeavesTheScope) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER)");
  EXPECT_THROW(
      {
        Transaction tx(db);
        db.exec("INSERT INTO t VALUES (1)");
        throw std::runtime_error("abandon");
      },
      std::runtime_error);
  EXPECT_FALSE(db.inTransaction());
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), 0);
}

TEST(Transaction, NestedTransactionIsASavepoint) {
  auto db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER)");
  {
    Transaction outer(db);
    db.exec("INSERT INTO t VALUES (1)");
    {
      Transaction inner(db);
      EXPECT_TRUE(inner.nested());
      db.exec("INSERT INTO t VALUES (2)");
    }  // not committed: undoes only its own insert
    {
      Transaction inner(db);
      db.exec("INSERT INTO t VALUES (3)");
      inner.commit();
    }
    EXPECT_TRUE(db.inTransaction());
    outer.commit();
  }
  Statement st(db, "SELECT x FROM t ORDER BY x");
  std::vector<int> got;
  while (st.step()) got.push_back(st.columnInt(0));
  EXPECT_EQ(got, (std::vector<int>{1, 3}));
}

TEST(Transaction, ImmediateTakesTheWriteLockAtBegin) {
  test::TempDir dir;
  auto a = Database::open(dir.file("lock.db"));
  auto b = Database::open(dir.file("lock.db"), OpenOptions{.busyTimeout = std::chrono::milliseconds(0)});
  a.exec("CREATE TABLE t (x)");
  Transaction tx(a);
  try {
    Transaction other(b);
    FAIL() << "a second writer should not get the lock";
  } catch (const Error& e) {
    EXPECT_EQ(e.primaryCode(), SQLITE_BUSY);
  }
  // A deferred (read) transaction is still possible next to the writer: that is WAL.
  Transaction reader(b, TransactionKind::Deferred);
  EXPECT_EQ(scalar(b, "SELECT count(*) FROM t"), 0);
}

TEST(Transaction, CommittingTwiceIsAnError) {
  auto db = Database::open(":memory:");
  Transaction tx(db);
  tx.commit();
  EXPECT_THROW(tx.commit(), Error);
}

}  // namespace
}  // namespace fc::storage
