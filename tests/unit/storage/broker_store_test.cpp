// Tests of BrokerStore: every mutation round-tripped through load(), the delete cascade,
// persistence across reopen, and survival of committed data when the process is SIGKILLed.
#include "storage/broker_store.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "storage/migrations.hpp"
#include "tests/unit/storage/test_support.hpp"

namespace fc::storage {
namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

SessionMessageRow message(std::int64_t seq, std::string topic, std::string_view payload, std::uint8_t qos = 1) {
  return SessionMessageRow{.seq = seq, .topic = std::move(topic), .payload = bytes(payload), .qos = qos};
}

int count(Writer& writer, const std::string& sql) {
  int n = -1;
  writer.read([&](Database& db) {
    Statement st(db, sql);
    if (st.step()) n = st.columnInt(0);
  });
  return n;
}

/// One in-memory database, migrated, behind a Writer that records its errors.
class BrokerStoreTest : public ::testing::Test {
 protected:
  BrokerStoreTest() { migrate(db_); }

  Database db_ = Database::open(":memory:");
  test::ErrorLog errors_;
  Writer writer_{db_, errors_.handler()};
  BrokerStore store_{writer_};
};

TEST_F(BrokerStoreTest, EmptyDatabaseLoadsNothing) {
  EXPECT_EQ(store_.load(), BrokerSnapshot{});
}

TEST_F(BrokerStoreTest, EveryFieldRoundTrips) {
  store_.saveSession("dev-b");
  store_.saveSession("dev-a");
  store_.addSubscription("dev-a", {.filter = "cmd/#", .qos = 2});
  store_.addSubscription("dev-a", {.filter = "+/status", .qos = 0});
  store_.addSubscription("dev-b", {.filter = "x", .qos = 1});
  SessionMessageRow full{
      .seq = 7,
      .topic = "cmd/reboot",
      .payload = {0x00, 0xff, 0x7f, 0x00},
      .qos = 2,
      .retain = true,
      .packetId = 65535,
      .state = MessageState::Released,
  };
  store_.addMessage("dev-a", full);
  store_.addMessage("dev-a", message(3, "cmd/a", ""));  // empty payload, added out of seq order
  store_.addInboundQos2("dev-a", 9);
  store_.addInboundQos2("dev-a", 1);
  store_.setRetained({.topic = "t/1", .payload = bytes("on"), .qos = 1});
  store_.setRetained({.topic = "t/0", .payload = {}, .qos = 0});

  BrokerSnapshot expected;
  expected.sessions = {
      SessionRow{
          .clientId = "dev-a",
          .subscriptions = {{.filter = "+/status", .qos = 0}, {.filter = "cmd/#", .qos = 2}},
          .messages = {message(3, "cmd/a", ""), full},
          .inboundQos2 = {1, 9},
      },
      SessionRow{.clientId = "dev-b", .subscriptions = {{.filter = "x", .qos = 1}}},
  };
  expected.retained = {
      {.topic = "t/0", .payload = {}, .qos = 0},
      {.topic = "t/1", .payload = bytes("on"), .qos = 1},
  };
  EXPECT_EQ(store_.load(), expected);
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(BrokerStoreTest, SavingAnExistingSessionKeepsItsRows) {
  store_.saveSession("dev");
  store_.addSubscription("dev", {.filter = "a", .qos = 1});
  store_.addMessage("dev", message(1, "a", "x"));
  store_.saveSession("dev");
  const auto snapshot = store_.load();
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].subscriptions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].messages.size(), 1u);
}

TEST_F(BrokerStoreTest, AddSubscriptionReplacesTheQosOfTheSameFilter) {
  store_.saveSession("dev");
  store_.addSubscription("dev", {.filter = "a/+", .qos = 0});
  store_.addSubscription("dev", {.filter = "a/+", .qos = 2});
  store_.addSubscription("dev", {.filter = "b", .qos = 1});
  store_.removeSubscription("dev", "b");
  store_.removeSubscription("dev", "never-subscribed");
  const auto snapshot = store_.load();
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].subscriptions, (std::vector<SubscriptionRow>{{.filter = "a/+", .qos = 2}}));
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(BrokerStoreTest, MessagesAreUpdatedAndRemovedBySeq) {
  store_.saveSession("dev");
  for (std::int64_t seq = 1; seq <= 3; ++seq) store_.addMessage("dev", message(seq, "t", "p" + std::to_string(seq)));
  store_.updateMessage("dev", 2, 41, MessageState::Sent);
  store_.updateMessage("dev", 3, 42, MessageState::Sent);
  store_.updateMessage("dev", 3, 42, MessageState::Released);
  store_.removeMessage("dev", 1);
  store_.updateMessage("dev", 99, 1, MessageState::Sent);  // no such message: nothing happens
  store_.updateMessage("other", 2, 1, MessageState::Sent);  // another client's seq 2 is not this one

  auto two = message(2, "t", "p2");
  two.packetId = 41;
  two.state = MessageState::Sent;
  auto three = message(3, "t", "p3");
  three.packetId = 42;
  three.state = MessageState::Released;
  const auto snapshot = store_.load();
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].messages, (std::vector<SessionMessageRow>{two, three}));
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(BrokerStoreTest, InboundQos2IdsAreASet) {
  store_.saveSession("dev");
  store_.addInboundQos2("dev", 5);
  store_.addInboundQos2("dev", 5);  // a redelivered PUBLISH: no error, still one id
  store_.addInboundQos2("dev", 6);
  store_.removeInboundQos2("dev", 5);
  store_.removeInboundQos2("dev", 1000);
  const auto snapshot = store_.load();
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].inboundQos2, (std::vector<std::uint16_t>{6}));
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(BrokerStoreTest, RetainedMessagesAreReplacedAndCleared) {
  store_.setRetained({.topic = "a", .payload = bytes("1"), .qos = 0});
  store_.setRetained({.topic = "a", .payload = bytes("2"), .qos = 1});
  store_.setRetained({.topic = "b", .payload = bytes("3"), .qos = 2});
  store_.clearRetained("b");
  store_.clearRetained("never-set");
  EXPECT_EQ(store_.load().retained, (std::vector<RetainedRow>{{.topic = "a", .payload = bytes("2"), .qos = 1}}));
}

