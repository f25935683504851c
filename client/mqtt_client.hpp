// fc::client::MqttClient — an asynchronous MQTT 3.1/3.1.1 client (plain TCP, TLS, mutual TLS) on an
// io_context the caller runs. The protocol rules live in the sans-I/O detail::MqttSession; this class
// is the Asio binding: it owns the socket, runs on its own strand and keeps one bounded outbound queue.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "client/error.hpp"
#include "client/mqtt_options.hpp"
#include "protocols/mqtt/packet.hpp"

namespace boost::asio {
class io_context;
}

namespace fc::client {

namespace detail {
class MqttConnection;
}

/// Every member function may be called from any thread: the request is posted to the client's strand
/// and its outcome reported through the handler, never by an exception. Handlers run on that strand
/// (so never concurrently with each other) and are not called once the destructor has started.
class MqttClient {
 public:
  using ConnectHandler = std::function<void(std::error_code, const mqtt::Connack&)>;
  using CompletionHandler = std::function<void(std::error_code)>;
  using SubscribeHandler = std::function<void(std::error_code, std::vector<std::uint8_t> returnCodes)>;
  using MessageHandler = std::function<void(Message)>;
  using ConnectedHandler = std::function<void(const mqtt::Connack&)>;
  using CloseHandler = std::function<void(std::error_code)>;

  MqttClient(boost::asio::io_context& ioc, MqttOptions options);
  /// Closes the connection without DISCONNECT and drops every pending handler uncalled.
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  /// Application messages (PUBLISH from the server, §3.3). Set before connect().
  void onMessage(MessageHandler handler);
  /// Every accepted CONNACK, including those of automatic reconnects.
  void onConnected(ConnectedHandler handler);
  /// An established connection ended: Error::Closed after disconnect()/abort(), otherwise why
  /// (transport error, Error::KeepaliveTimeout, Error::ProtocolError, a fc::mqtt::DecodeError …).
  void onClose(CloseHandler handler);

  /// Opens the transport, sends CONNECT and waits for CONNACK, all within connectTimeout.
  /// A refusing CONNACK gives Error::ConnectionRefused together with that CONNACK (§3.2.2.3).
  void connect(ConnectHandler handler);

  /// QoS 0 completes once written; QoS 1 on PUBACK; QoS 2 on PUBCOMP (§4.3). With cleanSession=false
  /// an unacknowledged QoS 1/2 message survives a lost connection and is re-sent with DUP after the
  /// next CONNACK [MQTT-4.4.0-1]; its handler runs when it is finally acknowledged.
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain,
               CompletionHandler handler = {});
  /// Completes on SUBACK with one return code per filter: the granted QoS or 0x80 (§3.9.3).
  void subscribe(std::vector<mqtt::Subscription> subscriptions, SubscribeHandler handler);
  /// Completes on UNSUBACK (§3.11).
  void unsubscribe(std::vector<std::string> filters, CompletionHandler handler);
  /// Sends the PUBACK (QoS 1) or PUBREC (QoS 2) held back by autoAck=false. Unknown ids are ignored.
  void ack(std::uint16_t packetId);
  /// Writes arbitrary bytes once CONNECT has been sent (tests of malformed input); completes once written.
  void sendRaw(std::vector<std::uint8_t> bytes, CompletionHandler handler = {});
  /// Sends DISCONNECT, flushes and closes [MQTT-3.14.4-1] (the server discards the will [MQTT-3.14.4-3]);
  /// stops automatic reconnects. `done` runs once the socket is closed.
  void disconnect(CompletionHandler done = {});
  /// Closes the socket without DISCONNECT, so the server publishes the will [MQTT-3.1.2-8];
  /// stops automatic reconnects. `done` runs once the socket is closed.
  void abort(CompletionHandler done = {});

  [[nodiscard]] const MqttOptions& options() const noexcept;

 private:
  std::shared_ptr<detail::MqttConnection> impl_;
};

}  // namespace fc::client
