// The MQTT broker on the network: TCP and TLS listeners whose connections frame bytes into packets
// and hand them to the Broker core, one caller at a time. Asio stays inside mqtt_server.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/broker/mqtt_options.hpp"
#include "server/broker/broker.hpp"
#include "server/net/tls_context.hpp"

namespace boost::asio {
class io_context;
}
namespace fc::storage {
class BrokerStore;
struct BrokerSnapshot;
}  // namespace fc::storage

namespace fc::server::broker {

using server::TlsFiles;

class MqttServer {
 public:
  MqttServer(boost::asio::io_context& ioc, const MqttConfig& config, AccessPolicy& access,
             storage::BrokerStore* store, BrokerObserver* observer = nullptr);
  ~MqttServer();
  MqttServer(const MqttServer&) = delete;
  MqttServer& operator=(const MqttServer&) = delete;

  /// Call before listening: rebuilds the sessions and retained messages of an earlier run.
  void restore(const storage::BrokerSnapshot& snapshot);

  /// Binds and starts accepting; returns the bound port (useful with port 0). Throws std::runtime_error.
  std::uint16_t listenTcp(const std::string& address, std::uint16_t port);
  std::uint16_t listenTls(const std::string& address, std::uint16_t port, const TlsFiles& tls);

  /// Stops accepting and closes every connection.
  void stop();

  /// Publishes as the platform; safe from any thread.
  void publish(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, bool retain);
  /// Broker::stats, answered on an I/O thread.
  void stats(std::function<void(BrokerStats)> done);
  /// Broker::reset, from any thread.
  void reset();
  /// Broker::publishFor, from any thread.
  void publishFor(std::string topic, std::vector<std::uint8_t> payload, mqtt::QoS qos, std::string clientId,
                  AckToken ack);

  struct Impl;  // the broker, its mutex and strand, and the listeners; shared with every connection

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fc::server::broker
