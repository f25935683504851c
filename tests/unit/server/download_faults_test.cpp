// Download faults (docs/ota.md, "Download faults"): the JSON form, refusals, the HTTP/CoAP status
// mapping and what happens to the bytes [a, b) of a response.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "server/ota/download_faults.hpp"

namespace {

namespace ota = fc::server::ota;
using nlohmann::json;
using Stop = ota::BytePlan::Stop;

ota::DownloadFaults parse(const json& j) {
  auto f = ota::parseFaults(j);
  EXPECT_TRUE(f) << j.dump() << ": " << (f ? "" : f.error());
  return f ? *f : ota::DownloadFaults{};
}

TEST(DownloadFaults, EveryFaultRoundTripsThroughJson) {
  const json all = {{"corruptAt", 100}, {"truncateAt", 2000},      {"stallAfter", 300}, {"throttleBytesPerSec", 4096},
                    {"failWith", 503},  {"dropConnectionAt", 1500}};
  const auto f = parse(all);
  EXPECT_EQ(f.corruptAt, 100u);
  EXPECT_EQ(f.truncateAt, 2000u);
  EXPECT_EQ(f.stallAfter, 300u);
  EXPECT_EQ(f.throttleBytesPerSec, 4096u);
  EXPECT_EQ(f.dropConnectionAt, 1500u);
  ASSERT_TRUE(f.failWith);
  EXPECT_EQ(f.failWith->http, 503);
  EXPECT_EQ(ota::toJson(f), all);
  EXPECT_EQ(ota::describe(f),
            "corruptAt=100 dropConnectionAt=1500 failWith=503 stallAfter=300 throttleBytesPerSec=4096 truncateAt=2000");
  EXPECT_TRUE(parse(json::object()).empty());
  EXPECT_EQ(ota::toJson(ota::DownloadFaults{}), json::object());
}

TEST(DownloadFaults, BadFaultsAreRefusedWithTheReason) {
  for (const auto& bad :
       {json(nullptr), json::array(), json{{"corruptAt", -1}}, json{{"corruptAt", "10"}}, json{{"truncateAt", 1.5}},
        json{{"throttleBytesPerSec", 0}}, json{{"failWith", 200}}, json{{"failWith", 302}}, json{{"failWith", 600}},
        json{{"failWith", "2.05"}}, json{{"failWith", "4.4"}}, json{{"failWith", "4.32"}}, json{{"failWith", "6.00"}},
        json{{"failWith", true}}, json{{"corruptat", 1}}, json{{"stall", 1}}}) {
    const auto f = ota::parseFaults(bad);
    EXPECT_FALSE(f) << bad.dump();
    if (!f) {
      EXPECT_FALSE(f.error().empty());
    }
  }
  EXPECT_NE(ota::parseFaults(json{{"nope", 1}}).error().find("unknown fault 'nope'"), std::string::npos);
}

TEST(DownloadFaults, FailWithMapsBetweenHttpAndCoap) {
  struct Row {
    json given;
    int http;
    int coapClass, coapDetail;
  };
  for (const auto& row : std::vector<Row>{{503, 503, 5, 3},
                                          {404, 404, 4, 4},
                                          {400, 400, 4, 0},
                                          {413, 413, 4, 13},
                                          {429, 429, 4, 0},  // no CoAP 4.29: the class's generic code
                                          {507, 507, 5, 0},
                                          {"4.04", 404, 4, 4},
                                          {"5.03", 503, 5, 3},
                                          {"4.02", 400, 4, 2},  // Bad Option has no HTTP twin
                                          {"4.08", 400, 4, 8},
                                          {"5.05", 502, 5, 5},
                                          {"4.29", 400, 4, 29}}) {
    const auto f = parse(json{{"failWith", row.given}});
    ASSERT_TRUE(f.failWith) << row.given;
    EXPECT_EQ(f.failWith->http, row.http) << row.given;
    EXPECT_EQ(f.failWith->coapClass, row.coapClass) << row.given;
    EXPECT_EQ(f.failWith->coapDetail, row.coapDetail) << row.given;
    EXPECT_EQ(ota::toJson(f)["failWith"], row.given);  // written back as given
  }
}

TEST(DownloadFaults, WithoutFaultsEveryByteGoes) {
  EXPECT_EQ(ota::planBytes({}, 0, 0, 1000), (ota::BytePlan{1000, std::nullopt, Stop::None}));
  EXPECT_EQ(ota::planBytes({}, 500, 600, 700), (ota::BytePlan{100, std::nullopt, Stop::None}));
}

TEST(DownloadFaults, CorruptionFlipsTheOneByteWhereverItFalls) {
  const auto f = parse({{"corruptAt", 1000}});
  EXPECT_EQ(ota::planBytes(f, 0, 0, 1000).corruptOffset, std::nullopt);  // [0, 1000) ends before it
  EXPECT_EQ(ota::planBytes(f, 0, 1000, 2000).corruptOffset, 1000u);
  EXPECT_EQ(ota::planBytes(f, 900, 990, 1001).corruptOffset, 1000u);  // a resumed response too
  EXPECT_EQ(ota::planBytes(f, 0, 1001, 2000).corruptOffset, std::nullopt);
  std::vector<std::uint8_t> bytes(11, 0x5A);
  ota::applyCorruption(ota::planBytes(f, 0, 990, 1001), 990, bytes.data());
  EXPECT_EQ(bytes[10], 0xA5);
  EXPECT_EQ(bytes[9], 0x5A);
}

TEST(DownloadFaults, TruncationEndsTheImageForEveryResponse) {
  const auto f = parse({{"truncateAt", 1500}});
  EXPECT_EQ(ota::planBytes(f, 0, 0, 1000), (ota::BytePlan{1000, std::nullopt, Stop::None}));
  EXPECT_EQ(ota::planBytes(f, 0, 1000, 2000), (ota::BytePlan{500, std::nullopt, Stop::Truncate}));
  EXPECT_EQ(ota::planBytes(f, 1500, 1500, 2000),
            (ota::BytePlan{0, std::nullopt, Stop::Truncate}));  // resuming does not help
  EXPECT_EQ(ota::planBytes(f, 1800, 1800, 2000), (ota::BytePlan{0, std::nullopt, Stop::Truncate}));
  EXPECT_EQ(ota::planBytes(parse({{"truncateAt", 2000}}), 0, 1000, 2000).stop, Stop::None);  // at the end: nothing cut
}

TEST(DownloadFaults, ADropCutsTheResponseThatCrossesItAndAResumeFromThereIsServed) {
  const auto f = parse({{"dropConnectionAt", 1200}});
  EXPECT_EQ(ota::planBytes(f, 0, 1000, 2000), (ota::BytePlan{200, std::nullopt, Stop::Drop}));
  EXPECT_EQ(ota::planBytes(f, 0, 1200, 2000), (ota::BytePlan{0, std::nullopt, Stop::Drop}));
  EXPECT_EQ(ota::planBytes(f, 1200, 1200, 2000).stop, Stop::None);  // curl -C - from the cut
  EXPECT_EQ(ota::planBytes(f, 1100, 1100, 2000).stop, Stop::Drop);  // a resume from before it is cut again
  EXPECT_EQ(ota::planBytes(parse({{"dropConnectionAt", 0}}), 0, 0, 10).stop, Stop::Drop);  // every response
}

TEST(DownloadFaults, AStallCountsTheBytesOfEachResponse) {
  const auto f = parse({{"stallAfter", 300}});
  EXPECT_EQ(ota::planBytes(f, 0, 0, 1000), (ota::BytePlan{300, std::nullopt, Stop::Stall}));
  EXPECT_EQ(ota::planBytes(f, 0, 300, 1000), (ota::BytePlan{0, std::nullopt, Stop::Stall}));
  EXPECT_EQ(ota::planBytes(f, 300, 300, 1000),
            (ota::BytePlan{300, std::nullopt, Stop::Stall}));  // a resume gets 300 more
  EXPECT_EQ(ota::planBytes(f, 0, 0, 200).stop, Stop::None);
}

TEST(DownloadFaults, TheEarliestStopWinsAndCorruptionOnlyCountsWhatIsSent) {
  const auto f = parse({{"truncateAt", 900}, {"dropConnectionAt", 700}, {"stallAfter", 800}, {"corruptAt", 750}});
  EXPECT_EQ(ota::planBytes(f, 0, 0, 1000), (ota::BytePlan{700, std::nullopt, Stop::Drop}));
  EXPECT_EQ(ota::planBytes(f, 700, 700, 1000), (ota::BytePlan{200, 750u, Stop::Truncate}));
}

TEST(DownloadFaults, ThrottleDelayIsTheTimeTheBytesTakeAtTheRate) {
  EXPECT_EQ(ota::throttleDelayMs({}, 1 << 20), 0u);
  const auto f = parse({{"throttleBytesPerSec", 1000}});
  EXPECT_EQ(ota::throttleDelayMs(f, 100), 100u);
  EXPECT_EQ(ota::throttleDelayMs(f, 1024), 1024u);
}

}  // namespace
