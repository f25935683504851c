#include "loadtest/report.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace fc::loadtest {
namespace {

RunResults sample() {
  RunResults r;
  r.scenario.publishers = 2;
  r.scenario.subscribers = 2;
  r.stopReason = "duration";
  r.connectionsTarget = 4;
  r.connected = 4;
  r.subscribed = 2;
  r.sent = 1000;
  r.expected = 1000;
  r.delivered = 998;
  r.lost = 2;
  r.duplicates = 1;
  r.publishS = 2;
  r.deliveryS = 2.5;
  for (int i = 1; i <= 100; ++i) r.latency.record(static_cast<std::uint64_t>(i) * 1'000'000);
  r.errors["connect timeout"] = 3;
  r.server = ServerSample{42, 1000, 3000, 3048, 3100, 1.5};
  return r;
}

TEST(Report, JsonHasTheMeasurements) {
  const auto j = toJson(sample());
  EXPECT_EQ(j["messages"]["delivered"], 998);
  EXPECT_EQ(j["messages"]["lost"], 2);
  EXPECT_EQ(j["messages"]["duplicated"], 1);
  EXPECT_DOUBLE_EQ(j["messages"]["deliveredPerSec"].get<double>(), 399.2);
  EXPECT_DOUBLE_EQ(j["messages"]["sentPerSec"].get<double>(), 500);
  // Percentiles are bucket bounds, within 1/128 above the value.
  EXPECT_NEAR(j["latencyMs"]["p50"].get<double>(), 50, 50.0 / 128);
  EXPECT_NEAR(j["latencyMs"]["p99"].get<double>(), 99, 99.0 / 128);
  EXPECT_DOUBLE_EQ(j["latencyMs"]["max"].get<double>(), 100);
  EXPECT_EQ(j["errors"]["connect timeout"], 3);
  EXPECT_EQ(j["errorCount"], 3);
  EXPECT_EQ(j["connections"]["connected"], 4);
  // (3048 - 1000) KB over 4 connections.
  EXPECT_DOUBLE_EQ(j["server"]["rssPerConnectionBytes"].get<double>(), 2048.0 * 1024 / 4);
  EXPECT_EQ(j["scenario"]["topology"], "p2p");
}

TEST(Report, TextSummaryNamesEverything) {
  const auto t = toText(sample());
  for (const char* s : {"delivered 998 of 1,000", "lost 2", "duplicated 1", "out of order 0", "p99.9",
                        "3 × connect timeout", "B/connection", "stopped by duration"})
    EXPECT_NE(t.find(s), std::string::npos) << s << "\n" << t;
}

TEST(Report, WithCommas) {
  EXPECT_EQ(withCommas(0), "0");
  EXPECT_EQ(withCommas(999), "999");
  EXPECT_EQ(withCommas(1000), "1,000");
  EXPECT_EQ(withCommas(1234567), "1,234,567");
}

}  // namespace
}  // namespace fc::loadtest
