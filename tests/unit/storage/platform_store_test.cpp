// Tests of PlatformStore: every mutation round-tripped through load(), upserts in place, the delete
// cascades, per-device trimming of messages and journal, the admin reset (platform and broker rows),
// persistence across reopen, and migration 2 over a version-1 database that holds broker rows.
#include "storage/platform_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdint>
#include <future>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "storage/broker_store.hpp"
#include "storage/migrations.hpp"
#include "tests/unit/storage/test_support.hpp"

namespace fc::storage {
namespace {

constexpr std::string_view kPlatformTables[] = {"products", "devices",  "commands",     "messages",
                                                "journal",  "shadows", "device_tokens"};
constexpr std::string_view kBrokerTables[] = {"broker_sessions", "broker_subscriptions", "broker_messages",
                                              "broker_inbound_qos2", "broker_retained"};

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

ProductRow product(std::string id) {
  return ProductRow{
      .id = id, .name = "Product " + id, .dialect = "aliyun", .keys = R"({"productKey":"pk"})", .createdAt = 1000};
}

DeviceRow device(std::string id, std::string productId) {
  return DeviceRow{.id = id,
                   .productId = std::move(productId),
                   .name = "Device " + id,
                   .identifiers = R"({"deviceName":")" + id + R"("})",
                   .createdAt = 2000};
}

CommandRow command(std::string id, std::int64_t seq, std::string deviceId) {
  return CommandRow{.id = std::move(id),
                    .seq = seq,
                    .deviceId = std::move(deviceId),
                    .name = "reboot",
                    .payload = bytes("{}"),
                    .status = "PENDING",
                    .createdAt = 3000};
}

MessageRow message(std::int64_t id, std::string deviceId) {
  return MessageRow{.id = id,
                    .deviceId = std::move(deviceId),
                    .time = 4000 + id,
                    .transport = "mqtt",
                    .topic = "up",
                    .payload = bytes("m" + std::to_string(id)),
                    .contentType = "application/json"};
}

JournalRow entry(std::int64_t id, std::string deviceId) {
  return JournalRow{.id = id,
                    .deviceId = std::move(deviceId),
                    .time = 5000 + id,
                    .direction = "in",
                    .transport = "mqtt",
                    .topic = "up",
                    .raw = bytes("j" + std::to_string(id)),
                    .summary = "PUBLISH"};
}

ShadowRow shadow(std::string deviceId) {
  return ShadowRow{.deviceId = std::move(deviceId), .desired = R"({"led":"on"})", .version = 1, .updatedAt = 6000};
}

/// A device with one row of every kind, ids derived from `n` so devices do not collide.
void fillDevice(PlatformStore& store, const std::string& id, const std::string& productId, std::int64_t n) {
  store.upsertDevice(device(id, productId));
  store.upsertCommand(command("cmd-" + id, n, id));
  store.appendMessage(message(n, id), 100);
  store.appendJournal(entry(n, id), 100);
  store.upsertShadow(shadow(id));
  store.putToken(TokenRow{.token = "tok-" + id, .kind = "aliyun.http", .deviceId = id, .expiresAt = n});
}

int count(Writer& writer, const std::string& sql) {
  int n = -1;
  writer.read([&](Database& db) {
    Statement st(db, sql);
    if (st.step()) n = st.columnInt(0);
  });
  return n;
}

int rowsOf(Writer& writer, std::string_view table) {
  return count(writer, "SELECT count(*) FROM " + std::string(table));
}

/// Every table of the device's rows, with the column naming the device.
int rowsOfDevice(Writer& writer, std::string_view table, const std::string& deviceId) {
  const std::string column = table == "devices" ? "id" : "device_id";
  return count(writer, "SELECT count(*) FROM " + std::string(table) + " WHERE " + column + " = '" + deviceId + "'");
}

std::vector<std::int64_t> messageIds(const PlatformSnapshot& snapshot, const std::string& deviceId) {
  std::vector<std::int64_t> ids;
  for (const auto& m : snapshot.messages) {
    if (m.deviceId == deviceId) ids.push_back(m.id);
  }
  return ids;
}

std::vector<std::int64_t> journalIds(const PlatformSnapshot& snapshot, const std::string& deviceId) {
  std::vector<std::int64_t> ids;
  for (const auto& j : snapshot.journal) {
    if (j.deviceId == deviceId) ids.push_back(j.id);
  }
  return ids;
}

/// One in-memory database, migrated, behind a Writer that records its errors.
class PlatformStoreTest : public ::testing::Test {
 protected:
  PlatformStoreTest() { migrate(db_); }

