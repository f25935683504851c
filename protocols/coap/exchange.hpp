// The CoAP message layer (RFC 7252 §4) as a sans-I/O state machine, shared by the server and the
// client: it takes datagrams, outgoing messages and the current time, and returns actions — send
// these bytes, deliver this message, this CON was acknowledged / reset / given up on, this datagram
// was discarded and why. It owns no socket, thread or clock; the caller passes `now` (a steady
// clock reading) into every call and arms one timer for nextDeadline().
//
// What it does: duplicate detection per (peer, message id) with the cached ACK/RST replayed (§4.5),
// CON retransmission with randomised exponential back-off (§4.2, §4.8), matching ACK and RST to
// outstanding CONs and RST to recently sent NONs (§4.2, §4.3), rejecting what §4.2/§4.3 say to
// reject, message id generation (§4.4) and token generation (§5.3.1).
// What it leaves to the caller: NSTART/congestion control (§4.7; outstanding(peer) helps), request/
// response matching by token (§5.3.2), observe and block-wise transfer state.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "protocols/coap/message.hpp"

namespace fc::coap {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

/// Identifies the remote endpoint (e.g. "192.0.2.1:5683" or a DTLS session id). Message ids are
/// scoped per peer (RFC 7252 §4.4, §4.5).
using PeerKey = std::string;

/// RFC 7252 §4.8 transmission parameters; the defaults are the RFC's.
struct TransmissionParams {
  std::chrono::milliseconds ackTimeout{2000};       ///< ACK_TIMEOUT
  double ackRandomFactor = 1.5;                     ///< ACK_RANDOM_FACTOR (≥ 1)
  unsigned maxRetransmit = 4;                       ///< MAX_RETRANSMIT
  std::chrono::milliseconds maxLatency{100'000};    ///< MAX_LATENCY
  std::chrono::milliseconds processingDelay{2000};  ///< PROCESSING_DELAY (§4.8.2: ACK_TIMEOUT)

  /// §4.8.2 MAX_TRANSMIT_SPAN = ACK_TIMEOUT · (2^MAX_RETRANSMIT − 1) · ACK_RANDOM_FACTOR (45 s).
  [[nodiscard]] Duration maxTransmitSpan() const noexcept;
  /// §4.8.2 MAX_TRANSMIT_WAIT = ACK_TIMEOUT · (2^(MAX_RETRANSMIT + 1) − 1) · ACK_RANDOM_FACTOR (93 s).
  [[nodiscard]] Duration maxTransmitWait() const noexcept;
  /// §4.8.2 EXCHANGE_LIFETIME = MAX_TRANSMIT_SPAN + 2 · MAX_LATENCY + PROCESSING_DELAY (247 s).
  [[nodiscard]] Duration exchangeLifetime() const noexcept;
  /// §4.8.2 NON_LIFETIME = MAX_TRANSMIT_SPAN + MAX_LATENCY (145 s).
  [[nodiscard]] Duration nonLifetime() const noexcept;
};

/// Send `bytes` to `peer` now.
struct SendDatagram {
  PeerKey peer;
  std::vector<std::uint8_t> bytes;
  bool operator==(const SendDatagram&) const = default;
};

/// A new (not duplicate) CON or NON carrying a request or response: a request to serve, a separate
/// response, a notification. For a CON the caller must answer with respond(), acknowledge() or
/// reject() (§4.2).
struct DeliverMessage {
  PeerKey peer;
  Message message;
  bool operator==(const DeliverMessage&) const = default;
};

/// An ACK matched an outstanding CON (§4.2); retransmission has stopped. `ack` may carry a
/// piggybacked response (§5.2.1) or be Empty (a separate response follows, §5.2.2). `token` is
/// the token of the CON that was acknowledged.
struct Acknowledged {
  PeerKey peer;
  std::uint16_t messageId = 0;
  std::vector<std::uint8_t> token;
  Message ack;
  bool operator==(const Acknowledged&) const = default;
};

/// An RST matched an outstanding CON or a recently sent NON (§4.2, §4.3): the peer rejected it
/// (for a notification this cancels the observation, RFC 7641 §3.6).
struct ResetReceived {
  PeerKey peer;
  std::uint16_t messageId = 0;
  std::vector<std::uint8_t> token;
  bool operator==(const ResetReceived&) const = default;
};

/// A CON went MAX_RETRANSMIT retransmissions and one more timeout without ACK or RST (§4.2).
struct GaveUp {
  PeerKey peer;
  std::uint16_t messageId = 0;
  std::vector<std::uint8_t> token;
  bool operator==(const GaveUp&) const = default;
};

/// Why a datagram was not delivered. Any reply the rules call for (an RST, a replayed ACK) is a
/// SendDatagram in the same batch.
enum class DiscardReason : std::uint8_t {
  Malformed,      ///< decode failed; a CON whose header was readable is answered with RST (§4.2)
  BadVersion,     ///< unknown version: silently ignored (§3)
  Duplicate,      ///< same (peer, message id) within the lifetime; the cached reply, if any, replayed (§4.5)
  EmptyMessage,   ///< Empty CON ("ping") answered with RST, or Empty NON ignored (§4.2, §4.3)
  ReservedClass,  ///< code of class 1, 6 or 7: a CON gets an RST, a NON is ignored (§4.2, §4.3)
  RejectedAck,    ///< ACK carrying a request or a reserved class: silently ignored (§4.2)
  RejectedReset,  ///< RST that is not Empty: silently ignored (§4.2)
  Unmatched,      ///< ACK or RST for no outstanding message: ignored (§4.2)
};

const char* discardReasonName(DiscardReason r) noexcept;

/// A datagram that was not delivered, for the journal.
struct Discarded {
  PeerKey peer;
  DiscardReason reason = DiscardReason::Malformed;
  std::optional<Header> header;      ///< when at least the header was readable
  std::optional<DecodeError> error;  ///< for Malformed and BadVersion
  bool operator==(const Discarded&) const = default;
};

using Action = std::variant<SendDatagram, DeliverMessage, Acknowledged, ResetReceived, GaveUp, Discarded>;

/// RFC 7252 §4 message layer for one local endpoint (one UDP socket or DTLS endpoint).
class MessageLayer {
 public:
  /// `rng` supplies the initial message id (§4.4) and the random factor of each initial timeout
  /// (§4.2); seed it for reproducible schedules.
  explicit MessageLayer(TransmissionParams params = {}, std::mt19937_64 rng = std::mt19937_64{});

