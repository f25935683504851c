// Helpers for driving the broker core without sockets: a ConnectionPort that records what the
// broker sends (decoded back into packets) and whether it closed, a queue standing in for the
// broker strand's `defer`, and readable printing of packets in assertion failures.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/codec.hpp"
#include "server/broker/broker.hpp"

namespace fc::mqtt {

/// One line per packet with every field, so that a failed comparison says what differs.
inline std::string describe(const Packet& packet) {
  std::ostringstream os;
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        os << packetName(packet);
        if constexpr (std::is_same_v<T, Connack>) {
          os << "(sessionPresent " << p.sessionPresent << ", rc 0x" << std::hex << static_cast<int>(p.returnCode)
             << ")";
        } else if constexpr (std::is_same_v<T, Publish>) {
          os << "('" << p.topic << "', '" << std::string(p.payload.begin(), p.payload.end()) << "', qos "
             << static_cast<int>(p.qos) << ", id " << p.packetId << ", dup " << p.dup << ", retain " << p.retain << ")";
        } else if constexpr (std::is_same_v<T, Puback> || std::is_same_v<T, Pubrec> || std::is_same_v<T, Pubrel> ||
                             std::is_same_v<T, Pubcomp> || std::is_same_v<T, Unsuback>) {
          os << "(" << p.packetId << ")";
        } else if constexpr (std::is_same_v<T, Suback>) {
          os << "(" << p.packetId << ", [";
          for (std::size_t i = 0; i < p.returnCodes.size(); ++i)
            os << (i ? "," : "") << "0x" << std::hex << static_cast<int>(p.returnCodes[i]) << std::dec;
          os << "])";
        }
      },
      packet);
  return os.str();
}

// gtest prints a variant's alternative through PrintTo found by argument-dependent lookup.
#define FC_PRINT_PACKET(T) \
  inline void PrintTo(const T& p, std::ostream* os) { *os << describe(Packet(p)); }
FC_PRINT_PACKET(Connect)
FC_PRINT_PACKET(Connack)
FC_PRINT_PACKET(Publish)
FC_PRINT_PACKET(Puback)
FC_PRINT_PACKET(Pubrec)
FC_PRINT_PACKET(Pubrel)
FC_PRINT_PACKET(Pubcomp)
FC_PRINT_PACKET(Subscribe)
FC_PRINT_PACKET(Suback)
FC_PRINT_PACKET(Unsubscribe)
FC_PRINT_PACKET(Unsuback)
FC_PRINT_PACKET(Pingreq)
FC_PRINT_PACKET(Pingresp)
FC_PRINT_PACKET(Disconnect)
#undef FC_PRINT_PACKET

}  // namespace fc::mqtt

namespace fc::server::broker::test {

using Packets = std::vector<mqtt::Packet>;

inline std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }

/// A PUBLISH as a client (or the broker) would put it on the wire.
inline mqtt::Publish publish(std::string topic, std::string_view payload, mqtt::QoS qos = mqtt::QoS::AtMostOnce,
                             std::uint16_t packetId = 0, bool retain = false, bool dup = false) {
  return mqtt::Publish{std::move(topic), bytes(payload), qos, retain, dup, packetId};
}

/// Records every send and close. The broker calls it on one thread at a time, but with a real
/// store the test thread reads while callbacks may be queued elsewhere, so it locks anyway.
class StubPort final : public ConnectionPort {
 public:
  void send(Frame f) override {
    std::lock_guard lock(mutex_);
    sent_.push_back(std::move(f));
  }
  void close(std::string reason) override {
    std::lock_guard lock(mutex_);
    closeReasons_.push_back(std::move(reason));
  }
  std::size_t pendingBytes() const noexcept override { return pending.load(); }

  /// Decodes and forgets everything sent so far. Each send must hold exactly one whole packet.
  Packets take() {
    std::vector<Frame> sent;
    {
      std::lock_guard lock(mutex_);
      sent.swap(sent_);
    }
    Packets out;
    for (const auto& f : sent) {
      const auto b = f.bytes();
      EXPECT_EQ(b.size(), f.size()) << "a frame's size is the size of its bytes";
      auto r = mqtt::decode(b, mqtt::Limits{});
      if (!r) {
        ADD_FAILURE() << "the broker sent bytes that do not decode: error " << static_cast<int>(r.error());
        continue;
      }
      EXPECT_EQ(r->consumed, b.size()) << "one send should carry exactly one packet";
      out.push_back(std::move(r->value));
    }
    return out;
  }

  bool closed() const {
    std::lock_guard lock(mutex_);
    return !closeReasons_.empty();
  }
  std::vector<std::string> closeReasons() const {
    std::lock_guard lock(mutex_);
    return closeReasons_;
  }

  std::atomic<std::size_t> pending{0};  // what pendingBytes() reports

 private:
  mutable std::mutex mutex_;
  std::vector<Frame> sent_;
  std::vector<std::string> closeReasons_;
};

/// Stands in for posting to the broker strand: callbacks queue here (from any thread) and the
/// test runs them on its own thread when it chooses.
class DeferQueue {
 public:
  std::function<void(std::function<void()>)> fn() {
    return [this](std::function<void()> f) {
      {
        std::lock_guard lock(mutex_);
        queue_.push_back(std::move(f));
      }
      cv_.notify_all();
    };
  }

  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return queue_.size();
  }

  /// Runs queued callbacks, including any they queue, until none is left; returns how many ran.
  std::size_t runAll() {
    std::size_t ran = 0;
    for (;;) {
      std::function<void()> f;
      {
        std::lock_guard lock(mutex_);
        if (queue_.empty()) return ran;
        f = std::move(queue_.front());
        queue_.pop_front();
      }
      f();
      ++ran;
    }
  }

  /// Waits until at least `n` callbacks are queued; false on timeout.
  bool waitFor(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return queue_.size() >= n; });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

inline mqtt::Connect connectPacket(std::string clientId, bool cleanSession = true,
                                   std::optional<mqtt::Will> will = std::nullopt,
                                   std::uint8_t level = mqtt::kLevel311) {
  mqtt::Connect c;
  c.protocolName = level == mqtt::kLevel31 ? mqtt::kProtocolName31 : mqtt::kProtocolName311;
  c.protocolLevel = level;
  c.cleanSession = cleanSession;
  c.clientId = std::move(clientId);
  c.will = std::move(will);
  return c;
}

inline mqtt::Packet connack(bool sessionPresent, mqtt::ConnectReturn rc = mqtt::ConnectReturn::Accepted) {
  return mqtt::Connack{sessionPresent, rc};
}

struct Client {
  ConnectionId id = 0;
  std::shared_ptr<StubPort> port;
};

}  // namespace fc::server::broker::test
