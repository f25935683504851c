// libFuzzer target for fc::coap::Endpoint: the input is a sequence of datagrams (each prefixed by
// one length byte, the top bit choosing one of two peers) fed to an endpoint that serves resources
// (plain, subtree, Block1 uploads, a large Block2 representation) and has a request and an
// observation of its own outstanding to the first peer. Time advances between datagrams and the
// endpoint is polled. Besides "no crash, no UB", every datagram the endpoint sends must decode, and
// its bounds must hold.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "protocols/coap/endpoint.hpp"

namespace {

namespace coap = fc::coap;

[[noreturn]] void fail() { std::abort(); }

coap::Message content(std::string_view text) {
  coap::Message m;
  m.code = coap::code::kContent;
  m.setPayload(text);
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string kLarge(3000, 'x');
  coap::EndpointLimits limits;
  limits.maxBodySize = 256;
  limits.maxTransfersPerPeer = 2;
  limits.maxPeers = 2;
  const std::vector<std::uint8_t> seed{1, 2, 3, 4};
  coap::Endpoint ep(coap::TransmissionParams{}, limits, seed);
  ep.recognizeOption(61);
  ep.addResource(coap::Resource{"a", false, {coap::code::kGet}, {}, true, [](const auto&) { return content("a"); }});
  ep.addResource(coap::Resource{"t", true, {coap::code::kPost, coap::code::kPut}, {}, true,
                                [](const coap::IncomingRequest& r) { return content(r.subpath); }});
  ep.addResource(coap::Resource{"big", false, {coap::code::kGet}, {}, true,
                                [](const auto&) { return content(kLarge); }});

  auto now = coap::TimePoint{} + std::chrono::seconds(1);
  coap::Message get;
  get.code = coap::code::kGet;
  get.setUriPath("3/0");
  (void)ep.request("p0", get, [](auto) {}, now, coap::RequestOptions{.block2Szx = 0});
  (void)ep.observe("p0", get, [](auto, bool) {}, now);

  std::span<const std::uint8_t> in(data, size);
  while (!in.empty()) {
    const std::size_t n = std::min<std::size_t>(in[0] & 0x7F, in.size() - 1);
    const char* peer = (in[0] & 0x80) ? "p1" : "p0";
    ep.onDatagram(peer, in.subspan(1, n), now);
    in = in.subspan(1 + n);
    now += std::chrono::milliseconds(700);
    ep.poll(now);
    for (const auto& d : ep.takeDatagrams()) {
      if (!coap::decode(d.bytes)) fail();
    }
    (void)ep.takeNotes();
    if (ep.peers() > limits.maxPeers) fail();
    if (ep.transfers() > limits.maxTransfersPerPeer * limits.maxPeers) fail();
  }
  return 0;
}