  Database db_ = Database::open(":memory:");
  test::ErrorLog errors_;
  Writer writer_{db_, errors_.handler()};
  PlatformStore store_{writer_};
};

TEST_F(PlatformStoreTest, EmptyDatabaseLoadsNothing) { EXPECT_EQ(store_.load(), PlatformSnapshot{}); }

TEST_F(PlatformStoreTest, EveryFieldRoundTrips) {
  const ProductRow p2{.id = "p2",
                      .name = "Zweites Produkt ✓",
                      .dialect = "oceanconnect",
                      .keys = R"({"productKey":"a1B","productSecret":"s\"ecret"})",
                      .createdAt = -5};
  const ProductRow p1{.id = "p1", .name = "", .dialect = "", .keys = "{}", .createdAt = 1'700'000'000'123};
  const DeviceRow seen{.id = "d1",
                       .productId = "p2",
                       .name = "sensor",
                       .identifiers = R"({"sn":"123","mac":"aa"})",
                       .secrets = R"({"psk":"00ff"})",
                       .firmwareVersion = "1.2.3",
                       .lastSeen = 1'700'000'000'999,
                       .createdAt = 1'699'000'000'000};
  const DeviceRow never{.id = "d0", .productId = "p1", .name = "new", .createdAt = 7};
  const CommandRow full{
      .id = "c-full",
      .seq = 9,
      .deviceId = "d1",
      .name = "set",
      .payload = {0x00, 0xff, 0x7f, 0x00},
      .binary = true,
      .expireSeconds = 172'800,
      .maxRetransmit = std::numeric_limits<std::uint32_t>::max(),
      .ackTimeoutMs = std::numeric_limits<std::uint32_t>::max(),
      .callbackUrl = "http://127.0.0.1:9/cb",
      .status = "SUCCESSFUL",
      .createdAt = 100,
      .expiresAt = 200,
      .sentAt = 300,
      .ackDeadline = 400,
      .deliveredAt = 500,
      .completedAt = 600,
      .sends = std::numeric_limits<std::uint32_t>::max(),
      .result = R"({"ok":true})",
      .reason = "because",
  };
  const CommandRow bare{.id = "c-bare", .seq = 2, .deviceId = "d0"};  // empty payload, every time unset
  const MessageRow m7{.id = 7,
                      .deviceId = "d1",
                      .time = 11,
                      .transport = "coap",
                      .topic = "/t/d",
                      .payload = {0x00, 0x01},
                      .contentType = "application/octet-stream"};
  const MessageRow m3{.id = 3, .deviceId = "d0", .time = 12};  // empty strings, empty payload
  const JournalRow j8{.id = 8,
                      .deviceId = "d1",
                      .time = 13,
                      .direction = "out",
                      .transport = "mqtt",
                      .topic = "cmd/d1",
                      .raw = {0x30, 0x00, 0xff},
                      .summary = "PUBLISH cmd/d1 qos1"};
  const JournalRow j4{.id = 4, .deviceId = "d0", .time = 14, .direction = "in"};
  const ShadowRow s1{.deviceId = "d1",
                     .desired = R"({"a":{"b":[1,2,null]}})",
                     .reported = R"({"a":1})",
                     .version = 42,
                     .updatedAt = 99};
  const ShadowRow s0{.deviceId = "d0"};

