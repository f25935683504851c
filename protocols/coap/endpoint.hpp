// A CoAP endpoint above the message layer, sans-I/O: it serves resources (routing by Uri-Path,
// RFC 7252 §5.8 method checks, §5.4.1 critical options, /.well-known/core per RFC 6690 §4,
// block-wise transfers per RFC 7959) and issues its own requests (token matching per §5.3.2,
// piggybacked and separate responses per §5.2, block-wise downloads and uploads, and observations
// per RFC 7641 as the observing side). The server and the client library drive the same class.
//
// It owns no socket, thread or clock. Feed it datagrams with onDatagram(peer, bytes, now) and call
// poll(now) when nextDeadline() is due; take what it wants sent with takeDatagrams() and what is
// worth logging with takeNotes(). `peer` is whatever identifies the remote end below (an address
// for plain UDP, a session for DTLS): this layer only ever sees plaintext datagrams.
// Handlers and response callbacks run synchronously inside those calls; they may call request(),
// cancel() and friends re-entrantly.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "protocols/coap/block.hpp"
#include "protocols/coap/exchange.hpp"
#include "protocols/coap/link_format.hpp"
#include "protocols/coap/message.hpp"
#include "protocols/common/expected.hpp"

namespace fc::coap {

/// Bounds on what one peer (or all of them) can make the endpoint hold.
struct EndpointLimits {
  std::size_t maxPeers = 10'000;           ///< peers with state; a new peer beyond it is dropped
  std::size_t maxPendingPerPeer = 16;      ///< own requests and observations outstanding per peer
  std::size_t maxTransfersPerPeer = 4;     ///< Block1 reassemblies under way per peer
  std::size_t maxBodySize = 64 * 1024;     ///< largest reassembled Block1 body (4.13 beyond, RFC 7959 §2.9.3)
  std::chrono::milliseconds transferTimeout{60'000};   ///< a Block1 reassembly idle this long is dropped
  std::chrono::milliseconds peerIdleTimeout{300'000};  ///< a peer with no traffic and no state this long is forgotten
  /// How long a separate response (after an Empty ACK) or the response to a NON request is awaited;
  /// 0 = MAX_TRANSMIT_WAIT (RFC 7252 §4.8.2).
  std::chrono::milliseconds responseTimeout{0};
  std::uint8_t maxSzx = kMaxSzx;  ///< largest block this endpoint sends or accepts (RFC 7959 §2.2)
};

/// Why one of this endpoint's own requests failed.
enum class RequestError : std::uint8_t {
  Timeout = 1,     ///< no ACK after MAX_RETRANSMIT retransmissions (§4.2), or no response in responseTimeout
  Reset,           ///< the peer answered with RST (§4.2, §4.3)
  Cancelled,       ///< cancel(), or the endpoint forgot the peer
  TooManyPending,  ///< EndpointLimits::maxPendingPerPeer reached; nothing was sent
  BlockMismatch,   ///< a Block2 response out of sequence or with a changed ETag (RFC 7959 §2.4)
  InvalidRequest,  ///< the request cannot be encoded (e.g. an option value too long)
};

const std::error_category& requestCategory() noexcept;
std::error_code make_error_code(RequestError e) noexcept;

/// A request as a resource handler sees it: Block1 bodies arrive reassembled.
struct IncomingRequest {
  const PeerKey& peer;
  const Message& message;
  std::string path;     ///< Uri-Path joined with '/', no leading slash ("topic/a1/dev/update")
  std::string subpath;  ///< for a subtree resource, the part below its path ("a1/dev/update"), else ""
  TimePoint now;
};

/// A handler returns the response: code, options (Content-Format, ETag, Location-Path …) and payload.
/// Type, message id and token are filled in; a payload larger than the negotiated block size is
/// served block-wise (RFC 7959 §2.4). A response that already carries a Block2 option is one block
/// the handler cut itself (a representation too large to hold, read piece by piece) and goes out
/// as it is. Two answers that are not responses: deferredResponse() and ignoredRequest().
using ResourceHandler = std::function<Message(const IncomingRequest&)>;

/// A handler's answer meaning "later": a CON request gets the Empty ACK that promises a separate
/// response (RFC 7252 §5.2.2), which the owner sends with Endpoint::respondLater — or never.
Message deferredResponse();
/// A handler's answer meaning "as if it was lost": nothing is sent, and retransmissions of the
/// request (same message id) are dropped as duplicates (§4.5).
Message ignoredRequest();

struct Resource {
  std::string path;           ///< "auth", "rd", "" for the root; no leading slash
  bool subtree = false;       ///< also serves every path below it ("topic" serves "topic/a/b")
  std::vector<Code> methods;  ///< allowed methods; any other gets 4.05 (§5.9.2.6)
  std::vector<LinkParam> attributes;  ///< listed in /.well-known/core (rt, if, ct …)
  bool listed = true;                 ///< false: not in /.well-known/core
  ResourceHandler handler;
};

/// Something worth a log line: a datagram dropped, a request refused, a peer refused.
struct Note {
  enum class Kind : std::uint8_t {
    Dropped,     ///< a datagram not delivered (malformed, duplicate, unmatched …; see text)
    Rejected,    ///< answered with RST: a response nobody asked for
    BadRequest,  ///< answered with a 4.xx/5.xx by the endpoint itself (4.02, 4.04, 4.05, 4.08, 4.13 …)
    PeerLimit,   ///< a new peer refused because maxPeers peers have state
  };
  PeerKey peer;
  Kind kind = Kind::Dropped;
  std::string text;
};

/// Options for one of this endpoint's own requests.
struct RequestOptions {
  /// RFC 7959 §2.4 early negotiation: ask for blocks of this SZX from the first response on.
  std::optional<std::uint8_t> block2Szx;
  /// A payload larger than 2^(block1Szx+4) is uploaded block-wise (RFC 7959 §2.5).
  std::uint8_t block1Szx = kMaxSzx;
  /// The request carries its own Block2 option (any NUM) and the response is delivered as it came,
  /// Block2 option included, without fetching further blocks: the caller drives the transfer (a
  /// resumable download, RFC 7959 §2.4).
  bool singleBlock = false;
};

/// The final response (Block2 bodies reassembled, Block2 option removed) or why there is none.
using ResponseHandler = std::function<void(Expected<Message, std::error_code>)>;
/// A fresh notification (RFC 7641 §3.4) or the response that registered; `last` is true when the
/// observation has ended (a response without Observe, an error code, a deregistration's answer).
/// An error (timeout, RST) always ends it.
using NotificationHandler = std::function<void(Expected<Message, std::error_code>, bool last)>;

/// RFC 7641 §3.4: is a notification with sequence number v2 received at t2 newer than one with v1
/// received at t1? Sequence numbers are 24-bit and wrap; after 128 s any number is newer.
bool notificationIsFresh(std::uint32_t v1, TimePoint t1, std::uint32_t v2, TimePoint t2) noexcept;

/// An 8-byte entity tag for a representation (FNV-1a over code, Content-Format and payload): the
/// same bytes give the same tag, so block-wise responses are sliced statelessly (RFC 7959 §2.4).
std::vector<std::uint8_t> entityTag(const Message& response);

class Endpoint {
 public:
  using RequestId = std::uint64_t;

  /// `random` seeds token generation (§5.3.1); pass fresh random bytes (e.g. RAND_bytes).
  Endpoint(TransmissionParams params, EndpointLimits limits, std::span<const std::uint8_t> random);

  /// Serves `resource`; a later resource with the same path replaces it.
  void addResource(Resource resource);
  /// Treats critical option `number` as understood (a handler reads it); unrecognized critical
  /// options in a request are answered 4.02 Bad Option (§5.4.1).
  void recognizeOption(std::uint16_t number);

  // --- input ---
  void onDatagram(const PeerKey& peer, std::span<const std::uint8_t> datagram, TimePoint now);
  /// Retransmissions, timeouts and expiries due at `now`.
  void poll(TimePoint now);
  /// When poll() next has something to do, or nullopt.
  [[nodiscard]] std::optional<TimePoint> nextDeadline() const;

  // --- this endpoint's own requests ---
  /// Sends `request` (its type CON or NON, code, options and payload; message id and token are
  /// assigned) and calls `done` exactly once. Block-wise transfers follow on their own.
  Expected<RequestId, RequestError> request(const PeerKey& peer, Message request, ResponseHandler done, TimePoint now,
                                            RequestOptions options = {});
  /// RFC 7641 §3.1: sends `request` (a GET or FETCH) with Observe = 0 and calls `notify` with the
  /// first response and every fresh notification. Confirmable notifications are acknowledged.
  Expected<RequestId, RequestError> observe(const PeerKey& peer, Message request, NotificationHandler notify,
                                            TimePoint now);
  /// RFC 7641 §3.3.1: sends the registration again with the same token (after a long silence).
  bool reregister(RequestId id, TimePoint now);
  /// Ends a request or observation; its callback gets RequestError::Cancelled. For an established
  /// observation `deregister` sends a GET with Observe = 1 (RFC 7641 §3.6 proactive cancel) under the
  /// same id (lastSent(id) shows it) and `answered` gets its answer or why there is none; otherwise
  /// the next notification is answered with RST (§3.6 reactive cancel) and `answered` is not called.
  bool cancel(RequestId id, TimePoint now, bool deregister = true, ResponseHandler answered = {});
  /// RFC 7641 §4.2, the observed side: sends `notification` (a 2.xx response with the observer's
  /// token and an Observe option; type CON or NON) outside any exchange, with a fresh message id.
  /// A CON is retransmitted until acknowledged or given up; its ACK, RST or give-up is not reported.
  /// False when it cannot be encoded.
  bool sendNotification(const PeerKey& peer, Message notification, TimePoint now);
  /// The separate response (RFC 7252 §5.2.2) to a request whose handler returned deferredResponse():
  /// a CON response with a fresh message id (a NON one for a NON request), the request's token.
  void respondLater(const PeerKey& peer, const Message& request, Message response, TimePoint now);
  /// Drops every state held for `peer` (e.g. its DTLS session ended); its requests fail Cancelled.
  void forgetPeer(const PeerKey& peer, TimePoint now);
  /// The message last sent for request `id` as it went on the wire (message id, token, the block
  /// in flight), or nullopt once the request is over.
  [[nodiscard]] std::optional<Message> lastSent(RequestId id) const;

  // --- output ---
  [[nodiscard]] std::vector<SendDatagram> takeDatagrams();
  [[nodiscard]] std::vector<Note> takeNotes();

  // --- introspection ---
  [[nodiscard]] std::size_t peers() const noexcept { return peers_.size(); }
  [[nodiscard]] std::size_t transfers() const;
  [[nodiscard]] std::size_t pendingRequests() const noexcept { return outgoing_.size(); }
  [[nodiscard]] const MessageLayer& messageLayer() const noexcept { return layer_; }
  [[nodiscard]] const EndpointLimits& limits() const noexcept { return limits_; }
  /// The /.well-known/core document (RFC 6690 §4).
  [[nodiscard]] std::string wellKnownCore() const;

 private:
  struct Transfer {  // a Block1 reassembly (RFC 7959 §2.5)
    std::vector<std::uint8_t> body;
    std::uint8_t szx = kMaxSzx;
    TimePoint lastActivity;
  };
  struct Peer {
    TimePoint lastActivity;
    std::map<std::string, Transfer> transfers;  // key: method and URI
  };
  struct Outgoing {
    RequestId id = 0;
    PeerKey peer;
    Message request;  // as given: type, code, options, the whole payload
    Message lastSent;  // the step in flight, as encoded
    std::vector<std::uint8_t> token;
    std::uint16_t messageId = 0;
    bool awaitingAck = false;
    std::optional<TimePoint> deadline;  // a separate or NON response is due by then
    ResponseHandler done;
    NotificationHandler notify;
    bool observing = false;     // an observation (established or not)
    bool established = false;   // the registration was answered with Observe
    bool deregistering = false;
    RequestOptions options;
    // Block1 upload (RFC 7959 §2.5): offset of the block in flight and the block size.
    std::size_t uploaded = 0;
    std::uint8_t block1Szx = kMaxSzx;
    // Block2 download (RFC 7959 §2.4): the body so far, once a response announced more blocks.
    bool downloading = false;
    std::vector<std::uint8_t> body;
    std::optional<std::vector<std::uint8_t>> etag;
    std::uint8_t block2Szx = kMaxSzx;
    // RFC 7959 §2.6: the GET fetching the rest of a multi-block notification, and which one it is.
    std::optional<RequestId> fetching;
    std::uint64_t fetchSerial = 0;
    // Observe freshness (RFC 7641 §3.4).
    std::optional<std::uint32_t> lastSequence;
    TimePoint lastNotification{};
  };
  using TokenKey = std::pair<PeerKey, std::vector<std::uint8_t>>;

  void run(std::vector<Action> actions, TimePoint now);
  bool admit(const PeerKey& peer, TimePoint now);
  void serve(const PeerKey& peer, const Message& request, TimePoint now);
  std::optional<Message> checkOptions(const Message& request) const;
  std::optional<Message> reassemble(Peer& peer, const PeerKey& key, const Message& request, std::string uri,
                                    Message& full, TimePoint now);
  Message sliceBlock2(const Message& request, Message response) const;
  void respond(const PeerKey& peer, const Message& request, Message response, TimePoint now);
  void refuse(const PeerKey& peer, const Message& request, Code code, std::string why, TimePoint now);
  void note(const PeerKey& peer, Note::Kind kind, std::string text);

  /// A Block2 download to continue rather than begin: the first block already came (RFC 7959 §2.6).
  struct Resume {
    std::vector<std::uint8_t> body;
    std::optional<std::vector<std::uint8_t>> etag;
    std::uint8_t szx = kMaxSzx;
  };
  Expected<RequestId, RequestError> start(const PeerKey& peer, Message request, ResponseHandler done,
                                          NotificationHandler notify, TimePoint now, RequestOptions options,
                                          std::optional<Resume> resume = std::nullopt);
  void sendStep(Outgoing& o, Message m, TimePoint now);
  void sendNext(Outgoing& o, TimePoint now);
  void onResponse(RequestId id, Message response, TimePoint now);
  void onNotification(Outgoing& o, Message response, TimePoint now);
  void fetchRemainingBlocks(Outgoing& o, Message first, const Block& block, TimePoint now);
  void deliverNotification(RequestId id, Expected<Message, std::error_code> response);
  void finish(RequestId id, Expected<Message, std::error_code> result);
  std::map<RequestId, Outgoing>::iterator findByToken(const PeerKey& peer, const std::vector<std::uint8_t>& token);
  std::size_t outgoingTo(const PeerKey& peer) const;
  Duration responseTimeout() const;

  MessageLayer layer_;
  EndpointLimits limits_;
  TokenGenerator tokens_;
  std::vector<Resource> resources_;
  std::set<std::uint16_t> recognized_;
  std::map<PeerKey, Peer> peers_;
  std::map<RequestId, Outgoing> outgoing_;
  std::map<TokenKey, RequestId> byToken_;
  RequestId nextId_ = 1;
  std::vector<SendDatagram> datagrams_;
  std::vector<Note> notes_;
};

}  // namespace fc::coap

template <>
struct std::is_error_code_enum<fc::coap::RequestError> : std::true_type {};
