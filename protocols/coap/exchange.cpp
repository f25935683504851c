// CoAP message layer. Section numbers refer to RFC 7252 unless noted.
#include "protocols/coap/exchange.hpp"

#include <algorithm>
#include <cmath>

namespace fc::coap {
namespace {

Duration scaled(std::chrono::milliseconds base, double factor) noexcept {
  return std::chrono::duration_cast<Duration>(
      std::chrono::duration<double, std::milli>(static_cast<double>(base.count()) * factor));
}

// 2^n − 1 without overflowing for silly n.
double powerOfTwoMinusOne(unsigned n) noexcept { return std::ldexp(1.0, static_cast<int>(std::min(n, 1000u))) - 1.0; }

std::vector<std::uint8_t> emptyReply(Type type, std::uint16_t messageId) {
  Message m;
  m.type = type;
  m.code = code::kEmpty;
  m.messageId = messageId;
  return std::move(encode(m)).value();  // an Empty message with nothing else always encodes
}

// splitmix64's finaliser: a bijection on 64-bit values that scatters neighbouring inputs.
std::uint64_t mix64(std::uint64_t z) noexcept {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

Duration TransmissionParams::maxTransmitSpan() const noexcept {
  return scaled(ackTimeout, powerOfTwoMinusOne(maxRetransmit) * std::max(ackRandomFactor, 1.0));
}

Duration TransmissionParams::maxTransmitWait() const noexcept {
  return scaled(ackTimeout, powerOfTwoMinusOne(maxRetransmit + 1) * std::max(ackRandomFactor, 1.0));
}

Duration TransmissionParams::exchangeLifetime() const noexcept {
  return maxTransmitSpan() + 2 * Duration(maxLatency) + Duration(processingDelay);
}

Duration TransmissionParams::nonLifetime() const noexcept { return maxTransmitSpan() + Duration(maxLatency); }

const char* discardReasonName(DiscardReason r) noexcept {
  switch (r) {
    case DiscardReason::Malformed:
      return "malformed";
    case DiscardReason::BadVersion:
      return "unknown version";
    case DiscardReason::Duplicate:
      return "duplicate";
    case DiscardReason::EmptyMessage:
      return "empty message";
    case DiscardReason::ReservedClass:
      return "reserved code class";
    case DiscardReason::RejectedAck:
      return "ACK carrying a request or reserved code";
    case DiscardReason::RejectedReset:
      return "RST that is not empty";
    case DiscardReason::Unmatched:
      return "ACK/RST matches no outstanding message";
  }
  return "unknown";
}

MessageLayer::MessageLayer(TransmissionParams params, std::mt19937_64 rng)
    : params_(params), rng_(std::move(rng)), nextMid_(static_cast<std::uint16_t>(rng_())) {}

std::uint16_t MessageLayer::nextMessageId() noexcept { return nextMid_++; }

Duration MessageLayer::initialTimeout() {
  // §4.2: a random duration between ACK_TIMEOUT and ACK_TIMEOUT · ACK_RANDOM_FACTOR. The 53-bit
  // fraction is computed by hand because std::uniform_real_distribution is not portable bit-for-bit.
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  return scaled(params_.ackTimeout, 1.0 + u * (std::max(params_.ackRandomFactor, 1.0) - 1.0));
}

void MessageLayer::prune(TimePoint now) {
  // A record is only erased if it is still the one its expiry entry was made for: a key may have
  // been forgotten and remembered again since.
  while (!seenExpiry_.empty() && seenExpiry_.begin()->first <= now) {
    const auto& [when, key] = *seenExpiry_.begin();
    if (auto it = seen_.find(key); it != seen_.end() && it->second.expires == when) seen_.erase(it);
    seenExpiry_.erase(seenExpiry_.begin());
  }
  while (!sentNonExpiry_.empty() && sentNonExpiry_.begin()->first <= now) {
    const auto& [when, key] = *sentNonExpiry_.begin();
    if (auto it = sentNon_.find(key); it != sentNon_.end() && it->second.expires == when) sentNon_.erase(it);
    sentNonExpiry_.erase(sentNonExpiry_.begin());
  }
}

MessageLayer::Seen& MessageLayer::remember(const Key& key, Type type, TimePoint now) {
  // §4.5: a CON may be retransmitted for EXCHANGE_LIFETIME, a NON repeated for NON_LIFETIME.
  const TimePoint expires = now + (type == Type::Confirmable ? params_.exchangeLifetime() : params_.nonLifetime());
  auto [it, inserted] = seen_.try_emplace(key);
  if (inserted) {
    it->second.expires = expires;
    seenExpiry_.emplace(expires, key);
  }
  return it->second;
}

void MessageLayer::cacheReply(const Key& key, std::vector<std::uint8_t> bytes, TimePoint now) {
  remember(key, Type::Confirmable, now).reply = std::move(bytes);
}

void MessageLayer::erasePending(std::map<Key, Pending>::iterator it) {
  timers_.erase(it->second.timer);
  pending_.erase(it);
}

std::vector<Action> MessageLayer::onDatagram(const PeerKey& peer, std::span<const std::uint8_t> datagram,
                                             TimePoint now) {
  prune(now);
  std::vector<Action> out;
  auto decoded = decode(datagram);
  if (!decoded) {
    const auto header = peekHeader(datagram);
    if (decoded.error() == DecodeError::BadVersion) {
      out.push_back(Discarded{peer, DiscardReason::BadVersion, std::nullopt, decoded.error()});
      return out;
    }
    // §4.2: a CON with a message format error is rejected; its header gives the id to echo.
    if (header && header->type == Type::Confirmable) {
      out.push_back(SendDatagram{peer, emptyReply(Type::Reset, header->messageId)});
    }
    out.push_back(Discarded{peer, DiscardReason::Malformed, header, decoded.error()});
    return out;
  }

  Message m = std::move(*decoded);
  const Header header{m.type, static_cast<std::uint8_t>(m.token.size()), m.code, m.messageId};
  switch (m.type) {
    case Type::Acknowledgement:
      onAck(peer, std::move(m), out);
      return out;
    case Type::Reset:
      onReset(peer, m, out);
      return out;
    case Type::Confirmable:
    case Type::NonConfirmable:
      break;
  }

  const Key key{peer, m.messageId};
  if (auto it = seen_.find(key); it != seen_.end()) {
    // §4.5: acknowledge every copy of a CON with the same ACK or RST; ignore repeated NONs.
    if (m.type == Type::Confirmable && it->second.reply) out.push_back(SendDatagram{peer, *it->second.reply});
    out.push_back(Discarded{peer, DiscardReason::Duplicate, header, std::nullopt});
    return out;
  }

  const bool empty = m.code.isEmpty();
  if (empty || m.code.isReservedClass()) {
    // §4.2: reject such a CON with RST (an Empty CON is a "ping"); §4.3: a NON may simply be ignored.
    remember(key, m.type, now);
    if (m.type == Type::Confirmable) {
      auto rst = emptyReply(Type::Reset, m.messageId);
      cacheReply(key, rst, now);
      out.push_back(SendDatagram{peer, std::move(rst)});
    }
    out.push_back(
        Discarded{peer, empty ? DiscardReason::EmptyMessage : DiscardReason::ReservedClass, header, std::nullopt});
    return out;
  }

  remember(key, m.type, now);
  out.push_back(DeliverMessage{peer, std::move(m)});
  return out;
}

void MessageLayer::onAck(const PeerKey& peer, Message m, std::vector<Action>& out) {
  const Header header{m.type, static_cast<std::uint8_t>(m.token.size()), m.code, m.messageId};
  // §4.2: an ACK carries a response or is Empty; anything else is silently ignored.
  if (m.code.isRequest() || m.code.isReservedClass()) {
    out.push_back(Discarded{peer, DiscardReason::RejectedAck, header, std::nullopt});
    return;
  }
  const auto it = pending_.find(Key{peer, m.messageId});
  if (it == pending_.end()) {
    out.push_back(Discarded{peer, DiscardReason::Unmatched, header, std::nullopt});
    return;
  }
  auto token = std::move(it->second.token);
  erasePending(it);
  out.push_back(Acknowledged{peer, header.messageId, std::move(token), std::move(m)});
}

void MessageLayer::onReset(const PeerKey& peer, const Message& m, std::vector<Action>& out) {
  const Header header{m.type, static_cast<std::uint8_t>(m.token.size()), m.code, m.messageId};
  // §4.2: an RST must be Empty; otherwise it is silently ignored.
  if (!m.code.isEmpty()) {
    out.push_back(Discarded{peer, DiscardReason::RejectedReset, header, std::nullopt});
    return;
  }
  const Key key{peer, m.messageId};
  if (const auto it = pending_.find(key); it != pending_.end()) {
    auto token = std::move(it->second.token);
    erasePending(it);
    out.push_back(ResetReceived{peer, m.messageId, std::move(token)});
    return;
  }
  if (const auto it = sentNon_.find(key); it != sentNon_.end()) {
    auto token = std::move(it->second.token);
    sentNon_.erase(it);
    out.push_back(ResetReceived{peer, m.messageId, std::move(token)});
    return;
  }
  out.push_back(Discarded{peer, DiscardReason::Unmatched, header, std::nullopt});
}

std::vector<Action> MessageLayer::send(const PeerKey& peer, const Message& m, TimePoint now) {
  prune(now);
  std::vector<Action> out;
  auto encoded = encode(m);
  if (!encoded) return out;  // the caller broke the precondition: nothing goes out rather than a bad datagram
  auto bytes = std::move(*encoded);
  const Key key{peer, m.messageId};
  if (m.type == Type::Confirmable) {
    if (auto it = pending_.find(key); it != pending_.end()) erasePending(it);
    const Duration timeout = initialTimeout();
    const auto timer = timers_.emplace(now + timeout, key);
    pending_.emplace(key, Pending{bytes, m.token, 0, timeout, timer});
  } else if (m.type == Type::NonConfirmable) {
    const TimePoint expires = now + params_.nonLifetime();
    sentNon_.insert_or_assign(key, SentNon{expires, m.token});
    sentNonExpiry_.emplace(expires, key);
  }
  out.push_back(SendDatagram{peer, std::move(bytes)});
  return out;
}

std::vector<Action> MessageLayer::respond(const PeerKey& peer, const Message& request, Message response,
                                          TimePoint now) {
  prune(now);
  response.token = request.token;  // §5.3.2
  if (request.type == Type::NonConfirmable) {
    // §5.2.3: a NON request is answered with a NON response of its own message id.
    response.type = Type::NonConfirmable;
    response.messageId = nextMessageId();
    return send(peer, response, now);
  }
  if (request.type != Type::Confirmable) return {};

  const Key key{peer, request.messageId};
  if (auto it = seen_.find(key); it != seen_.end() && it->second.reply) {
    if (!it->second.acknowledged) return {};  // already answered or rejected
    // §5.2.2: the Empty ACK went out, so the response travels as a separate CON.
    response.type = Type::Confirmable;
    response.messageId = nextMessageId();
    return send(peer, response, now);
  }
  // §5.2.1: piggybacked in the ACK, which echoes the request's message id (§4.2).
  response.type = Type::Acknowledgement;
  response.messageId = request.messageId;
  std::vector<Action> out;
  auto encoded = encode(response);
  if (!encoded) return out;  // precondition broken (see send)
  auto bytes = std::move(*encoded);
  cacheReply(key, bytes, now);
  out.push_back(SendDatagram{peer, std::move(bytes)});
  return out;
}

std::vector<Action> MessageLayer::acknowledge(const PeerKey& peer, const Message& request, TimePoint now) {
  prune(now);
  if (request.type != Type::Confirmable) return {};
  const Key key{peer, request.messageId};
  if (auto it = seen_.find(key); it != seen_.end() && it->second.reply) return {};
  auto ack = emptyReply(Type::Acknowledgement, request.messageId);
  auto& seen = remember(key, Type::Confirmable, now);
  seen.reply = ack;
  seen.acknowledged = true;
  std::vector<Action> out;
  out.push_back(SendDatagram{peer, std::move(ack)});
  return out;
}

std::vector<Action> MessageLayer::reject(const PeerKey& peer, const Message& request, TimePoint now) {
  prune(now);
  if (request.type != Type::Confirmable && request.type != Type::NonConfirmable) return {};
  auto rst = emptyReply(Type::Reset, request.messageId);
  if (request.type == Type::Confirmable) {
    const Key key{peer, request.messageId};
    if (auto it = seen_.find(key); it != seen_.end() && it->second.reply) return {};
    cacheReply(key, rst, now);
  }
  std::vector<Action> out;
  out.push_back(SendDatagram{peer, std::move(rst)});
  return out;
}

std::vector<Action> MessageLayer::poll(TimePoint now) {
  prune(now);
  std::vector<Key> due;
  for (auto it = timers_.begin(); it != timers_.end() && it->first <= now; ++it) due.push_back(it->second);

  std::vector<Action> out;
  for (const auto& key : due) {
    const auto it = pending_.find(key);
    Pending& p = it->second;
    if (p.retransmits < params_.maxRetransmit) {
      // §4.2: retransmit and double the timeout, counted from this transmission.
      ++p.retransmits;
      p.timeout *= 2;
      timers_.erase(p.timer);
      p.timer = timers_.emplace(now + p.timeout, key);
      out.push_back(SendDatagram{key.first, p.bytes});
    } else {
      // §4.2: MAX_RETRANSMIT reached and the last timeout expired: the transmission failed.
      out.push_back(GaveUp{key.first, key.second, std::move(p.token)});
      erasePending(it);
    }
  }
  return out;
}

std::optional<TimePoint> MessageLayer::nextDeadline() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

bool MessageLayer::cancel(const PeerKey& peer, std::uint16_t messageId) {
  const auto it = pending_.find(Key{peer, messageId});
  if (it == pending_.end()) return false;
  erasePending(it);
  return true;
}

std::size_t MessageLayer::outstanding(const PeerKey& peer) const {
  std::size_t n = 0;
  for (auto it = pending_.lower_bound(Key{peer, 0}); it != pending_.end() && it->first.first == peer; ++it) ++n;
  return n;
}

TokenGenerator::TokenGenerator(std::span<const std::uint8_t> random) noexcept {
  for (std::size_t i = 0; i < random.size() && i < 16; ++i) {
    auto& key = i < 8 ? key0_ : key1_;
    key = (key << 8) | random[i];
  }
}

std::vector<std::uint8_t> TokenGenerator::next(std::size_t length) {
  length = std::clamp<std::size_t>(length, 1, kMaxTokenLength);
  // Each step is a bijection, so distinct counters give distinct 64-bit values.
  const std::uint64_t v = mix64(mix64(counter_++ + key0_) ^ key1_);
  std::vector<std::uint8_t> token(length);
  for (std::size_t i = 0; i < length; ++i) token[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
  return token;
}

}  // namespace fc::coap