  // Out of order everywhere, to see that load() sorts.
  store_.upsertProduct(p2);
  store_.upsertProduct(p1);
  store_.upsertDevice(seen);
  store_.upsertDevice(never);
  store_.upsertCommand(full);
  store_.upsertCommand(bare);
  store_.appendMessage(m7, 10);
  store_.appendMessage(m3, 10);
  store_.appendJournal(j8, 10);
  store_.appendJournal(j4, 10);
  store_.upsertShadow(s1);
  store_.upsertShadow(s0);

  const PlatformSnapshot expected{
      .products = {p1, p2},
      .devices = {never, seen},
      .commands = {bare, full},
      .messages = {m3, m7},
      .journal = {j4, j8},
      .shadows = {s0, s1},
  };
  EXPECT_EQ(store_.load(), expected);
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(PlatformStoreTest, UpsertsReplaceEveryColumnInPlace) {
  store_.upsertProduct(product("p"));
  store_.upsertProduct(product("other"));
  fillDevice(store_, "d", "p", 1);

  const ProductRow p{.id = "p", .name = "renamed", .dialect = "onenet", .keys = R"({"k":2})", .createdAt = 77};
  DeviceRow d = device("d", "other");  // moved to another product
  d.secrets = R"({"deviceSecret":"x"})";
  d.firmwareVersion = "2.0";
  CommandRow c = command("cmd-d", 1, "d");
  c.status = "DELIVERED";
  c.sentAt = 10;
  c.deliveredAt = 11;
  c.sends = 2;
  CommandRow again = c;  // and back: a time can be cleared too
  again.deliveredAt.reset();
  again.status = "SENT";
  const ShadowRow s{.deviceId = "d", .desired = "{}", .reported = R"({"t":21.5})", .version = 2, .updatedAt = 9};

  store_.upsertProduct(p);
  store_.upsertDevice(d);
  store_.upsertCommand(c);
  store_.upsertCommand(again);
  store_.upsertShadow(s);

  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.products, (std::vector<ProductRow>{product("other"), p}));
  EXPECT_EQ(snapshot.devices, (std::vector<DeviceRow>{d}));
  EXPECT_EQ(snapshot.commands, (std::vector<CommandRow>{again}));
  EXPECT_EQ(snapshot.shadows, (std::vector<ShadowRow>{s}));
  // Upserting the product and the device did not cascade into their rows.
  EXPECT_EQ(snapshot.messages, (std::vector<MessageRow>{message(1, "d")}));
  EXPECT_EQ(snapshot.journal, (std::vector<JournalRow>{entry(1, "d")}));
  EXPECT_TRUE(errors_.messages().empty());

  // The device now belongs to "other": deleting its old product leaves it alone.
  store_.deleteProduct("p");
  EXPECT_EQ(store_.load().devices, (std::vector<DeviceRow>{d}));
}

