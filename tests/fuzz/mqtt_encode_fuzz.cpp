// libFuzzer target for the encoding side of fc::mqtt (issue 13 §3): the input describes a packet,
// built valid by construction except for its lengths, which straddle the limits on purpose (strings
// of 65,533 to 65,537 bytes). It checks that
//   - encode refuses the packet with StringTooLong exactly when a string or binary field is longer
//     than 65,535 bytes, and leaves its output untouched when it refuses;
//   - otherwise decode(encode(p)) == p, consuming every byte, and encode reports the bytes it added;
//   - encodePublish gives the bytes, or the error, that encode gives for the same PUBLISH.
// The decoder's other rules (topic syntax, UTF-8, packet id 0) are the caller's duty, not the
// encoder's, so the builder never breaks them: a failed decode here is an encoder bug.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocols/mqtt/codec.hpp"

namespace {

namespace mqtt = fc::mqtt;

[[noreturn]] void fail() { std::abort(); }

class Builder {
 public:
  explicit Builder(FuzzedDataProvider& in) : in_(in) {}

  /// True once any field built so far is longer than an MQTT string can be.
  bool overlong() const { return overlong_; }

  /// A length near a limit now and then, a short one otherwise.
  std::size_t length(std::size_t shortMax) {
    const auto mode = in_.ConsumeIntegral<std::uint8_t>();
    if (mode < 12) return mqtt::kMaxStringLength - 2 + mode % 5;  // 65533 … 65537
    return mode % (shortMax + 1);
  }
  /// `n` characters cycling through `alphabet` (all ASCII, so valid UTF-8 without U+0000).
  std::string text(std::size_t n, std::string_view alphabet) {
    note(n);
    std::string s(n, alphabet[0]);
    const auto step = in_.ConsumeIntegral<std::uint8_t>();
    for (std::size_t i = 0; i < n; ++i) s[i] = alphabet[(i * (step | 1) + step) % alphabet.size()];
    return s;
  }
  std::vector<std::uint8_t> binary(std::size_t n) {
    note(n);
    auto head = in_.ConsumeBytes<std::uint8_t>(std::min<std::size_t>(n, 64));
    head.resize(n, 0x5A);
    return head;
  }
  std::string topicName() { return text(std::max<std::size_t>(1, length(40)), "ab/c1 _-.xyZ"); }
  std::string topicFilter() {
    std::string f;
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0:
        f = "#";
        break;
      case 1:
        f = topicName() + "/#";
        break;
      case 2:
        f = "+/" + topicName();
        break;
      default:
        f = topicName();
        break;
    }
    note(f.size());  // the wildcard levels may push a name that fitted over the limit
    return f;
  }
  mqtt::QoS qos() { return static_cast<mqtt::QoS>(in_.ConsumeIntegralInRange(0, 2)); }
  std::uint16_t packetId() { return in_.ConsumeIntegralInRange<std::uint16_t>(1, 0xFFFF); }

 private:
  void note(std::size_t n) {
    if (n > mqtt::kMaxStringLength) overlong_ = true;
  }
  FuzzedDataProvider& in_;
  bool overlong_ = false;
};

mqtt::Packet build(FuzzedDataProvider& in, Builder& b) {
  switch (in.ConsumeIntegralInRange(0, 13)) {
    case 0: {
      mqtt::Connect c;
      const bool v31 = in.ConsumeBool();
      c.protocolName = v31 ? mqtt::kProtocolName31 : mqtt::kProtocolName311;
      c.protocolLevel = in.ConsumeBool() ? mqtt::kLevel31 : mqtt::kLevel311;
      c.cleanSession = in.ConsumeBool();
      c.keepAlive = in.ConsumeIntegral<std::uint16_t>();
      c.clientId = b.text(b.length(30), "abcdefghij0123456789-");
      if (in.ConsumeBool()) c.will = mqtt::Will{b.topicName(), b.binary(b.length(50)), b.qos(), in.ConsumeBool()};
      if (in.ConsumeBool()) c.username = b.text(b.length(20), "user.name@1");
      // 3.1.1 forbids a password without a user name [MQTT-3.1.2-22].
      if ((c.username || c.protocolLevel == mqtt::kLevel31) && in.ConsumeBool()) c.password = b.binary(b.length(20));
      return c;
    }
    case 1:
      return mqtt::Connack{in.ConsumeBool(), static_cast<mqtt::ConnectReturn>(in.ConsumeIntegralInRange(0, 5))};
    case 2: {
      mqtt::Publish p;
      p.topic = b.topicName();
      p.qos = b.qos();
      p.retain = in.ConsumeBool();
      if (p.qos != mqtt::QoS::AtMostOnce) {
        p.dup = in.ConsumeBool();  // DUP is 0 at QoS 0 [MQTT-3.3.1-2]
        p.packetId = b.packetId();
      }
      p.payload = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange(0, 200));
      return p;
    }
    case 3:
      return mqtt::Puback{b.packetId()};
    case 4:
      return mqtt::Pubrec{b.packetId()};
    case 5:
      return mqtt::Pubrel{b.packetId()};
    case 6:
      return mqtt::Pubcomp{b.packetId()};
    case 7: {
      mqtt::Subscribe s{b.packetId(), {}};
      const int n = in.ConsumeIntegralInRange(1, 4);
      for (int i = 0; i < n; ++i) s.subscriptions.push_back({b.topicFilter(), b.qos()});
      return s;
    }
    case 8: {
      mqtt::Suback s{b.packetId(), {}};
      const int n = in.ConsumeIntegralInRange(1, 8);
      for (int i = 0; i < n; ++i) {
        const auto code = in.ConsumeIntegralInRange(0, 3);
        s.returnCodes.push_back(code == 3 ? mqtt::kSubackFailure : static_cast<std::uint8_t>(code));
      }
      return s;
    }
    case 9: {
      mqtt::Unsubscribe u{b.packetId(), {}};
      const int n = in.ConsumeIntegralInRange(1, 4);
      for (int i = 0; i < n; ++i) u.filters.push_back(b.topicFilter());
      return u;
    }
    case 10:
      return mqtt::Unsuback{b.packetId()};
    case 11:
      return mqtt::Pingreq{};
    case 12:
      return mqtt::Pingresp{};
    default:
      return mqtt::Disconnect{};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  Builder b(in);
  const mqtt::Packet p = build(in, b);

  std::vector<std::uint8_t> out{0xEE};  // appended to, never overwritten
  const auto r = mqtt::encode(p, out);
  if (b.overlong()) {
    if (r || r.error() != mqtt::EncodeError::StringTooLong || out.size() != 1) fail();
    return 0;
  }
  if (!r || *r + 1 != out.size()) fail();
  const std::span<const std::uint8_t> wire = std::span<const std::uint8_t>(out).subspan(1);
  const auto back = mqtt::decode(wire, {.maxPacket = wire.size()});
  if (!back || back->consumed != wire.size() || !(back->value == p)) fail();

  if (const auto* publish = std::get_if<mqtt::Publish>(&p)) {
    std::vector<std::uint8_t> direct;
    const auto d = mqtt::encodePublish(publish->topic, publish->payload, publish->qos, publish->retain, publish->dup,
                                       publish->packetId, direct);
    if (!d || *d != wire.size() || !std::equal(direct.begin(), direct.end(), wire.begin(), wire.end())) fail();
  }
  return 0;
}
