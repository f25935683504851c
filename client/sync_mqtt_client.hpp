// fc::client::SyncMqttClient — a blocking facade over MqttClient for tests. It owns an io_context and
// the thread that runs it; every call waits at most its timeout and reports failure as a value, so a
// test that goes wrong fails with a message instead of hanging.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "client/error.hpp"
#include "client/mqtt_client.hpp"
#include "client/mqtt_options.hpp"
#include "protocols/common/expected.hpp"
#include "protocols/mqtt/packet.hpp"

namespace fc::client {

inline constexpr std::chrono::milliseconds kDefaultTimeout{5000};

/// Thread-safe; meant to be driven from one test thread. Messages are queued from the moment the
/// client is constructed, so nothing that arrives between subscribe() and receive() is lost.
class SyncMqttClient {
 public:
  explicit SyncMqttClient(MqttOptions options);
  /// Closes without DISCONNECT (like abort()) and joins the I/O thread.
  ~SyncMqttClient();
  SyncMqttClient(const SyncMqttClient&) = delete;
  SyncMqttClient& operator=(const SyncMqttClient&) = delete;

  /// The CONNACK, also when it refuses (returnCode != Accepted); an error when there is none in time
  /// or the transport fails (refused TCP connection, TLS failure, Error::Timeout …).
  Expected<mqtt::Connack, std::error_code> connect(std::chrono::milliseconds timeout = kDefaultTimeout);

  /// Waits for PUBACK (QoS 1) or PUBCOMP (QoS 2); QoS 0 until written. Error::Timeout if not in time.
  std::error_code publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain = false,
                          std::chrono::milliseconds timeout = kDefaultTimeout);
  std::error_code publish(std::string topic, std::string_view payload, mqtt::QoS qos, bool retain = false,
                          std::chrono::milliseconds timeout = kDefaultTimeout);

  /// SUBACK's return codes, one per subscription (granted QoS or 0x80).
  Expected<std::vector<std::uint8_t>, std::error_code> subscribe(std::vector<mqtt::Subscription> subscriptions,
                                                                  std::chrono::milliseconds timeout = kDefaultTimeout);
  /// One filter; a 0x80 return code is Error::SubscriptionRefused rather than a value.
  Expected<std::vector<std::uint8_t>, std::error_code> subscribe(std::string filter, mqtt::QoS qos,
                                                                  std::chrono::milliseconds timeout = kDefaultTimeout);
  std::error_code unsubscribe(std::vector<std::string> filters, std::chrono::milliseconds timeout = kDefaultTimeout);

  /// The next received message, or nullopt if none arrives within `timeout`.
  std::optional<Message> receive(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// Every message until none arrives for `quiet`.
  std::vector<Message> receiveAll(std::chrono::milliseconds quiet = std::chrono::milliseconds{300});

  /// See MqttClient::ack (autoAck = false).
  void ack(std::uint16_t packetId);
  /// Sends DISCONNECT and waits (up to kDefaultTimeout) until the socket is closed.
  void disconnect();
  /// Closes without DISCONNECT (the server publishes the will) and waits until the socket is closed.
  void abort();

  /// True once the connection is closed, by the server or locally (also true before connect()).
  bool waitClosed(std::chrono::milliseconds timeout = kDefaultTimeout);
  /// True once a CONNACK has been accepted and the connection is up, e.g. after an automatic reconnect.
  bool waitConnected(std::chrono::milliseconds timeout = kDefaultTimeout);
  [[nodiscard]] bool connected() const;
  /// Why the last established connection ended (see MqttClient::onClose); empty while none has.
  [[nodiscard]] std::error_code closeReason() const;

  /// Writes raw bytes (CONNECT must have been sent); returns once written.
  std::error_code sendRaw(std::vector<std::uint8_t> bytes, std::chrono::milliseconds timeout = kDefaultTimeout);

  /// The asynchronous client underneath, for what the facade does not cover.
  [[nodiscard]] MqttClient& async() noexcept { return *client_; }
  /// The io_context the client's thread runs: other asynchronous work of the same device (a
  /// firmware download) can run on it without a thread of its own.
  [[nodiscard]] boost::asio::io_context& context() noexcept;

 private:
  struct Shared;
  struct Io;

  std::shared_ptr<Shared> shared_;  // shared with the handlers, which may outlive a timed-out call
  std::unique_ptr<Io> io_;          // io_context, work guard and the thread running them
  std::unique_ptr<MqttClient> client_;
};

}  // namespace fc::client