TEST_F(PlatformStoreTest, DeleteProductTakesItsDevicesAndEverythingOfTheirsAndOnlyThat) {
  store_.upsertProduct(product("gone"));
  store_.upsertProduct(product("kept"));
  fillDevice(store_, "g1", "gone", 1);
  fillDevice(store_, "g2", "gone", 2);
  fillDevice(store_, "k1", "kept", 3);
  store_.deleteProduct("gone");
  store_.deleteProduct("never-existed");

  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.products, (std::vector<ProductRow>{product("kept")}));
  EXPECT_EQ(snapshot.devices, (std::vector<DeviceRow>{device("k1", "kept")}));
  EXPECT_EQ(snapshot.commands, (std::vector<CommandRow>{command("cmd-k1", 3, "k1")}));
  EXPECT_EQ(snapshot.messages, (std::vector<MessageRow>{message(3, "k1")}));
  EXPECT_EQ(snapshot.journal, (std::vector<JournalRow>{entry(3, "k1")}));
  EXPECT_EQ(snapshot.shadows, (std::vector<ShadowRow>{shadow("k1")}));
  for (const auto table : kPlatformTables) {
    if (table == "products") continue;
    for (const char* gone : {"g1", "g2"}) EXPECT_EQ(rowsOfDevice(writer_, table, gone), 0) << table << " " << gone;
  }
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(PlatformStoreTest, DeleteDeviceTakesItsRowsAndOnlyThose) {
  store_.upsertProduct(product("p"));
  fillDevice(store_, "gone", "p", 1);
  fillDevice(store_, "kept", "p", 2);
  store_.appendMessage(message(3, "gone"), 100);
  store_.appendJournal(entry(3, "gone"), 100);
  store_.deleteDevice("gone");
  store_.deleteDevice("never-existed");

  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.products, (std::vector<ProductRow>{product("p")}));
  EXPECT_EQ(snapshot.devices, (std::vector<DeviceRow>{device("kept", "p")}));
  EXPECT_EQ(snapshot.commands, (std::vector<CommandRow>{command("cmd-kept", 2, "kept")}));
  EXPECT_EQ(snapshot.messages, (std::vector<MessageRow>{message(2, "kept")}));
  EXPECT_EQ(snapshot.journal, (std::vector<JournalRow>{entry(2, "kept")}));
  EXPECT_EQ(snapshot.shadows, (std::vector<ShadowRow>{shadow("kept")}));
  for (const auto table : kPlatformTables) {
    if (table == "products") continue;
    EXPECT_EQ(rowsOfDevice(writer_, table, "gone"), 0) << table;
  }
}

TEST_F(PlatformStoreTest, ADeletedDeviceComesBackEmpty) {
  store_.upsertProduct(product("p"));
  fillDevice(store_, "d", "p", 1);
  store_.deleteDevice("d");
  store_.upsertDevice(device("d", "p"));
  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.devices, (std::vector<DeviceRow>{device("d", "p")}));
  EXPECT_TRUE(snapshot.commands.empty());
  EXPECT_TRUE(snapshot.messages.empty());
  EXPECT_TRUE(snapshot.journal.empty());
  EXPECT_TRUE(snapshot.shadows.empty());
}

TEST_F(PlatformStoreTest, AppendKeepsExactlyTheNewestNOfThatDevice) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("a", "p"));
  store_.upsertDevice(device("b", "p"));
  // b holds more than a's limit; a's trims must not touch it.
  for (std::int64_t id = 1; id <= 5; ++id) {
    store_.appendMessage(message(id, "b"), 100);
    store_.appendJournal(entry(id, "b"), 100);
  }
  // Up to the limit nothing goes.
  for (std::int64_t id = 10; id <= 12; ++id) {
    store_.appendMessage(message(id, "a"), 3);
    store_.appendJournal(entry(id, "a"), 3);
  }
  auto snapshot = store_.load();
  EXPECT_EQ(messageIds(snapshot, "a"), (std::vector<std::int64_t>{10, 11, 12}));
  EXPECT_EQ(journalIds(snapshot, "a"), (std::vector<std::int64_t>{10, 11, 12}));

  // Past it, the oldest go; ids of b interleave with a's to show the trim is per device, not by id.
  for (std::int64_t id = 13; id <= 30; ++id) {
    store_.appendMessage(message(id * 2, "a"), 3);
    store_.appendJournal(entry(id * 2, "a"), 3);
    if (id % 5 == 0) {
      store_.appendMessage(message(id * 2 + 1, "b"), 100);
      store_.appendJournal(entry(id * 2 + 1, "b"), 100);
    }
  }
  snapshot = store_.load();
  EXPECT_EQ(messageIds(snapshot, "a"), (std::vector<std::int64_t>{56, 58, 60}));
  EXPECT_EQ(journalIds(snapshot, "a"), (std::vector<std::int64_t>{56, 58, 60}));
  const std::vector<std::int64_t> b{1, 2, 3, 4, 5, 31, 41, 51, 61};
  EXPECT_EQ(messageIds(snapshot, "b"), b);
  EXPECT_EQ(journalIds(snapshot, "b"), b);
  EXPECT_EQ(snapshot.messages.back(), message(61, "b"));  // whole rows, not just ids

  // A smaller limit on b's next append trims b down to it in one go.
  store_.appendMessage(message(100, "b"), 2);
  snapshot = store_.load();
  EXPECT_EQ(messageIds(snapshot, "b"), (std::vector<std::int64_t>{61, 100}));
  EXPECT_EQ(journalIds(snapshot, "b"), b);  // the journal is trimmed apart from the messages
  EXPECT_EQ(messageIds(snapshot, "a"), (std::vector<std::int64_t>{56, 58, 60}));
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(PlatformStoreTest, AKeepOfZeroKeepsNothingAndSizeMaxKeepsEverything) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("d", "p"));
  constexpr auto kAll = std::numeric_limits<std::size_t>::max();
  for (std::int64_t id = 1; id <= 4; ++id) {
    store_.appendMessage(message(id, "d"), kAll);
    store_.appendJournal(entry(id, "d"), kAll);
  }
  EXPECT_EQ(store_.load().messages.size(), 4u);
  store_.appendMessage(message(5, "d"), 0);
  store_.appendJournal(entry(5, "d"), 0);
  const auto snapshot = store_.load();
  EXPECT_TRUE(snapshot.messages.empty());
  EXPECT_TRUE(snapshot.journal.empty());
  EXPECT_TRUE(errors_.messages().empty());
}

