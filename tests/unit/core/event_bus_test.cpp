// The event bus and the typed events the platform publishes on it.
#include <gtest/gtest.h>

#include "server/core/event_bus.hpp"
#include "server/core/platform.hpp"

namespace fc::server::core {
namespace {

class FixedClock final : public Clock {
 public:
  TimePoint now() const override { return now_; }
  TimePoint now_ = fromMillis(1'700'000'000'000);
};

Device deviceNamed(const std::string& id) {
  Device d;
  d.id = id;
  d.productId = "p";
  return d;
}

TEST(EventBus, CallsListenersInSubscriptionOrderForEachEvent) {
  EventBus bus;
  std::vector<std::string> calls;
  bus.subscribe([&](const Event& e) { calls.push_back("a:" + deviceIdOf(e)); });
  bus.subscribe([&](const Event& e) { calls.push_back("b:" + deviceIdOf(e)); });
  const std::vector<Event> events{DeviceCreated{deviceNamed("one")}, DeviceCreated{deviceNamed("two")}};
  bus.publish(events);
  EXPECT_EQ(calls, (std::vector<std::string>{"a:one", "b:one", "a:two", "b:two"}));
}

TEST(EventBus, UnsubscribedListenersHearNothingMore) {
  EventBus bus;
  int a = 0, b = 0;
  const auto idA = bus.subscribe([&](const Event&) { ++a; });
  bus.subscribe([&](const Event&) { ++b; });
  bus.publish(DeviceCreated{deviceNamed("d")});
  bus.unsubscribe(idA);
  bus.unsubscribe(12345);  // unknown: nothing happens
  bus.publish(DeviceCreated{deviceNamed("d")});
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
}

TEST(EventBus, AListenerMayUnsubscribeItselfWhileCalled) {
  EventBus bus;
  int calls = 0;
  std::uint64_t id = 0;
  id = bus.subscribe([&](const Event&) {
    ++calls;
    bus.unsubscribe(id);
  });
  int other = 0;
  bus.subscribe([&](const Event&) { ++other; });
  const std::vector<Event> events{DeviceCreated{deviceNamed("a")}, DeviceCreated{deviceNamed("b")}};
  bus.publish(events);  // the list of this publish stays as it was
  bus.publish(DeviceCreated{deviceNamed("c")});
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(other, 3);
}

TEST(Events, DeviceAndTimeOfEveryAlternative) {
  const auto t = fromMillis(1'700'000'000'123);
  Device d = deviceNamed("dev");
  d.createdAt = t;
  Command c;
  c.spec.deviceId = "dev";
  Shadow s{"dev"};
  s.updatedAt = t;
  const std::vector<Event> all{DeviceCreated{d},
                               DeviceUpdated{d, t},
                               DeviceDeleted{d, t},
                               PresenceChanged{d, t},
                               UplinkReceived{UplinkMessage{1, "dev", t}},
                               CommandChanged{c, t},
                               ShadowUpdated{s, "api", true},
                               JournalRecorded{JournalEntry{1, "dev", t}},
                               Lwm2mNotification{"dev", t, nlohmann::json::object()},
                               DeviceLogged{DeviceLogEntry{1, "dev", t}},
                               OtaJobChanged{"job-1", "RUNNING", t},
                               OtaDeviceChanged{"job-1", "dev", "QUEUED", 0, "fw-1", "2.0", -1, 0, "", "", t}};
  ASSERT_EQ(all.size(), std::variant_size_v<Event>) << "one of each";
  for (const auto& e : all) {
    // A job's event concerns no single device.
    EXPECT_EQ(deviceIdOf(e), std::holds_alternative<OtaJobChanged>(e) ? "" : "dev") << e.index();
    EXPECT_EQ(timeOf(e), t) << e.index();
  }
}

class PlatformEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(platform_.createProduct(Product{"p", "", "generic", {}}));
    platform_.subscribe([this](const Event& e) { events_.push_back(e); });
  }
  FixedClock clock_;
  Platform platform_{clock_, nullptr};
  std::vector<Event> events_;
};

