// The MQTT 3.1/3.1.1 client protocol as a sans-I/O state machine: it takes user requests, bytes,
// transport events and the time, and returns actions (open/close the transport, send these bytes,
// deliver this message, complete that operation). MqttClient drives it from Asio; the unit tests
// drive it directly with hand-made time points, so every rule here is testable without sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <span>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include "client/mqtt_options.hpp"
#include "protocols/common/expected.hpp"
#include "protocols/mqtt/packet.hpp"

namespace fc::client::detail {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
/// Names one user operation (publish, subscribe, unsubscribe) until its OperationDone. Never 0.
using OpId = std::uint64_t;

/// Start resolving, connecting and (for TLS) handshaking; answer with onTransportOpen or onTransportClosed.
struct OpenTransport {
  bool operator==(const OpenTransport&) const = default;
};
/// Write these bytes after everything sent before. When writtenOp is set, report onWritten(writtenOp)
/// once they are on the wire (QoS 0 publishes complete then).
struct SendBytes {
  std::vector<std::uint8_t> bytes;
  OpId writtenOp = 0;
  bool operator==(const SendBytes&) const = default;
};
/// Drop the transport. flushFirst: write what is queued first, then close and report
/// onTransportClosed; otherwise close at once and report nothing (the session has already moved on).
struct CloseTransport {
  bool flushFirst = false;
  bool operator==(const CloseTransport&) const = default;
};
/// An application message for the user's onMessage handler.
struct DeliverMessage {
  Message message;
  bool operator==(const DeliverMessage&) const = default;
};
/// The outcome of the user's connect(): success, Error::ConnectionRefused with the CONNACK, or why it failed.
struct ConnectDone {
  std::error_code ec;
  mqtt::Connack connack;
  bool operator==(const ConnectDone&) const = default;
};
/// Every accepted CONNACK, the user's and automatic reconnects alike.
struct ConnectionUp {
  mqtt::Connack connack;
  bool operator==(const ConnectionUp&) const = default;
};
/// An established connection ended (not reported for attempts that never got an accepted CONNACK).
struct ConnectionDown {
  std::error_code reason;
  bool operator==(const ConnectionDown&) const = default;
};
/// A publish, subscribe or unsubscribe finished; returnCodes carries SUBACK's codes.
struct OperationDone {
  OpId op = 0;
  std::error_code ec;
  std::vector<std::uint8_t> returnCodes;
  bool operator==(const OperationDone&) const = default;
};

using Action = std::variant<OpenTransport, SendBytes, CloseTransport, DeliverMessage, ConnectDone, ConnectionUp,
                            ConnectionDown, OperationDone>;

/// Delay before automatic reconnect attempt `attempt` (0-based): min·2^attempt capped at max, then
/// "equal jitter" — uniform in [d/2, d] — so a fleet that lost the same broker does not return in lockstep.
[[nodiscard]] std::chrono::milliseconds backoffDelay(unsigned attempt, std::chrono::milliseconds min,
                                                     std::chrono::milliseconds max, std::mt19937_64& rng);

class MqttSession {
 public:
  enum class State : std::uint8_t {
    Idle,              ///< no transport; connect() starts one
    Opening,           ///< transport being opened (resolve, TCP, TLS)
    AwaitingConnack,   ///< CONNECT sent
    Connected,         ///< CONNACK accepted
    Disconnecting,     ///< DISCONNECT queued, waiting for the flush
    WaitingReconnect,  ///< connection lost, next automatic attempt at nextDeadline()
  };

  /// `seed` feeds the reconnect jitter and the generated MQTT 3.1 client id.
  explicit MqttSession(MqttOptions options, std::uint64_t seed = std::random_device{}());

  // ---- user requests ----
  /// Starts a connection attempt bounded by connectTimeout. AlreadyConnected unless Idle or WaitingReconnect.
  std::error_code connect(TimePoint now);
  /// QoS 0 completes once written; QoS 1 on PUBACK; QoS 2 on PUBCOMP (§4.3).
  Expected<OpId, std::error_code> publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos,
                                          bool retain, TimePoint now);
  Expected<OpId, std::error_code> subscribe(std::vector<mqtt::Subscription> subscriptions, TimePoint now);
  Expected<OpId, std::error_code> unsubscribe(std::vector<std::string> filters, TimePoint now);
  /// Acknowledges an incoming QoS 1 (PUBACK) or QoS 2 (PUBREC) held back by autoAck=false.
  /// false when nothing with that id awaits an acknowledgement or there is no connection.
  bool ack(std::uint16_t packetId, TimePoint now);
  /// Arbitrary bytes for tests of the server's handling of malformed input; needs an open transport
  /// (CONNECT sent or connected). Completes once written, like a QoS 0 publish.
  Expected<OpId, std::error_code> sendRaw(std::vector<std::uint8_t> bytes, TimePoint now);
  /// Sends DISCONNECT and closes after the flush [MQTT-3.14.4-1]; stops automatic reconnects.
  void disconnect(TimePoint now);
  /// Closes without DISCONNECT, so the server publishes the will [MQTT-3.1.2-8]; stops automatic reconnects.
  void abort(TimePoint now);

