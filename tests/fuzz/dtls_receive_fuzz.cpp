// libFuzzer target for fc::dtls. The input is a sequence of datagrams, each prefixed by a 2-byte
// big-endian length. Besides "no crash, no UB" (ASan/UBSan) it checks:
//   - inspectRecords never reports more bytes than the datagram holds;
//   - datagrams from an address without a session leave no state: they can only earn a
//     HelloVerifyRequest, never a half-open handshake (a valid cookie needs the server's secret);
//   - the same datagrams sent from the address of an established session neither crash it nor
//     end it (forging a close_notify or an alert needs the session keys; RFC 6347 §4.1.2.7), and
//     the session still carries data afterwards.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dtls/dtls.hpp"
#include "dtls/record.hpp"

namespace {

using namespace fc::dtls;
using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void fail() { std::abort(); }

const Bytes kKey(16, 0x42);
const TimePoint kNow = TimePoint{} + std::chrono::hours(1);

/// A server with one established session with "client", kept across inputs (a handshake per
/// input would make the fuzzer slow); rebuilt if an input ever ends that session.
struct World {
  DtlsServer server;
  DtlsClient client;

  static std::optional<World> make() {
    auto server = DtlsServer::create({}, [](std::string_view) { return std::optional<Bytes>(kKey); });
    ClientConfig c;
    c.peer = "server";
    c.identity = "fuzz";
    c.key = kKey;
    auto client = DtlsClient::create(c);
    if (!server || !client) fail();
    World w{std::move(*server), std::move(*client)};
    std::vector<Action> toServer = w.client.start(kNow);
    for (int round = 0; round < 10 && w.client.state() == DtlsClient::State::Handshaking; ++round) {
      std::vector<Action> toClient;
      for (auto& a : toServer)
        if (auto* d = std::get_if<SendDatagram>(&a))
          for (auto& r : w.server.receive("client", {}, d->bytes, kNow)) toClient.push_back(std::move(r));
      toServer.clear();
      for (auto& a : toClient)
        if (auto* d = std::get_if<SendDatagram>(&a))
          for (auto& r : w.client.receive(d->bytes, kNow)) toServer.push_back(std::move(r));
    }
    for (auto& a : toServer)
      if (auto* d = std::get_if<SendDatagram>(&a)) (void)w.server.receive("client", {}, d->bytes, kNow);
    if (!w.server.isEstablished("client")) fail();
    return w;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::optional<World> world = World::make();
  const std::span<const std::uint8_t> in(data, size);

  std::vector<std::span<const std::uint8_t>> datagrams;
  for (std::size_t pos = 0; pos + 2 <= in.size();) {
    const std::size_t n = (std::size_t{in[pos]} << 8) | in[pos + 1];
    pos += 2;
    const std::size_t take = std::min(n, in.size() - pos);
    datagrams.push_back(in.subspan(pos, take));
    pos += take;
  }

  for (const auto d : datagrams) {
    std::size_t covered = 0;
    for (const auto& h : inspectRecords(d)) covered += kRecordHeaderSize + h.length;
    if (covered > d.size()) fail();
    (void)parseClientHello(d);

    const std::size_t before = world->server.halfOpen();
    for (const auto& a : world->server.receive("stranger", {}, d, kNow)) {
      if (!std::holds_alternative<SendDatagram>(a)) fail();  // only a HelloVerifyRequest
    }
    if (world->server.halfOpen() != before) fail();

    (void)world->server.receive("client", {}, d, kNow);
    (void)world->client.receive(d, kNow);
  }
  if (!world->server.isEstablished("client") || world->client.state() != DtlsClient::State::Established) fail();
  auto up = world->client.send(Bytes{1, 2, 3});
  if (!up) fail();
  bool delivered = false;
  for (auto& a : *up)
    if (auto* s = std::get_if<SendDatagram>(&a))
      for (const auto& r : world->server.receive("client", {}, s->bytes, kNow))
        if (const auto* rec = std::get_if<Received>(&r)) delivered = rec->bytes == Bytes{1, 2, 3};
  if (!delivered) fail();
  return 0;
}