TEST_F(BrokerStoreTest, DeleteSessionTakesEverythingOfItAndOnlyThat) {
  for (const char* client : {"gone", "kept"}) {
    store_.saveSession(client);
    store_.addSubscription(client, {.filter = "f", .qos = 1});
    store_.addMessage(client, message(1, "f", "x"));
    store_.addInboundQos2(client, 3);
  }
  store_.setRetained({.topic = "f", .payload = bytes("r"), .qos = 0});
  store_.deleteSession("gone");

  const auto snapshot = store_.load();
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].clientId, "kept");
  EXPECT_EQ(snapshot.sessions[0].subscriptions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].messages.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].inboundQos2.size(), 1u);
  EXPECT_EQ(snapshot.retained.size(), 1u);  // retained messages belong to no session
  for (const char* table : {"broker_subscriptions", "broker_messages", "broker_inbound_qos2"}) {
    EXPECT_EQ(count(writer_, std::string("SELECT count(*) FROM ") + table + " WHERE client_id = 'gone'"), 0) << table;
  }
}

TEST_F(BrokerStoreTest, ARecreatedSessionStartsEmpty) {
  store_.saveSession("dev");
  store_.addSubscription("dev", {.filter = "f", .qos = 1});
  store_.addMessage("dev", message(1, "f", "x"));
  store_.deleteSession("dev");
  store_.saveSession("dev");
  EXPECT_EQ(store_.load().sessions, (std::vector<SessionRow>{SessionRow{.clientId = "dev"}}));
}

TEST_F(BrokerStoreTest, RowsForAnUnknownSessionAreRefusedAndTheRestCommits) {
  store_.saveSession("dev");
  store_.addMessage("ghost", message(1, "t", "lost"));
  store_.addSubscription("ghost", {.filter = "t", .qos = 1});
  store_.addMessage("dev", message(1, "t", "kept"));
  const auto snapshot = store_.load();
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  EXPECT_EQ(snapshot.sessions[0].messages, (std::vector<SessionMessageRow>{message(1, "t", "kept")}));
  const auto messages = errors_.messages();
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_NE(messages[0].find("FOREIGN KEY"), std::string::npos) << messages[0];
}

TEST_F(BrokerStoreTest, ADuplicateSeqIsRefused) {
  store_.saveSession("dev");
  store_.addMessage("dev", message(1, "t", "first"));
  store_.addMessage("dev", message(1, "t", "second"));
  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.sessions.at(0).messages, (std::vector<SessionMessageRow>{message(1, "t", "first")}));
  EXPECT_EQ(errors_.messages().size(), 1u);
}

TEST_F(BrokerStoreTest, WhenCommittedRunsAfterTheMutationsBeforeIt) {
  store_.saveSession("dev");
  std::vector<std::uint8_t> big(1 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31);
  SessionMessageRow large{.seq = 1, .topic = "fw", .payload = big, .qos = 1};
  store_.addMessage("dev", large);
  std::promise<int> rows;
  store_.whenCommitted([&] {
    // On the writer thread, after the commit: reading the connection directly is safe here
    // only because the writer is between batches and nothing else uses it in this test.
    Statement st(db_, "SELECT count(*) FROM broker_messages");
    rows.set_value(st.step() ? st.columnInt(0) : -1);
  });
  EXPECT_EQ(rows.get_future().get(), 1);
  EXPECT_EQ(store_.load().sessions.at(0).messages.at(0), large);
}

// ---------------------------------------------------------------------------------------------
// File databases: reopen, and SIGKILL.

void fillFixture(BrokerStore& store) {
  store.saveSession("dev-1");
  store.addSubscription("dev-1", {.filter = "cmd/dev-1/#", .qos = 1});
  for (std::int64_t seq = 1; seq <= 50; ++seq) {
    store.addMessage("dev-1", message(seq, "cmd/dev-1/set", "payload-" + std::to_string(seq)));
  }
  store.updateMessage("dev-1", 1, 10, MessageState::Sent);
  store.removeMessage("dev-1", 50);
  store.addInboundQos2("dev-1", 77);
  store.setRetained({.topic = "status/dev-1", .payload = bytes("online"), .qos = 1});
}