  // ---- transport events ----
  void onTransportOpen(TimePoint now);
  void onBytes(std::span<const std::uint8_t> bytes, TimePoint now);
  void onWritten(OpId op);
  /// The transport died (read/write error, EOF) or a flushFirst close finished.
  void onTransportClosed(std::error_code ec, TimePoint now);
  /// Call at (or after) nextDeadline().
  void onTimer(TimePoint now);

  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;
  /// The actions produced since the last call, in order.
  [[nodiscard]] std::vector<Action> takeActions();

  [[nodiscard]] State state() const noexcept { return state_; }
  [[nodiscard]] const std::string& clientId() const noexcept { return clientId_; }
  /// Outgoing QoS 1/2 messages not yet completed (PUBACK / PUBCOMP outstanding).
  [[nodiscard]] std::size_t outgoingInFlight() const noexcept { return outgoing_.size(); }
  /// Incoming packet ids still held: QoS 1/2 awaiting ack(), QoS 2 awaiting PUBREL.
  [[nodiscard]] std::size_t incomingHeld() const noexcept { return incoming_.size(); }

 private:
  enum class Stage : std::uint8_t { AwaitPuback, AwaitPubrec, AwaitPubcomp };
  struct Outgoing {
    OpId op = 0;
    mqtt::Publish publish;
    Stage stage = Stage::AwaitPuback;
    std::uint64_t seq = 0;  // resend in the original order [MQTT-4.6.0-1]
  };
  struct PendingSubscribe {
    OpId op = 0;  // 0: the session's own resubscribe
    std::vector<mqtt::Subscription> subscriptions;
  };
  struct Incoming {
    mqtt::QoS qos = mqtt::QoS::AtLeastOnce;
    bool acknowledged = false;  // PUBREC sent (QoS 2)
  };

  /// Encodes and emits `packet`; the encoder's error (nothing emitted) when the wire cannot carry it.
  /// Acknowledgements, pings and resends of packets that were sent once cannot fail.
  std::error_code send(const mqtt::Packet& packet, TimePoint now, OpId writtenOp = 0);
  void emit(Action a) { actions_.push_back(std::move(a)); }
  [[nodiscard]] std::optional<std::uint16_t> allocatePacketId();
  [[nodiscard]] bool packetIdInUse(std::uint16_t id) const;

  void handle(mqtt::Packet&& packet, TimePoint now);
  void onConnack(const mqtt::Connack& connack, TimePoint now);
  void onPublish(mqtt::Publish&& publish, TimePoint now);
  void onSuback(const mqtt::Suback& suback);
  void resendInFlight(TimePoint now);
  void resubscribe(TimePoint now);
  /// Ends the current attempt or connection: fails what cannot survive it, reports, and either goes
  /// Idle or schedules the next automatic attempt. `local`: by disconnect()/abort().
  void endConnection(std::error_code reason, bool local, TimePoint now);

  MqttOptions options_;
  std::mt19937_64 rng_;
  std::string clientId_;
  State state_ = State::Idle;
  std::vector<Action> actions_;

  bool connectRequested_ = false;  // a user connect() awaits ConnectDone
  bool reconnecting_ = false;      // the current attempt is automatic
  unsigned reconnectAttempt_ = 0;
  std::optional<TimePoint> phaseDeadline_;  // connect timeout, flush timeout or next reconnect
  TimePoint lastSend_{};
  std::optional<TimePoint> pingSentAt_;
  std::vector<std::uint8_t> rx_;

  OpId nextOp_ = 0;
  std::uint16_t nextPacketId_ = 1;
  std::uint64_t nextSeq_ = 0;
  std::map<std::uint16_t, Outgoing> outgoing_;
  std::map<std::uint16_t, PendingSubscribe> pendingSubscribe_;
  std::map<std::uint16_t, OpId> pendingUnsubscribe_;
  std::set<OpId> awaitingWrite_;
  std::map<std::uint16_t, Incoming> incoming_;
  std::map<std::string, mqtt::QoS> subscriptions_;  // granted filters, re-sent after an automatic reconnect
};

}  // namespace fc::client::detail