// The trim runs after every journal append, i.e. for every MQTT exchange: it must be index work.
// The plans are taken of the very statements the store prepared on this connection.
TEST_F(PlatformStoreTest, TrimsAreIndexRangesNotScans) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("d", "p"));
  store_.appendMessage(message(1, "d"), 10);
  store_.appendJournal(entry(1, "d"), 10);
  writer_.read([](Database& db) {
    int found = 0;
    for (sqlite3_stmt* st = sqlite3_next_stmt(db.handle(), nullptr); st != nullptr;
         st = sqlite3_next_stmt(db.handle(), st)) {
      const std::string sql = sqlite3_sql(st);
      for (const std::string table : {"messages", "journal"}) {
        if (sql.rfind("DELETE FROM " + table + " ", 0) != 0) continue;
        ++found;
        Statement plan(db, "EXPLAIN QUERY PLAN " + sql);
        int viaIndex = 0;
        while (plan.step()) {
          const std::string detail = plan.columnText(3);
          EXPECT_EQ(detail.find("SCAN"), std::string::npos) << sql << "\n" << detail;
          EXPECT_EQ(detail.find("TEMP B-TREE"), std::string::npos) << sql << "\n" << detail;
          if (detail.find("INDEX " + table + "_device (device_id=?") != std::string::npos) ++viaIndex;
        }
        EXPECT_EQ(viaIndex, 2) << sql;  // the delete's range and the subquery's walk
      }
    }
    EXPECT_EQ(found, 2);
  });
}