TEST_F(PlatformEvents, ALifeOfADeviceInTypedEvents) {
  ASSERT_TRUE(platform_.createDevice(deviceNamed("d")));
  platform_.deviceConnected("d", "mqtt", "127.0.0.1:1");
  platform_.recordUplink("d", "mqtt", "t", {1, 2}, "application/octet-stream");
  platform_.journal("d", "in", "mqtt", "t", {3}, "PUBLISH");
  ASSERT_TRUE(platform_.updateDevice("d", {{"firmwareVersion", "2.0"}}));
  CommandSpec spec;
  spec.deviceId = "d";
  spec.expireSeconds = 0;  // immediate: the device is not reachable, so it fails at once
  ASSERT_TRUE(platform_.sendCommand(spec));
  platform_.deviceDisconnected("d");
  ASSERT_TRUE(platform_.deleteDevice("d"));

  ASSERT_EQ(events_.size(), 8u);
  ASSERT_TRUE(std::holds_alternative<DeviceCreated>(events_[0]));
  ASSERT_TRUE(std::holds_alternative<PresenceChanged>(events_[1]));
  EXPECT_TRUE(std::get<PresenceChanged>(events_[1]).device.online);
  EXPECT_EQ(std::get<PresenceChanged>(events_[1]).device.transport, "mqtt");
  ASSERT_TRUE(std::holds_alternative<UplinkReceived>(events_[2]));
  EXPECT_EQ(std::get<UplinkReceived>(events_[2]).message.payload, (std::vector<std::uint8_t>{1, 2}));
  ASSERT_TRUE(std::holds_alternative<JournalRecorded>(events_[3]));
  EXPECT_EQ(std::get<JournalRecorded>(events_[3]).entry.summary, "PUBLISH");
  ASSERT_TRUE(std::holds_alternative<DeviceUpdated>(events_[4]));
  EXPECT_EQ(std::get<DeviceUpdated>(events_[4]).device.firmwareVersion, "2.0");
  EXPECT_TRUE(std::get<DeviceUpdated>(events_[4]).device.online) << "the device as it is after the change";
  ASSERT_TRUE(std::holds_alternative<CommandChanged>(events_[5]));
  EXPECT_EQ(std::get<CommandChanged>(events_[5]).command.status, CommandStatus::Failed);
  ASSERT_TRUE(std::holds_alternative<PresenceChanged>(events_[6]));
  EXPECT_FALSE(std::get<PresenceChanged>(events_[6]).device.online);
  ASSERT_TRUE(std::holds_alternative<DeviceDeleted>(events_[7]));
  for (const auto& e : events_) EXPECT_EQ(deviceIdOf(e), "d");
}

TEST_F(PlatformEvents, ACommandIsAcceptedBeforeItsFirstEvent) {
  ASSERT_TRUE(platform_.createDevice(deviceNamed("d")));
  events_.clear();
  std::string acceptedId;
  std::size_t eventsWhenAccepted = 99;
  CommandSpec spec;
  spec.deviceId = "d";
  spec.expireSeconds = 0;
  auto c = platform_.sendCommand(spec, [&](const Command& accepted) {
    acceptedId = accepted.id;
    eventsWhenAccepted = events_.size();
  });
  ASSERT_TRUE(c);
  EXPECT_EQ(acceptedId, c->id);
  EXPECT_EQ(eventsWhenAccepted, 0u);
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(std::get<CommandChanged>(events_[0]).command.id, c->id);

  bool called = false;
  spec.deviceId = "ghost";
  EXPECT_FALSE(platform_.sendCommand(spec, [&](const Command&) { called = true; }));
  EXPECT_FALSE(called) << "a refused command is never accepted";
}

TEST_F(PlatformEvents, AnnouncementsForUnknownDevicesAreDropped) {
  ASSERT_TRUE(platform_.createDevice(deviceNamed("d")));
  events_.clear();
  platform_.announce(Lwm2mNotification{"ghost", clock_.now(), {{"path", "/3/0/0"}}});
  platform_.announce(Lwm2mNotification{"d", clock_.now(), {{"path", "/3/0/0"}}});
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(std::get<Lwm2mNotification>(events_[0]).data["path"], "/3/0/0");
}

}  // namespace
}  // namespace fc::server::core
