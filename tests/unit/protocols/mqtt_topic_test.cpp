// Topic names, topic filters and matching (MQTT 3.1.1 §4.7), and UTF-8 validation (§1.5.3).
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/utf8.hpp"
#include "protocols/mqtt/topic.hpp"

namespace {

namespace mqtt = fc::mqtt;

struct Validity {
  std::string topic;
  bool valid;
};

TEST(MqttTopicName, Table) {
  const std::vector<Validity> rows{
      {"sport/tennis/player1", true},
      {"/", true},                  // §4.7.1.1: two empty levels
      {"/finance", true},           // §4.7.3: a leading '/' makes a distinct topic
      {"a//b", true},               // empty middle level
      {"Accounts payable", true},   // §4.7.3: spaces allowed
      {"$SYS/broker/load", true},   // §4.7.2: '$' topics are ordinary names on the wire
      {"\xE2\x82\xAC/price", true},  // multibyte UTF-8 is fine here; validUtf8 is separate
      {"", false},                  // [MQTT-4.7.3-1]
      {"sport/+", false},           // [MQTT-3.3.2-2]
      {"sport/#", false},           // [MQTT-3.3.2-2]
      {"#", false},
      {"+", false},
      {"sport+", false},  // wildcard characters are banned anywhere in a name
      {"a#b", false},
  };
  for (const auto& r : rows) EXPECT_EQ(mqtt::validTopicName(r.topic), r.valid) << r.topic;
}

TEST(MqttTopicFilter, Table) {
  const std::vector<Validity> rows{
      // §4.7.1.2 multi-level wildcard
      {"sport/tennis/player1/#", true},
      {"sport/#", true},
      {"#", true},                        // "#" alone is valid and matches everything
      {"sport/tennis#", false},           // [MQTT-4.7.1-2]
      {"sport/tennis/#/ranking", false},  // [MQTT-4.7.1-2]
      {"#/", false},                      // '#' followed by an (empty) level
      {"##", false},
      {"a/#b", false},
      // §4.7.1.3 single-level wildcard
      {"+", true},
      {"+/tennis/#", true},
      {"sport/+/player1", true},
      {"+/+", true},
      {"/+", true},
      {"sport+", false},  // [MQTT-4.7.1-3]
      {"++", false},
      {"a/+b", false},
      {"a/b+/c", false},
      // plain filters and '$'
      {"$SYS/#", true},
      {"$SYS/monitor/+", true},
      {"/", true},
      {"//", true},
      {"Accounts payable", true},
      {"", false},  // [MQTT-4.7.3-1]
  };
  for (const auto& r : rows) EXPECT_EQ(mqtt::validTopicFilter(r.topic), r.valid) << r.topic;
}

struct MatchRow {
  std::string filter;
  std::string name;
  bool matches;
};

TEST(MqttTopicMatch, Table) {
  const std::vector<MatchRow> rows{
      // §4.7.1.2: "sport/tennis/player1/#" examples
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis/player2", false},
      {"sport/#", "sport", true},  // '#' includes the parent level
      {"sport/#", "sports", false},
      {"#", "sport/tennis/player1", true},
      {"#", "/", true},
      {"a/#", "a/", true},
      // §4.7.1.3: "+" examples
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},  // '+' matches an empty level
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+", "finance", true},
      {"a/+/c", "a//c", true},
      {"+/tennis/#", "sport/tennis", true},
      {"+/tennis/#", "sport/tennis/player1/score", true},
      {"+/tennis/#", "sport/golf", false},
      // §4.7.2 [MQTT-4.7.2-1]: leading wildcards do not match '$' topics
      {"#", "$SYS/monitor/Clients", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"+", "$SYS", false},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"$SYS/#", "$SYS", true},
      {"a/#", "a/$SYS", true},  // '$' only matters in the first level
      // §4.7.3: exact, case-sensitive comparison
      {"ACCOUNTS", "Accounts", false},
      {"Accounts payable", "Accounts payable", true},
      {"/finance", "finance", false},
      {"finance", "/finance", false},
      {"a/b", "a/b", true},
      {"a/b", "a/b/c", false},
      {"a/b/c", "a/b", false},
      {"a/b", "a/b/", false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(mqtt::topicMatches(r.filter, r.name), r.matches) << r.filter << " vs " << r.name;
  }
}

struct Utf8Row {
  const char* name;
  std::string bytes;
  bool valid;
};

TEST(MqttUtf8, Table) {
  using namespace std::string_literals;
  const std::vector<Utf8Row> rows{
      {"empty", "", true},
      {"ascii", "hello/world", true},
      {"two-byte U+00E9", "\xC3\xA9", true},
      {"three-byte U+20AC", "\xE2\x82\xAC", true},
      {"four-byte U+1F600", "\xF0\x9F\x98\x80", true},
      {"largest U+10FFFF", "\xF4\x8F\xBF\xBF", true},
      {"before surrogates U+D7FF", "\xED\x9F\xBF", true},
      {"after surrogates U+E000", "\xEE\x80\x80", true},
      {"BOM U+FEFF", "\xEF\xBB\xBF", true},  // [MQTT-1.5.3-3]: must not be skipped or stripped
      {"U+0001 control", "\x01", true},      // discouraged (§1.5.3) but not ill-formed
      {"U+0000", "a\0b"s, false},            // [MQTT-1.5.3-2]
      {"overlong U+0000 C0 80", "\xC0\x80", false},
      {"overlong C1 BF", "\xC1\xBF", false},
      {"overlong 3-byte E0 80 80", "\xE0\x80\x80", false},
      {"overlong 3-byte E0 9F BF", "\xE0\x9F\xBF", false},
      {"overlong 4-byte F0 80 80 80", "\xF0\x80\x80\x80", false},
      {"overlong 4-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF", false},
      {"high surrogate U+D800", "\xED\xA0\x80", false},  // [MQTT-1.5.3-1]
      {"low surrogate U+DFFF", "\xED\xBF\xBF", false},
      {"above U+10FFFF F4 90 80 80", "\xF4\x90\x80\x80", false},
      {"lead F5", "\xF5\x80\x80\x80", false},
      {"lead FF", "\xFF", false},
      {"lone continuation", "\x80", false},
      {"continuation after ascii", "a\xBF", false},
      {"truncated 2-byte", "\xC3", false},
      {"truncated 3-byte", "\xE2\x82", false},
      {"truncated 4-byte", "\xF0\x9F\x98", false},
      {"truncated then ascii", "\xE2\x82z", false},
      {"4-byte with ascii third", "\xF0\x9F" "a\x80", false},
      {"valid then truncated", "ok\xC3\xA9\xE2", false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(mqtt::validUtf8(r.bytes), r.valid) << r.name;
    // The shared RFC 3629 check every codec uses; only MQTT refuses U+0000 on top of it.
    EXPECT_EQ(fc::isUtf8(r.bytes), r.valid || r.name == std::string("U+0000")) << r.name;
  }
}

}  // namespace