// A foreign key without an index under its child column turns every cascade, and every delete of a
// parent, into a scan of the child table.
TEST_F(PlatformStoreTest, EveryForeignKeyLeadsAnIndex) {
  writer_.read([](Database& db) {
    std::vector<std::string> tables;
    Statement list(db, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name");
    while (list.step()) tables.push_back(list.columnText(0));
    int keys = 0;
    for (const auto& table : tables) {
      Statement fks(db, "SELECT \"from\" FROM pragma_foreign_key_list(?1)");
      fks.bind(1, table);
      while (fks.step()) {
        ++keys;
        const std::string column = fks.columnText(0);
        Statement leading(db,
                          "SELECT count(*) FROM pragma_index_list(?1) AS l, pragma_index_info(l.name) AS i "
                          "WHERE i.seqno = 0 AND i.name = ?2");
        leading.bind(1, table).bind(2, column);
        ASSERT_TRUE(leading.step());
        EXPECT_GE(leading.columnInt(0), 1) << table << "." << column;
      }
    }
    // broker: 3; platform: devices, commands, messages, journal, shadows, device_tokens; OTA: ota_job_devices
    EXPECT_EQ(keys, 3 + 6 + 1);
  });
}

TEST_F(PlatformStoreTest, ATokenReplacesTheDevicesEarlierTokenOfItsKindOnly) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("d1", "p"));
  store_.upsertDevice(device("d2", "p"));
  const TokenRow http1{.token = "h1", .kind = "aliyun.http", .deviceId = "d1", .expiresAt = 5};
  const TokenRow iot1{.token = "i1", .kind = "aliyun.iot", .deviceId = "d1", .secret = "pair", .expiresAt = 6};
  const TokenRow http2{.token = "h2", .kind = "aliyun.http", .deviceId = "d2", .expiresAt = 7};
  store_.putToken(http1);
  store_.putToken(iot1);
  store_.putToken(http2);
  EXPECT_EQ(store_.load().tokens, (std::vector<TokenRow>{http1, http2, iot1}));

  const TokenRow http1b{.token = "h1b", .kind = "aliyun.http", .deviceId = "d1", .expiresAt = 9};
  store_.putToken(http1b);
  EXPECT_EQ(store_.load().tokens, (std::vector<TokenRow>{http1b, http2, iot1}));

  store_.putToken(TokenRow{.token = "orphan", .kind = "aliyun.http", .deviceId = "nobody", .expiresAt = 1});
  EXPECT_EQ(store_.load().tokens.size(), 3u);
  EXPECT_EQ(errors_.messages().size(), 1u) << "a token of an unknown device fails its foreign key";
}

TEST_F(PlatformStoreTest, ResetAllEmptiesPlatformAndBrokerTables) {
  BrokerStore broker(writer_);
  broker.saveSession("dev");
  broker.addSubscription("dev", {.filter = "cmd/#", .qos = 1});
  broker.addMessage("dev", SessionMessageRow{.seq = 1, .topic = "cmd/x", .payload = bytes("p"), .qos = 1});
  broker.addInboundQos2("dev", 7);
  broker.setRetained({.topic = "status", .payload = bytes("on"), .qos = 0});
  store_.upsertProduct(product("p"));
  fillDevice(store_, "d1", "p", 1);
  fillDevice(store_, "d2", "p", 2);
  for (const auto table : kPlatformTables) ASSERT_GT(rowsOf(writer_, table), 0) << table;
  for (const auto table : kBrokerTables) ASSERT_GT(rowsOf(writer_, table), 0) << table;

  store_.resetAll();
  EXPECT_EQ(store_.load(), PlatformSnapshot{});
  EXPECT_EQ(broker.load(), BrokerSnapshot{});
  for (const auto table : kPlatformTables) EXPECT_EQ(rowsOf(writer_, table), 0) << table;
  for (const auto table : kBrokerTables) EXPECT_EQ(rowsOf(writer_, table), 0) << table;

  // Queued behind the reset in the same batch, new rows land in the empty database.
  store_.upsertProduct(product("p"));
  fillDevice(store_, "d1", "p", 1);
  store_.resetAll();
  store_.upsertProduct(product("fresh"));
  broker.saveSession("fresh");
  EXPECT_EQ(store_.load(), PlatformSnapshot{.products = {product("fresh")}});
  EXPECT_EQ(broker.load(), BrokerSnapshot{.sessions = {SessionRow{.clientId = "fresh"}}});
  EXPECT_TRUE(errors_.messages().empty());
}

