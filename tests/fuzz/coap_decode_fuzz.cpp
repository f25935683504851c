// libFuzzer target for fc::coap::decode. Besides "no crash, no UB" (ASan/UBSan) it checks the
// codec's properties on every input:
//   - peekHeader agrees with decode about the header, and errors are consistent with it;
//   - a decoded message is valid (validate() is nullopt) and encode(m) reproduces the input
//     exactly: RFC 7252 §3 gives every delta, length and token one encoding, and option values are
//     kept as bytes, so a datagram that decodes has exactly one wire form;
//   - decode(encode(m)) == m;
//   - the helpers a server calls on untrusted messages (paths, queries, uints, Block1/Block2, a
//     link-format payload) do not misbehave, and link-format parse(serialize(x)) == x;
//   - the LwM2M registration parsers and path reader accept or reject the message consistently with
//     classify();
//   - the message layer handles the datagram without crashing.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/coap/block.hpp"
#include "protocols/coap/exchange.hpp"
#include "protocols/coap/link_format.hpp"
#include "protocols/coap/message.hpp"
#include "protocols/lwm2m/path.hpp"
#include "protocols/lwm2m/registration.hpp"

namespace {

[[noreturn]] void fail() { std::abort(); }

void exerciseHelpers(const fc::coap::Message& m) {
  (void)fc::coap::codeName(m.code);
  (void)fc::coap::typeName(m.type);
  (void)m.uriPath();
  (void)m.locationPath();
  (void)m.query("ep");
  (void)m.getUint(fc::coap::option::kObserve);
  for (const auto number : {fc::coap::option::kBlock1, fc::coap::option::kBlock2}) {
    if (const auto* o = m.find(number)) {
      if (auto b = fc::coap::decodeBlock(o->value)) {
        if (fc::coap::decodeBlock(fc::coap::encodeBlock(*b)).value() != *b) fail();
        (void)fc::coap::respondBlock(*b, 4, 4096);
      }
    }
  }
  (void)fc::lwm2m::Path::fromMessage(m);
  const auto op = fc::lwm2m::classify(m);
  const auto reg = fc::lwm2m::parseRegister(m);
  const auto upd = fc::lwm2m::parseUpdate(m);
  const auto dereg = fc::lwm2m::parseDeregister(m);
  if (reg && op != fc::lwm2m::RegistrationOp::Register) fail();
  if (upd && op != fc::lwm2m::RegistrationOp::Update) fail();
  if (dereg && op != fc::lwm2m::RegistrationOp::Deregister) fail();
  if (m.getUint(fc::coap::option::kContentFormat) == fc::coap::format::kLinkFormat) {
    if (auto links = fc::coap::parseLinkFormat(m.payloadText())) {
      auto again = fc::coap::parseLinkFormat(fc::coap::serializeLinkFormat(*links));
      if (!again || *again != *links) fail();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  const auto header = fc::coap::peekHeader(in);
  auto r = fc::coap::decode(in);

  fc::coap::MessageLayer layer(fc::coap::TransmissionParams{}, std::mt19937_64(size));
  (void)layer.onDatagram("peer", in, fc::coap::TimePoint{} + std::chrono::seconds(1));

  if (!r) {
    using E = fc::coap::DecodeError;
    if ((r.error() == E::HeaderTooShort) != (size < fc::coap::kHeaderSize)) fail();
    if (r.error() == E::BadVersion && (header || size < fc::coap::kHeaderSize)) fail();
    if (r.error() != E::HeaderTooShort && r.error() != E::BadVersion && !header) fail();
    return 0;
  }

  const fc::coap::Message& m = *r;
  if (!header || header->type != m.type || header->code != m.code || header->messageId != m.messageId ||
      header->tokenLength != m.token.size()) {
    fail();
  }
  if (fc::coap::validate(m)) fail();
  exerciseHelpers(m);

  const std::vector<std::uint8_t> wire = fc::coap::encode(m).value();
  if (wire.size() != size || !std::equal(wire.begin(), wire.end(), in.begin())) fail();
  auto again = fc::coap::decode(wire);
  if (!again || !(*again == m)) fail();
  return 0;
}