  /// Handles one received datagram.
  [[nodiscard]] std::vector<Action> onDatagram(const PeerKey& peer, std::span<const std::uint8_t> datagram,
                                               TimePoint now);

  /// Sends `m` as given (its message id included; see nextMessageId()). A CON is retransmitted
  /// until acknowledged, reset or given up (§4.2); a NON is remembered for NON_LIFETIME so that an
  /// RST to it is reported (§4.3). Sending a CON with the message id of one still outstanding to
  /// the same peer replaces it. Precondition: validate(m) is nullopt; a message that breaks it is
  /// not sent (no action).
  [[nodiscard]] std::vector<Action> send(const PeerKey& peer, const Message& m, TimePoint now);

  /// Answers a delivered `request` with `response` (§5.2): piggybacked in the ACK of a CON
  /// (§5.2.1) — type, message id and token are filled in and the ACK is cached for duplicates —
  /// or, when the CON was already acknowledged with acknowledge(), as a separate CON response
  /// with a new message id (§5.2.2); a NON request gets a NON response with a new message id
  /// (§5.2.3). The token is always the request's (§5.3.2). Nothing is sent for an ACK or RST.
  [[nodiscard]] std::vector<Action> respond(const PeerKey& peer, const Message& request, Message response,
                                            TimePoint now);

