// libFuzzer target for fc::mqtt::ServerSession, the server's per-connection MQTT rules. The input
// is what a client sends. Besides "no crash, no UB" it checks the session's promises:
//   - onBytes never uses more than it is offered, and the bytes it reports with a packet lie inside
//     the input and decode to that packet;
//   - the first packet delivered is a CONNECT, PINGREQ is never delivered (each one after the CONNECT
//     is answered with a PINGRESP), nothing is delivered after DISCONNECT or a close;
//   - cutting the input into arbitrary pieces (the first byte picks the cuts) changes nothing:
//     the same packets, answers and close come out as when it arrives in one piece;
//   - once Disconnected or Closed there is no deadline.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/server_session.hpp"

namespace {

namespace mqtt = fc::mqtt;

[[noreturn]] void fail() { std::abort(); }

struct Recorder final : mqtt::ServerSessionHandler {
  std::span<const std::uint8_t> offered;  // the buffer of the current onBytes call
  std::vector<mqtt::Packet> delivered;
  std::size_t pingresps = 0;
  bool closed = false;
  mqtt::CloseReason reason{};
  bool disconnected = false;

  void deliver(mqtt::Packet&& packet, std::span<const std::uint8_t> bytes) override {
    if (closed || disconnected) fail();
    if (bytes.data() < offered.data() || bytes.data() + bytes.size() > offered.data() + offered.size()) fail();
    // A second CONNECT is delivered too: refusing it [MQTT-3.1.0-2] is the broker's part.
    if (delivered.empty() && !std::holds_alternative<mqtt::Connect>(packet)) fail();
    if (std::holds_alternative<mqtt::Pingreq>(packet)) fail();
    mqtt::Limits whole;
    whole.maxPacket = bytes.size();
    auto again = mqtt::decode(bytes, whole);
    if (!again || again->consumed != bytes.size() || !(again->value == packet)) fail();
    if (std::holds_alternative<mqtt::Disconnect>(packet)) disconnected = true;
    delivered.push_back(std::move(packet));
  }
  void send(const mqtt::Packet& packet) override {
    if (closed || delivered.empty() || !std::holds_alternative<mqtt::Pingresp>(packet)) fail();
    ++pingresps;
  }
  void close(mqtt::CloseReason why, std::string_view) override {
    if (closed) fail();
    closed = true;
    reason = why;
  }
};

/// Feeds `input` in pieces of the given sizes (cycled; 0 means the rest), as a connection would:
/// unused bytes stay at the front of its buffer and are offered again with the next piece.
Recorder run(std::span<const std::uint8_t> input, std::span<const std::uint8_t> cuts) {
  const mqtt::ServerSessionOptions options;
  const auto now = mqtt::ServerSession::TimePoint{} + std::chrono::seconds(1);
  mqtt::ServerSession session(options, now);
  Recorder out;
  std::vector<std::uint8_t> buffer;
  std::size_t next = 0;
  for (std::size_t i = 0; next < input.size(); ++i) {
    const std::size_t piece = cuts.empty() || cuts[i % cuts.size()] == 0 ? input.size() - next : cuts[i % cuts.size()];
    const std::size_t take = std::min(piece, input.size() - next);
    buffer.insert(buffer.end(), input.begin() + next, input.begin() + next + take);
    next += take;
    out.offered = buffer;
    const std::size_t used = session.onBytes(buffer, now, out);
    if (used > buffer.size()) fail();
    buffer.erase(buffer.begin(), buffer.begin() + used);
    const auto state = session.state();
    if ((state == mqtt::ServerSession::State::Closed) != out.closed) fail();
    if ((state == mqtt::ServerSession::State::Disconnected || out.closed) && session.deadline()) fail();
    if (out.closed || out.disconnected) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t cutCount = data[0] % 8;
  if (size < 1 + cutCount) return 0;
  const std::span<const std::uint8_t> cuts(data + 1, cutCount);
  const std::span<const std::uint8_t> input(data + 1 + cutCount, size - 1 - cutCount);

  const Recorder whole = run(input, {});
  const Recorder pieces = run(input, cuts);
  if (whole.delivered != pieces.delivered || whole.pingresps != pieces.pingresps) fail();
  // A malformed packet is noticed when its bytes arrive; with the input cut short of it the
  // session may still be waiting, so only a close both runs saw must agree.
  if (whole.closed && pieces.closed && whole.reason != pieces.reason) fail();
  if (whole.closed != pieces.closed) fail();
  return 0;
}
