// The bounded per-device history behind the uplink messages and the journal.
#include <gtest/gtest.h>

#include "server/core/history.hpp"

namespace fc::server::core {
namespace {

struct Item {
  std::int64_t id = 0;
  std::string deviceId;
  std::string text;
};

std::vector<std::string> texts(const std::vector<Item>& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.text);
  return out;
}

TEST(History, IdsGrowAcrossDevicesAndSeenSeesTheNumberedItem) {
  History<Item> h(10);
  std::vector<std::int64_t> seen;
  for (const char* d : {"a", "b", "a"}) h.append(Item{0, d, "x"}, [&](const Item& i) { seen.push_back(i.id); });
  EXPECT_EQ(seen, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(h.page("a", 10).size(), 2u);
  EXPECT_EQ(h.page("a", 10).back().id, 3);
  EXPECT_EQ(h.size(), 3u);
}

TEST(History, KeepsTheNewestPerDevice) {
  History<Item> h(2);
  for (const char* t : {"1", "2", "3"}) h.append(Item{0, "a", t}, [](const Item&) {});
  h.append(Item{0, "b", "other"}, [](const Item&) {});
  EXPECT_EQ(texts(h.page("a", 10)), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(texts(h.page("b", 10)), (std::vector<std::string>{"other"}));
}

TEST(History, ALimitOfZeroKeepsNothingButStillNumbersAndShows) {
  History<Item> h(0);
  int seen = 0;
  h.append(Item{0, "a", "1"}, [&](const Item& i) { seen += static_cast<int>(i.id); });
  h.append(Item{0, "a", "2"}, [&](const Item& i) { seen += static_cast<int>(i.id); });
  EXPECT_EQ(seen, 3);
  EXPECT_TRUE(h.page("a", 10).empty());
}

TEST(History, PagesNewestFirstBeforeAnId) {
  History<Item> h(100);
  for (int i = 1; i <= 5; ++i) h.append(Item{0, "a", std::to_string(i)}, [](const Item&) {});
  EXPECT_EQ(texts(h.page("a", 2)), (std::vector<std::string>{"4", "5"})) << "the newest, oldest first";
  EXPECT_EQ(texts(h.page("a", 2, 4)), (std::vector<std::string>{"2", "3"}));
  EXPECT_TRUE(h.page("a", 2, 1).empty());
  EXPECT_TRUE(h.page("nobody", 2).empty());
}

TEST(History, RestoreContinuesIdsAndEraseAndClearForget) {
  History<Item> h(10);
  h.restore(Item{41, "a", "old"});
  h.restore(Item{7, "b", "older"});
  std::int64_t next = 0;
  h.append(Item{0, "a", "new"}, [&](const Item& i) { next = i.id; });
  EXPECT_EQ(next, 42);
  EXPECT_EQ(texts(h.page("a", 10)), (std::vector<std::string>{"old", "new"}));
  h.erase("a");
  EXPECT_TRUE(h.page("a", 10).empty());
  EXPECT_EQ(h.size(), 1u);
  h.clear();
  EXPECT_EQ(h.size(), 0u);
  h.append(Item{0, "a", "after"}, [&](const Item& i) { next = i.id; });
  EXPECT_EQ(next, 43) << "ids never repeat, even after a reset";
}

}  // namespace
}  // namespace fc::server::core