TEST_F(PlatformStoreTest, RowsForAnUnknownParentAreRefusedAndTheRestCommits) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("orphan", "no-such-product"));
  store_.upsertCommand(command("c", 1, "ghost"));
  store_.appendMessage(message(1, "ghost"), 10);
  store_.appendJournal(entry(1, "ghost"), 10);
  store_.upsertShadow(shadow("ghost"));
  fillDevice(store_, "d", "p", 2);

  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.devices, (std::vector<DeviceRow>{device("d", "p")}));
  EXPECT_EQ(snapshot.commands, (std::vector<CommandRow>{command("cmd-d", 2, "d")}));
  EXPECT_EQ(snapshot.messages, (std::vector<MessageRow>{message(2, "d")}));
  EXPECT_EQ(snapshot.journal, (std::vector<JournalRow>{entry(2, "d")}));
  EXPECT_EQ(snapshot.shadows, (std::vector<ShadowRow>{shadow("d")}));
  const auto messages = errors_.messages();
  ASSERT_EQ(messages.size(), 5u);
  for (const auto& m : messages) EXPECT_NE(m.find("FOREIGN KEY"), std::string::npos) << m;
}

TEST_F(PlatformStoreTest, TextThatIsNotJsonAndAnUnknownDirectionAreRefused) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("d", "p"));
  auto badKeys = product("q");
  badKeys.keys = "productKey=pk";
  auto badSecrets = device("e", "p");
  badSecrets.secrets = "{";
  auto badShadow = shadow("d");
  badShadow.reported = "";
  auto sideways = entry(1, "d");
  sideways.direction = "sideways";
  store_.upsertProduct(badKeys);
  store_.upsertDevice(badSecrets);
  store_.upsertShadow(badShadow);
  store_.appendJournal(sideways, 10);

  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.products, (std::vector<ProductRow>{product("p")}));
  EXPECT_EQ(snapshot.devices, (std::vector<DeviceRow>{device("d", "p")}));
  EXPECT_TRUE(snapshot.shadows.empty());
  EXPECT_TRUE(snapshot.journal.empty());
  const auto messages = errors_.messages();
  ASSERT_EQ(messages.size(), 4u);
  for (const auto& m : messages) EXPECT_NE(m.find("CHECK constraint"), std::string::npos) << m;
}

TEST_F(PlatformStoreTest, ADuplicateMessageOrJournalIdIsRefused) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("d", "p"));
  store_.appendMessage(message(1, "d"), 10);
  auto second = message(1, "d");
  second.payload = bytes("second");
  store_.appendMessage(second, 10);
  store_.appendJournal(entry(1, "d"), 10);
  store_.appendJournal(entry(1, "d"), 10);
  const auto snapshot = store_.load();
  EXPECT_EQ(snapshot.messages, (std::vector<MessageRow>{message(1, "d")}));
  EXPECT_EQ(snapshot.journal, (std::vector<JournalRow>{entry(1, "d")}));
  EXPECT_EQ(errors_.messages().size(), 2u);
}

TEST_F(PlatformStoreTest, WhenCommittedRunsAfterTheMutationsBeforeIt) {
  store_.upsertProduct(product("p"));
  store_.upsertDevice(device("d", "p"));
  CommandRow large = command("big", 1, "d");
  large.payload.resize(1 << 20);
  for (std::size_t i = 0; i < large.payload.size(); ++i) large.payload[i] = static_cast<std::uint8_t>(i * 31);
  store_.upsertCommand(large);
  std::promise<int> rows;
  store_.whenCommitted([&] {
    // On the writer thread, after the commit: reading the connection directly is safe here
    // only because the writer is between batches and nothing else uses it in this test.
    Statement st(db_, "SELECT count(*) FROM commands");
    rows.set_value(st.step() ? st.columnInt(0) : -1);
  });
  EXPECT_EQ(rows.get_future().get(), 1);
  EXPECT_EQ(store_.load().commands, (std::vector<CommandRow>{large}));
}

// ---------------------------------------------------------------------------------------------
// File databases: reopen, and migration from version 1.

void fillFixture(PlatformStore& store) {
  store.upsertProduct(product("p1"));
  store.upsertProduct(product("p2"));
  fillDevice(store, "d1", "p1", 1);
  fillDevice(store, "d2", "p2", 2);
  for (std::int64_t id = 10; id < 60; ++id) {
    store.appendMessage(message(id, "d1"), 20);
    store.appendJournal(entry(id, "d1"), 30);
  }
  auto sent = command("cmd-d1", 1, "d1");
  sent.status = "SENT";
  sent.sentAt = 123;
  store.upsertCommand(sent);
  store.deleteProduct("p2");
}

