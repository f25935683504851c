// The server side of one MQTT connection: framing, CONNECT first, PINGREQ, DISCONNECT, timeouts.
#include "protocols/mqtt/server_session.hpp"

namespace fc::mqtt {

std::size_t ServerSession::onBytes(std::span<const std::uint8_t> in, TimePoint now, ServerSessionHandler& out) {
  if (state_ == State::Disconnected || state_ == State::Closed) return 0;
  // Any bytes count as activity for the keepalive; the connect timeout runs from the start.
  if (state_ == State::Connected) mark_ = now;
  std::size_t offset = 0;
  while (state_ == State::AwaitingConnect || state_ == State::Connected) {
    auto r = decode(in.subspan(offset), options_->limits);
    if (!r) {
      if (r.error() != DecodeError::Incomplete)
        closeWith(CloseReason::Malformed, std::string("malformed packet: ") + make_error_code(r.error()).message(),
                  out);
      break;
    }
    const auto bytes = in.subspan(offset, r->consumed);
    offset += r->consumed;
    Packet& p = r->value;
    if (state_ == State::AwaitingConnect) {
      auto* connect = std::get_if<Connect>(&p);
      if (!connect) {
        closeWith(CloseReason::NotConnect, std::string("first packet was ") + packetName(p) + ", not CONNECT", out);
        break;
      }
      state_ = State::Connected;
      clientId_ = connect->clientId;
      keepAlive_ = connect->keepAlive;
      if (options_->rules) rules_ = options_->rules(*connect);
      if (rules_.maxKeepAlive != 0 && (keepAlive_ == 0 || keepAlive_ > rules_.maxKeepAlive))
        keepAlive_ = rules_.maxKeepAlive;
      mark_ = now;
      out.deliver(std::move(p), bytes);
    } else if (std::holds_alternative<Pingreq>(p)) {
      if (rules_.maxPings != 0) {
        while (!pings_.empty() && now - pings_.front() >= rules_.pingWindow) pings_.pop_front();
        pings_.push_back(now);
        if (pings_.size() > rules_.maxPings) {
          closeWith(CloseReason::TooManyPings,
                    "more than " + std::to_string(rules_.maxPings) + " PINGREQ within " +
                        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(rules_.pingWindow).count()) +
                        " s",
                    out);
          break;
        }
      }
      out.send(Pingresp{});
    } else {
      if (std::holds_alternative<Disconnect>(p)) state_ = State::Disconnected;
      out.deliver(std::move(p), bytes);
    }
  }
  return offset;
}

std::optional<ServerSession::TimePoint> ServerSession::deadline() const noexcept {
  switch (state_) {
    case State::AwaitingConnect:
      return mark_ + options_->connectTimeout;
    case State::Connected:
      // [MQTT-3.1.2-24]: one and a half keepalive periods without a packet end the connection.
      if (keepAlive_ == 0) return std::nullopt;
      return mark_ + std::chrono::milliseconds(std::uint32_t{keepAlive_} * 1500);
    case State::Disconnected:
    case State::Closed:
      break;
  }
  return std::nullopt;
}

void ServerSession::onTimer(TimePoint now, ServerSessionHandler& out) {
  const auto due = deadline();
  if (!due || now < *due) return;
  const auto reason = state_ == State::AwaitingConnect ? CloseReason::ConnectTimeout : CloseReason::KeepaliveTimeout;
  closeWith(reason, toString(reason), out);
}

void ServerSession::closeWith(CloseReason reason, std::string_view message, ServerSessionHandler& out) {
  state_ = State::Closed;
  out.close(reason, message);
}

std::string_view toString(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::ConnectTimeout:
      return "no CONNECT within the connect timeout";
    case CloseReason::KeepaliveTimeout:
      return "keepalive timeout";
    case CloseReason::NotConnect:
      return "first packet was not CONNECT";
    case CloseReason::Malformed:
      return "malformed packet";
    case CloseReason::TooManyPings:
      return "too many PINGREQ";
  }
  return "closed";
}

}  // namespace fc::mqtt