BrokerSnapshot fixtureSnapshot() {
  SessionRow session{.clientId = "dev-1", .subscriptions = {{.filter = "cmd/dev-1/#", .qos = 1}}, .inboundQos2 = {77}};
  for (std::int64_t seq = 1; seq <= 49; ++seq) {
    session.messages.push_back(message(seq, "cmd/dev-1/set", "payload-" + std::to_string(seq)));
  }
  session.messages[0].packetId = 10;
  session.messages[0].state = MessageState::Sent;
  return BrokerSnapshot{.sessions = {session}, .retained = {{.topic = "status/dev-1", .payload = bytes("online"), .qos = 1}}};
}

BrokerSnapshot loadFile(const std::string& path, std::string* integrity = nullptr) {
  auto db = Database::open(path);
  migrate(db);
  if (integrity != nullptr) {
    Statement st(db, "PRAGMA integrity_check");
    *integrity = st.step() ? st.columnText(0) : "";
  }
  Writer writer(db);
  BrokerStore store(writer);
  return store.load();
}

TEST(BrokerStoreFile, PersistsAcrossReopen) {
  test::TempDir dir;
  const auto path = dir.file("broker.db");
  {
    auto db = Database::open(path);
    migrate(db);
    Writer writer(db);
    BrokerStore store(writer);
    fillFixture(store);
  }
  EXPECT_EQ(loadFile(path), fixtureSnapshot());
}

// The broker acknowledges a QoS 1/2 message once whenCommitted fires. This checks the promise
// behind that: once the callback has run, the data is there even if the process dies at once,
// without closing the database.
TEST(BrokerStoreFile, CommittedDataSurvivesSigkill) {
  test::TempDir dir;
  const auto path = dir.file("broker.db");
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    // Child: no gtest here; every way out other than the SIGKILL is an exit code the parent reports.
    try {
      auto db = Database::open(path);
      migrate(db);
      Writer writer(db, [](const std::string&) { ::_exit(3); });
      BrokerStore store(writer);
      fillFixture(store);
      std::promise<void> committed;
      store.whenCommitted([&] { committed.set_value(); });
      committed.get_future().wait();
      ::raise(SIGKILL);
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with code " << WEXITSTATUS(status);
  ASSERT_EQ(WTERMSIG(status), SIGKILL);
  // The connection was never closed, so nothing was checkpointed: the data lives in the WAL.
  ASSERT_TRUE(std::filesystem::exists(path + "-wal"));
  EXPECT_GT(std::filesystem::file_size(path + "-wal"), 0u);

  std::string integrity;
  EXPECT_EQ(loadFile(path, &integrity), fixtureSnapshot());
  EXPECT_EQ(integrity, "ok");
}

bool readExactly(int fd, void* out, std::size_t size) {
  auto* p = static_cast<char*>(out);
  while (size > 0) {
    const ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Killed from outside while the writer is busy: everything reported committed is there, what is
// there is a prefix of what was submitted (batches commit whole and in order), and the file is sound.
TEST(BrokerStoreFile, KilledMidStreamKeepsACommittedPrefix) {
  test::TempDir dir;
  const auto path = dir.file("broker.db");
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    ::close(fds[0]);
    try {
      auto db = Database::open(path);
      migrate(db);
      Writer writer(db, [](const std::string&) { ::_exit(3); });
      BrokerStore store(writer);
      store.saveSession("dev");
      const std::string payload(100, 'x');
      for (std::int64_t seq = 0; seq < 200000; ++seq) {
        store.addMessage("dev", message(seq, "t", payload));
        if (seq % 50 == 49) {
          store.whenCommitted([fd = fds[1], committed = seq + 1] {
            if (::write(fd, &committed, sizeof committed) != sizeof committed) ::_exit(5);
          });
        }
      }
      for (;;) ::pause();  // the parent kills us
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);
  std::int64_t reported = 0;
  while (reported < 3000) {
    std::int64_t next = 0;
    if (!readExactly(fds[0], &next, sizeof next)) break;
    reported = next;
  }
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ::close(fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with code " << WEXITSTATUS(status);
  ASSERT_GE(reported, 3000) << "the child stopped reporting commits";

  std::string integrity;
  const auto snapshot = loadFile(path, &integrity);
  EXPECT_EQ(integrity, "ok");
  ASSERT_EQ(snapshot.sessions.size(), 1u);
  const auto& messages = snapshot.sessions[0].messages;
  RecordProperty("reported_committed", std::to_string(reported));
  RecordProperty("found", std::to_string(messages.size()));
  EXPECT_GE(static_cast<std::int64_t>(messages.size()), reported);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    ASSERT_EQ(messages[i].seq, static_cast<std::int64_t>(i)) << "a gap: not a prefix";
  }
}

}  // namespace
}  // namespace fc::storage