  /// Sends the Empty ACK that promises a separate response to the CON `request` (§5.2.2) and caches
  /// it for duplicates. Nothing happens for other types or if the CON was already answered.
  [[nodiscard]] std::vector<Action> acknowledge(const PeerKey& peer, const Message& request, TimePoint now);

  /// Rejects `request` (CON or NON) with an RST echoing its message id (§4.2, §4.3); cached for
  /// duplicates of a CON.
  [[nodiscard]] std::vector<Action> reject(const PeerKey& peer, const Message& request, TimePoint now);

  /// Retransmissions and give-ups due at `now`, in deadline order; also forgets expired duplicate
  /// records. Call it when the timer for nextDeadline() fires (calling it at any time is harmless).
  [[nodiscard]] std::vector<Action> poll(TimePoint now);

  /// When poll() next has something to do for an outstanding CON, or nullopt when none is.
  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;

  /// Stops retransmitting a CON without reporting anything (e.g. the request was cancelled).
  bool cancel(const PeerKey& peer, std::uint16_t messageId);

  /// A fresh message id: sequential from a random start (§4.4).
  std::uint16_t nextMessageId() noexcept;

  [[nodiscard]] std::size_t outstanding() const noexcept { return pending_.size(); }
  [[nodiscard]] std::size_t outstanding(const PeerKey& peer) const;
  /// Duplicate-detection records currently held.
  [[nodiscard]] std::size_t remembered() const noexcept { return seen_.size(); }
  [[nodiscard]] const TransmissionParams& params() const noexcept { return params_; }

 private:
  using Key = std::pair<PeerKey, std::uint16_t>;

  struct Seen {
    TimePoint expires;
    std::optional<std::vector<std::uint8_t>> reply;  // the ACK or RST sent for it, replayed on duplicates
    bool acknowledged = false;                       // an Empty ACK went out: a response must be separate
  };
  struct Pending {
    std::vector<std::uint8_t> bytes;
    std::vector<std::uint8_t> token;
    unsigned retransmits = 0;
    Duration timeout{};
    std::multimap<TimePoint, Key>::iterator timer;
  };
  struct SentNon {
    TimePoint expires;
    std::vector<std::uint8_t> token;
  };

  void prune(TimePoint now);
  Seen& remember(const Key& key, Type type, TimePoint now);
  void cacheReply(const Key& key, std::vector<std::uint8_t> bytes, TimePoint now);
  void onAck(const PeerKey& peer, Message m, std::vector<Action>& out);
  void onReset(const PeerKey& peer, const Message& m, std::vector<Action>& out);
  void erasePending(std::map<Key, Pending>::iterator it);
  Duration initialTimeout();

  TransmissionParams params_;
  std::mt19937_64 rng_;
  std::uint16_t nextMid_;
  std::map<Key, Seen> seen_;
  std::multimap<TimePoint, Key> seenExpiry_;
  std::map<Key, Pending> pending_;
  std::multimap<TimePoint, Key> timers_;
  std::map<Key, SentNon> sentNon_;
  std::multimap<TimePoint, Key> sentNonExpiry_;
};

/// Request tokens (RFC 7252 §5.3.1) from random bytes the caller supplies (e.g. OpenSSL
/// RAND_bytes): the bytes key a bijective mix of a counter, so 8-byte tokens never repeat within one
/// generator's life and shorter tokens are the prefixes of those. Not a CSPRNG: the tokens are as
/// hard to guess as the seed is secret, which is what §5.3.1 asks of tokens on unsecured links.
class TokenGenerator {
 public:
  /// Uses up to the first 16 bytes of `random` (fewer bytes make weaker tokens).
  explicit TokenGenerator(std::span<const std::uint8_t> random) noexcept;
  /// A token of `length` bytes, clamped to 1…8.
  std::vector<std::uint8_t> next(std::size_t length = kMaxTokenLength);

 private:
  std::uint64_t key0_ = 0;
  std::uint64_t key1_ = 0;
  std::uint64_t counter_ = 0;
};

}  // namespace fc::coap
