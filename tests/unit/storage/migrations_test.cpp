// Tests of the migration engine and of the shipped schema history.
#include "storage/migrations.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>

#include "tests/unit/storage/test_support.hpp"

namespace fc::storage {
namespace {

bool hasTable(Database& db, const std::string& name) {
  auto& st = db.cached("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1");
  st.bind(1, name);
  return st.step();
}

TEST(Migrations, FreshDatabaseReachesTheLatestVersion) {
  auto db = Database::open(":memory:");
  EXPECT_EQ(schemaVersion(db), 0);
  migrate(db);
  EXPECT_EQ(schemaVersion(db), static_cast<int>(migrationScripts().size()));
  for (const char* table :
       {"broker_sessions", "broker_subscriptions", "broker_messages", "broker_inbound_qos2", "broker_retained"}) {
    EXPECT_TRUE(hasTable(db, table)) << table;
  }
  auto& check = db.cached("PRAGMA foreign_key_check");
  EXPECT_FALSE(check.step());
}

TEST(Migrations, MigratingAgainIsANoOp) {
  auto db = Database::open(":memory:");
  migrate(db);
  db.exec("INSERT INTO broker_retained VALUES ('a/b', x'01', 1)");
  // Re-running script 1 would fail on CREATE TABLE; that it does not proves it was skipped.
  migrate(db);
  EXPECT_EQ(schemaVersion(db), static_cast<int>(migrationScripts().size()));
  auto& st = db.cached("SELECT count(*) FROM broker_retained");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.columnInt(0), 1);
}

TEST(Migrations, FileDatabaseIsMigratedOnceAcrossReopen) {
  test::TempDir dir;
  const auto path = dir.file("m.db");
  {
    auto db = Database::open(path);
    migrate(db);
    db.exec("INSERT INTO broker_sessions VALUES ('kept')");
  }
  auto db = Database::open(path);
  EXPECT_EQ(schemaVersion(db), static_cast<int>(migrationScripts().size()));
  migrate(db);
  auto& st = db.cached("SELECT client_id FROM broker_sessions");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.columnText(0), "kept");
}

TEST(Migrations, AppliesOnlyTheScriptsNotYetSeen) {
  auto db = Database::open(":memory:");
  const std::array<std::string_view, 2> history{
      "CREATE TABLE a (x INTEGER)",
      "CREATE TABLE b (y INTEGER); INSERT INTO b VALUES (1)",
  };
  migrate(db, std::span(history).first(1));
  EXPECT_EQ(schemaVersion(db), 1);
  EXPECT_TRUE(hasTable(db, "a"));
  EXPECT_FALSE(hasTable(db, "b"));
  migrate(db, history);
  EXPECT_EQ(schemaVersion(db), 2);
  EXPECT_TRUE(hasTable(db, "b"));
}

TEST(Migrations, AFailingScriptLeavesTheLastGoodVersionWhole) {
  auto db = Database::open(":memory:");
  const std::array<std::string_view, 2> history{
      "CREATE TABLE a (x INTEGER)",
      "CREATE TABLE b (y INTEGER); INSERT INTO nowhere VALUES (1)",
  };
  try {
    migrate(db, history);
    FAIL() << "migration 2 should have thrown";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("migration 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(schemaVersion(db), 1);
  EXPECT_TRUE(hasTable(db, "a"));
  EXPECT_FALSE(hasTable(db, "b"));  // the half of script 2 that worked was rolled back
  EXPECT_FALSE(db.inTransaction());
}

TEST(Migrations, ADatabaseNewerThanTheBuildIsRefused) {
  auto db = Database::open(":memory:");
  db.exec("PRAGMA user_version = 999");
  EXPECT_THROW(migrate(db), Error);
  EXPECT_EQ(schemaVersion(db), 999);
}

}  // namespace
}  // namespace fc::storage