PlatformSnapshot fixtureSnapshot() {
  auto sent = command("cmd-d1", 1, "d1");
  sent.status = "SENT";
  sent.sentAt = 123;
  PlatformSnapshot snapshot{
      .products = {product("p1")},
      .devices = {device("d1", "p1")},
      .commands = {sent},
      .shadows = {shadow("d1")},
      .tokens = {TokenRow{.token = "tok-d1", .kind = "aliyun.http", .deviceId = "d1", .expiresAt = 1}},
  };
  for (std::int64_t id = 40; id < 60; ++id) snapshot.messages.push_back(message(id, "d1"));
  for (std::int64_t id = 30; id < 60; ++id) snapshot.journal.push_back(entry(id, "d1"));
  return snapshot;
}

TEST(PlatformStoreFile, PersistsAcrossReopen) {
  test::TempDir dir;
  const auto path = dir.file("platform.db");
  {
    auto db = Database::open(path);
    migrate(db);
    Writer writer(db);
    PlatformStore store(writer);
    fillFixture(store);
  }
  auto db = Database::open(path);
  migrate(db);  // already at the latest version: a no-op
  test::ErrorLog errors;
  Writer writer(db, errors.handler());
  PlatformStore store(writer);
  EXPECT_EQ(store.load(), fixtureSnapshot());

  // Still a working store after the reopen: the trim picks up where it was.
  store.appendMessage(message(60, "d1"), 20);
  const auto snapshot = store.load();
  ASSERT_EQ(snapshot.messages.size(), 20u);
  EXPECT_EQ(snapshot.messages.front().id, 41);
  EXPECT_EQ(snapshot.messages.back().id, 60);
  EXPECT_TRUE(errors.messages().empty());
}

TEST(PlatformStoreFile, MigratingFromVersion1KeepsTheBrokerRows) {
  test::TempDir dir;
  const auto path = dir.file("v1.db");
  BrokerSnapshot before;
  {
    // A database as the previous release left it: schema version 1, with broker rows.
    auto db = Database::open(path);
    migrate(db, migrationScripts().first(1));
    ASSERT_EQ(schemaVersion(db), 1);
    Writer writer(db);
    BrokerStore broker(writer);
    broker.saveSession("dev");
    broker.addSubscription("dev", {.filter = "cmd/dev/#", .qos = 2});
    broker.addMessage("dev", SessionMessageRow{.seq = 5,
                                               .topic = "cmd/dev/x",
                                               .payload = {0x00, 0x01},
                                               .qos = 2,
                                               .packetId = 9,
                                               .state = MessageState::Sent});
    broker.addInboundQos2("dev", 3);
    broker.setRetained({.topic = "status/dev", .payload = bytes("online"), .qos = 1});
    before = broker.load();
    ASSERT_EQ(before.sessions.size(), 1u);
  }

  auto db = Database::open(path);
  EXPECT_EQ(schemaVersion(db), 1);
  migrate(db);
  EXPECT_EQ(schemaVersion(db), static_cast<int>(migrationScripts().size()));
  {
    Statement check(db, "PRAGMA foreign_key_check");
    EXPECT_FALSE(check.step());
  }
  test::ErrorLog errors;
  Writer writer(db, errors.handler());
  BrokerStore broker(writer);
  PlatformStore platform(writer);
  EXPECT_EQ(broker.load(), before);
  EXPECT_EQ(platform.load(), PlatformSnapshot{});

  fillFixture(platform);
  EXPECT_EQ(platform.load(), fixtureSnapshot());
  EXPECT_EQ(broker.load(), before);  // the platform's cascades stay on their side
  EXPECT_TRUE(errors.messages().empty());
}

}  // namespace
}  // namespace fc::storage
