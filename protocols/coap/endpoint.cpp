// CoAP endpoint: resources, block-wise transfers, own requests and observations over the message
// layer. Section numbers refer to RFC 7252 unless another RFC is named.
#include "protocols/coap/endpoint.hpp"

#include <algorithm>
#include <type_traits>
#include <variant>

#include "protocols/common/overloaded.hpp"

namespace fc::coap {
namespace {

class RequestCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "coap.request"; }
  std::string message(int ev) const override {
    switch (static_cast<RequestError>(ev)) {
      case RequestError::Timeout:
        return "no response from the CoAP peer in time";
      case RequestError::Reset:
        return "the CoAP peer answered with RST";
      case RequestError::Cancelled:
        return "the CoAP request was cancelled";
      case RequestError::TooManyPending:
        return "too many CoAP requests outstanding to this peer";
      case RequestError::BlockMismatch:
        return "block-wise transfer out of sequence or its representation changed";
      case RequestError::InvalidRequest:
        return "the CoAP request cannot be encoded";
    }
    return "unknown CoAP request error";
  }
};

// Options this endpoint understands in every request (§5.10, RFC 7641, RFC 7959, RFC 7967).
// If-Match and If-None-Match are not among them: no resource here does conditional requests, so
// they are answered 4.02 as §5.4.1 requires for critical options nobody implements.
bool understoodByDefault(std::uint16_t number) noexcept {
  switch (number) {
    case option::kUriHost:
    case option::kETag:
    case option::kObserve:
    case option::kUriPort:
    case option::kUriPath:
    case option::kContentFormat:
    case option::kMaxAge:
    case option::kUriQuery:
    case option::kAccept:
    case option::kBlock2:
    case option::kBlock1:
    case option::kSize2:
    case option::kSize1:
    case option::kNoResponse:
    case option::kProxyUri:
    case option::kProxyScheme:
      return true;
    default:
      return false;
  }
}

Message withCode(Code c, std::string_view diagnostic) {
  Message m;
  m.code = c;
  if (!diagnostic.empty()) m.setPayload(diagnostic);  // §5.5.2 diagnostic payload
  return m;
}

// Method and URI (path and query): what identifies a Block1 transfer (RFC 7959 §2.5).
std::string transferKey(const Message& request) {
  std::string key = std::to_string(request.code.raw) + " " + request.uriPath();
  for (auto q : request.getStrings(option::kUriQuery)) {
    key += '?';
    key.append(q);
  }
  return key;
}


}  // namespace

const std::error_category& requestCategory() noexcept {
  static const RequestCategory category;
  return category;
}

std::error_code make_error_code(RequestError e) noexcept { return {static_cast<int>(e), requestCategory()}; }

bool notificationIsFresh(std::uint32_t v1, TimePoint t1, std::uint32_t v2, TimePoint t2) noexcept {
  // RFC 7641 §3.4, with the 2^23 window on 24-bit sequence numbers and the 128-second escape.
  constexpr std::uint32_t kHalf = 1u << 23;
  v1 &= 0xFFFFFF;
  v2 &= 0xFFFFFF;
  return (v1 < v2 && v2 - v1 < kHalf) || (v1 > v2 && v1 - v2 > kHalf) || (t2 > t1 + std::chrono::seconds(128));
}

std::vector<std::uint8_t> entityTag(const Message& response) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  const auto mix = [&h](std::uint8_t b) {
    h ^= b;
    h *= 0x100000001B3ull;
  };
  mix(response.code.raw);
  if (const auto* cf = response.find(option::kContentFormat))
    for (auto b : cf->value) mix(b);
  for (auto b : response.payload) mix(b);
  std::vector<std::uint8_t> tag(8);
  for (std::size_t i = 0; i < 8; ++i) tag[i] = static_cast<std::uint8_t>(h >> (56 - 8 * i));
  return tag;
}

Endpoint::Endpoint(TransmissionParams params, EndpointLimits limits, std::span<const std::uint8_t> random)
    : layer_(params, [&random] {
        std::seed_seq seq(random.begin(), random.end());
        return std::mt19937_64(seq);
      }()),
      limits_(limits),
      tokens_(random) {
  limits_.maxSzx = std::min(limits_.maxSzx, kMaxSzx);
}

void Endpoint::addResource(Resource resource) {
  auto it = std::find_if(resources_.begin(), resources_.end(), [&](const Resource& r) { return r.path == resource.path; });
  if (it != resources_.end()) *it = std::move(resource);
  else resources_.push_back(std::move(resource));
}

void Endpoint::recognizeOption(std::uint16_t number) { recognized_.insert(number); }

std::size_t Endpoint::transfers() const {
  std::size_t n = 0;
  for (const auto& [_, p] : peers_) n += p.transfers.size();
  return n;
}

std::vector<SendDatagram> Endpoint::takeDatagrams() { return std::exchange(datagrams_, {}); }
std::vector<Note> Endpoint::takeNotes() { return std::exchange(notes_, {}); }

void Endpoint::note(const PeerKey& peer, Note::Kind kind, std::string text) {
  notes_.push_back(Note{peer, kind, std::move(text)});
}

Duration Endpoint::responseTimeout() const {
  if (limits_.responseTimeout.count() > 0) return limits_.responseTimeout;
  return layer_.params().maxTransmitWait();
}

std::size_t Endpoint::outgoingTo(const PeerKey& peer) const {
  return static_cast<std::size_t>(
      std::count_if(outgoing_.begin(), outgoing_.end(), [&](const auto& e) { return e.second.peer == peer; }));
}

// --- input ---

bool Endpoint::admit(const PeerKey& peer, TimePoint now) {
  if (peers_.contains(peer)) return true;
  if (peers_.size() >= limits_.maxPeers) poll(now);  // forgets idle peers
  if (peers_.size() >= limits_.maxPeers) return false;
  peers_.emplace(peer, Peer{now, {}});
  return true;
}

void Endpoint::onDatagram(const PeerKey& peer, std::span<const std::uint8_t> datagram, TimePoint now) {
  if (!admit(peer, now)) {
    note(peer, Note::Kind::PeerLimit, "dropped: " + std::to_string(limits_.maxPeers) + " peers already have state");
    return;
  }
  peers_[peer].lastActivity = now;
  run(layer_.onDatagram(peer, datagram, now), now);
}

void Endpoint::run(std::vector<Action> actions, TimePoint now) {
  for (auto& action : actions) {
    std::visit(
        Overloaded{
            [&](SendDatagram& a) { datagrams_.push_back(std::move(a)); },
            [&](DeliverMessage& a) {
              if (a.message.code.isRequest()) return serve(a.peer, a.message, now);
              // A separate response, a NON response or a notification: matched by token (§5.3.2).
              auto it = findByToken(a.peer, a.message.token);
              if (it == outgoing_.end()) {
                // §5.3.2/§4.2: a response nobody is waiting for is rejected; for a notification
                // this is how an observation nobody wants any more ends (RFC 7641 §3.6).
                run(layer_.reject(a.peer, a.message, now), now);
                note(a.peer, Note::Kind::Rejected,
                     std::string(typeName(a.message.type)) + " " + codeName(a.message.code) +
                         " matches no request of ours: RST");
                return;
              }
              if (a.message.type == Type::Confirmable) run(layer_.acknowledge(a.peer, a.message, now), now);
              onResponse(it->first, std::move(a.message), now);
            },
            [&](Acknowledged& a) {
              auto it = findByToken(a.peer, a.token);
              if (it == outgoing_.end() || it->second.messageId != a.messageId || !it->second.awaitingAck) return;
              Outgoing& o = it->second;
              o.awaitingAck = false;
              if (a.ack.code.isEmpty()) {
                o.deadline = now + responseTimeout();  // §5.2.2: the response comes separately
                return;
              }
              if (a.ack.token != o.token) {
                note(a.peer, Note::Kind::Dropped, "piggybacked response with a token that is not the request's");
                o.deadline = now + responseTimeout();
                return;
              }
              onResponse(it->first, std::move(a.ack), now);
            },
            [&](ResetReceived& a) {
              auto it = findByToken(a.peer, a.token);
              if (it == outgoing_.end() || it->second.messageId != a.messageId) return;
              finish(it->first, Unexpected(make_error_code(RequestError::Reset)));
            },
            [&](GaveUp& a) {
              auto it = findByToken(a.peer, a.token);
              if (it == outgoing_.end() || it->second.messageId != a.messageId) return;
              it->second.awaitingAck = false;
              finish(it->first, Unexpected(make_error_code(RequestError::Timeout)));
            },
            [&](Discarded& a) {
              if (a.reason == DiscardReason::Duplicate) return;  // answered from the cache: normal traffic
              std::string text = std::string("dropped: ") + discardReasonName(a.reason);
              if (a.error) text += std::string(" (") + make_error_code(*a.error).message() + ")";
              if (a.header) text += std::string(", ") + typeName(a.header->type) + " " + codeName(a.header->code) +
                                    " mid " + std::to_string(a.header->messageId);
              note(a.peer, Note::Kind::Dropped, std::move(text));
            },
        },
        action);
  }
}

void Endpoint::poll(TimePoint now) {
  run(layer_.poll(now), now);

  std::vector<RequestId> late;
  for (const auto& [id, o] : outgoing_)
    if (o.deadline && *o.deadline <= now) late.push_back(id);
  for (auto id : late) finish(id, Unexpected(make_error_code(RequestError::Timeout)));

  for (auto p = peers_.begin(); p != peers_.end();) {
    auto& transfers = p->second.transfers;
    for (auto t = transfers.begin(); t != transfers.end();) {
      if (t->second.lastActivity + limits_.transferTimeout <= now) {
        note(p->first, Note::Kind::Dropped, "Block1 transfer of " + t->first + " expired incomplete");
        t = transfers.erase(t);
      } else {
        ++t;
      }
    }
    const bool idle = p->second.lastActivity + limits_.peerIdleTimeout <= now && transfers.empty() &&
                      layer_.outstanding(p->first) == 0 && outgoingTo(p->first) == 0;
    p = idle ? peers_.erase(p) : std::next(p);
  }
}

std::optional<TimePoint> Endpoint::nextDeadline() const {
  std::optional<TimePoint> next = layer_.nextDeadline();
  const auto consider = [&next](TimePoint t) {
    if (!next || t < *next) next = t;
  };
  for (const auto& [_, o] : outgoing_)
    if (o.deadline) consider(*o.deadline);
  for (const auto& [_, p] : peers_)
    for (const auto& [__, t] : p.transfers) consider(t.lastActivity + limits_.transferTimeout);
  return next;
}

// --- serving ---

std::optional<Message> Endpoint::checkOptions(const Message& request) const {
  const Option* previous = nullptr;
  for (const auto& o : request.options) {
    const bool repeated = previous && previous->number == o.number;
    previous = &o;
    if (o.number == option::kProxyUri || o.number == option::kProxyScheme)
      return withCode(code::kProxyingNotSupported, "this endpoint is not a proxy");  // §5.7.2
    bool understood = understoodByDefault(o.number) || recognized_.contains(o.number);
    if (const auto* info = optionInfo(o.number); understood && info) {
      // §5.4.3 a value of the wrong length and §5.4.5 a repeated non-repeatable option are
      // treated like an unrecognized option.
      if (!optionLengthValid(o.number, o.value.size()) || (repeated && !info->repeatable)) understood = false;
    }
    if (!understood && isCritical(o.number))
      return withCode(code::kBadOption, "critical option " + std::to_string(o.number) + " not understood");
  }
  return std::nullopt;
}

void Endpoint::respond(const PeerKey& peer, const Message& request, Message response, TimePoint now) {
  response.token = request.token;
  if (validate(response)) response = withCode(code::kInternalServerError, "the response cannot be encoded");
  run(layer_.respond(peer, request, std::move(response), now), now);
}

void Endpoint::respondLater(const PeerKey& peer, const Message& request, Message response, TimePoint now) {
  respond(peer, request, sliceBlock2(request, std::move(response)), now);
}

Message deferredResponse() {
  Message m;
  m.type = Type::Acknowledgement;
  m.code = code::kEmpty;
  return m;
}

Message ignoredRequest() {
  Message m;
  m.type = Type::NonConfirmable;
  m.code = code::kEmpty;
  return m;
}

void Endpoint::refuse(const PeerKey& peer, const Message& request, Code c, std::string why, TimePoint now) {
  note(peer, Note::Kind::BadRequest,
       codeName(request.code) + " /" + request.uriPath() + " → " + codeName(c) + ": " + why);
  respond(peer, request, withCode(c, why), now);
}

void Endpoint::serve(const PeerKey& peer, const Message& request, TimePoint now) {
  if (auto bad = checkOptions(request)) {
    const auto c = bad->code;
    return refuse(peer, request, c, std::string(bad->payloadText()), now);
  }
  for (auto number : {option::kBlock1, option::kBlock2}) {
    if (const auto* o = request.find(number); o && !decodeBlock(o->value))
      return refuse(peer, request, code::kBadRequest,
                    std::string(number == option::kBlock1 ? "Block1" : "Block2") + " uses the reserved SZX 7", now);
  }

  const std::string path = request.uriPath();
  if (path == ".well-known/core") {
    if (request.code != code::kGet) return refuse(peer, request, code::kMethodNotAllowed, "only GET", now);
    Message doc;
    doc.code = code::kContent;
    doc.setUint(option::kContentFormat, format::kLinkFormat);
    doc.setPayload(wellKnownCore());
    return respond(peer, request, sliceBlock2(request, std::move(doc)), now);
  }

  const Resource* match = nullptr;
  for (const auto& r : resources_) {
    if (r.path == path) {
      match = &r;
      break;
    }
    const bool below = r.subtree && (r.path.empty() || (path.size() > r.path.size() && path.starts_with(r.path) &&
                                                        path[r.path.size()] == '/'));
    if (below && (!match || match->path.size() < r.path.size())) match = &r;
  }
  if (!match) return refuse(peer, request, code::kNotFound, "no resource /" + path, now);
  if (std::find(match->methods.begin(), match->methods.end(), request.code) == match->methods.end())
    return refuse(peer, request, code::kMethodNotAllowed, codeName(request.code) + " not allowed on /" + path, now);
  const std::string subpath =
      match->path == path ? std::string{} : path.substr(match->path.empty() ? 0 : match->path.size() + 1);
  const ResourceHandler handler = match->handler;  // a handler may add resources

  Message full = request;
  auto& state = peers_[peer];
  if (auto early = reassemble(state, peer, request, transferKey(request), full, now)) {
    return respond(peer, request, std::move(*early), now);
  }

  Message response = handler ? handler(IncomingRequest{peer, full, path, subpath, now})
                             : withCode(code::kInternalServerError, "no handler");
  if (response.code == code::kEmpty) {
    if (response.type == Type::Acknowledgement) run(layer_.acknowledge(peer, request, now), now);
    return;  // ignoredRequest(): the message layer remembers the id, so retransmissions are dropped
  }
  // §5.10.4: a representation in another format than the one asked for is 4.06.
  if (const auto accept = request.getUint(option::kAccept); accept && response.code.codeClass() == 2) {
    if (const auto cf = response.getUint(option::kContentFormat); cf && *cf != *accept)
      return refuse(peer, request, code::kNotAcceptable,
                    "the representation is Content-Format " + std::to_string(*cf) + ", not " + std::to_string(*accept),
                    now);
  }
  // RFC 7959 §2.3: the response to the last block of a Block1 request echoes its Block1 option.
  if (const auto* b1 = request.find(option::kBlock1)) {
    if (auto b = decodeBlock(b1->value)) response.set(option::kBlock1, encodeBlock(Block{b->num, false, b->szx}));
  }
  respond(peer, request, sliceBlock2(request, std::move(response)), now);
}

std::optional<Message> Endpoint::reassemble(Peer& peer, const PeerKey& key, const Message& request, std::string uri,
                                            Message& full, TimePoint now) {
  const auto tooLarge = [this, &key, &request] {
    // RFC 7959 §2.9.3: 4.13 carries in Size1 the largest body this endpoint accepts.
    Message m = withCode(code::kRequestEntityTooLarge,
                         "request body larger than " + std::to_string(limits_.maxBodySize) + " bytes");
    m.setUint(option::kSize1, static_cast<std::uint32_t>(limits_.maxBodySize));
    note(key, Note::Kind::BadRequest, codeName(request.code) + " /" + request.uriPath() + " → 4.13: body too large");
    return m;
  };
  const auto bad = [this, &key, &request](Code c, std::string why) {
    note(key, Note::Kind::BadRequest, codeName(request.code) + " /" + request.uriPath() + " → " + codeName(c) + ": " + why);
    return withCode(c, why);
  };

  if (const auto size1 = request.getUint(option::kSize1); size1 && *size1 > limits_.maxBodySize) {
    peer.transfers.erase(uri);
    return tooLarge();
  }
  const auto* opt = request.find(option::kBlock1);
  if (!opt) return std::nullopt;
  const auto block = decodeBlock(opt->value);  // serve() answered 4.00 for a bad one
  if (!block) return bad(code::kBadRequest, "bad Block1");
  full.remove(option::kBlock1);
  full.remove(option::kSize1);
  // RFC 7959 §2.5: the server may ask for smaller blocks in its 2.31 (early negotiation).
  const std::uint8_t szx = std::min(block->szx, limits_.maxSzx);
  const auto cont = [&](std::uint32_t num) {
    Message m;
    m.code = code::kContinue;
    m.set(option::kBlock1, encodeBlock(Block{num, true, szx}));
    return m;
  };
  // Every block but the last carries exactly the block size (RFC 7959 §2.2).
  if (block->more && request.payload.size() != block->size())
    return bad(code::kBadRequest, "Block1 with M set carries " + std::to_string(request.payload.size()) +
                                      " bytes, not the block size " + std::to_string(block->size()));

  if (block->num == 0) {
    peer.transfers.erase(uri);  // a new transfer replaces one under way for the same URI
    if (!block->more) return std::nullopt;  // the whole body in one block
    if (request.payload.size() > limits_.maxBodySize) return tooLarge();
    if (peer.transfers.size() >= limits_.maxTransfersPerPeer)
      return bad(code::kServiceUnavailable, "too many block-wise transfers under way from this peer");
    peer.transfers.emplace(std::move(uri), Transfer{request.payload, block->szx, now});
    return cont(0);
  }

  auto it = peer.transfers.find(uri);
  if (it == peer.transfers.end())
    return bad(code::kRequestEntityIncomplete, "Block1 block " + std::to_string(block->num) + " without block 0");
  Transfer& t = it->second;
  if (block->offset() != t.body.size()) {
    peer.transfers.erase(it);
    return bad(code::kRequestEntityIncomplete, "Block1 block " + std::to_string(block->num) + " at offset " +
                                                   std::to_string(block->offset()) + ", expected offset " +
                                                   std::to_string(t.body.size()));
  }
  if (t.body.size() + request.payload.size() > limits_.maxBodySize) {
    peer.transfers.erase(it);
    return tooLarge();
  }
  t.body.insert(t.body.end(), request.payload.begin(), request.payload.end());
  t.lastActivity = now;
  if (block->more) return cont(block->num);
  full.payload = std::move(t.body);
  peer.transfers.erase(it);
  return std::nullopt;
}

Message Endpoint::sliceBlock2(const Message& request, Message response) const {
  std::optional<Block> asked;
  if (const auto* o = request.find(option::kBlock2))
    if (auto b = decodeBlock(o->value)) asked = *b;
  const std::size_t total = response.payload.size();
  if (response.has(option::kBlock2)) return response;  // the handler cut its own block
  if (total <= blockSize(limits_.maxSzx) && (!asked || response.code.codeClass() != 2)) return response;

  // RFC 7959 §2.4: the block the client asked for (or block 0), no larger than we send.
  auto block = respondBlock(asked.value_or(Block{0, false, limits_.maxSzx}), limits_.maxSzx, total);
  if (!block) return withCode(code::kBadOption, "Block2 asks for a block past the end of the representation");
  if (!response.has(option::kETag)) response.set(option::kETag, entityTag(response));
  // RFC 7959 §4: Size2 tells the total size with the first block, or whenever it is asked for.
  if (block->num == 0 || request.has(option::kSize2)) response.setUint(option::kSize2, static_cast<std::uint32_t>(total));
  response.set(option::kBlock2, encodeBlock(*block));
  const auto slice = blockSlice(response.payload, block->num, block->szx);
  response.payload.assign(slice.begin(), slice.end());
  return response;
}

std::string Endpoint::wellKnownCore() const {
  std::vector<Link> links;
  for (const auto& r : resources_)
    if (r.listed) links.push_back(Link{"/" + r.path, r.attributes});
  return serializeLinkFormat(links);
}

// --- own requests ---

std::map<Endpoint::RequestId, Endpoint::Outgoing>::iterator Endpoint::findByToken(
    const PeerKey& peer, const std::vector<std::uint8_t>& token) {
  auto t = byToken_.find(TokenKey{peer, token});
  return t == byToken_.end() ? outgoing_.end() : outgoing_.find(t->second);
}

Expected<Endpoint::RequestId, RequestError> Endpoint::request(const PeerKey& peer, Message request,
                                                              ResponseHandler done, TimePoint now,
                                                              RequestOptions options) {
  request.remove(option::kObserve);
  return start(peer, std::move(request), std::move(done), {}, now, options);
}

Expected<Endpoint::RequestId, RequestError> Endpoint::observe(const PeerKey& peer, Message request,
                                                              NotificationHandler notify, TimePoint now) {
  request.setUint(option::kObserve, 0);  // RFC 7641 §3.1: register
  return start(peer, std::move(request), {}, std::move(notify), now, {});
}

Expected<Endpoint::RequestId, RequestError> Endpoint::start(const PeerKey& peer, Message request, ResponseHandler done,
                                                            NotificationHandler notify, TimePoint now,
                                                            RequestOptions options, std::optional<Resume> resume) {
  if (request.type != Type::NonConfirmable) request.type = Type::Confirmable;
  if (!request.code.isRequest()) return Unexpected(RequestError::InvalidRequest);
  if (options.block2Szx && *options.block2Szx > kMaxSzx) return Unexpected(RequestError::InvalidRequest);
  Outgoing o;
  o.token = tokens_.next();
  Message probe = request;
  probe.token = o.token;
  probe.payload.resize(std::min<std::size_t>(probe.payload.size(), blockSize(kMaxSzx)));
  if (validate(probe)) return Unexpected(RequestError::InvalidRequest);
  if (!admit(peer, now) || outgoingTo(peer) >= limits_.maxPendingPerPeer)
    return Unexpected(RequestError::TooManyPending);

  o.id = nextId_++;
  o.peer = peer;
  o.request = std::move(request);
  o.done = std::move(done);
  o.notify = std::move(notify);
  o.observing = static_cast<bool>(o.notify);
  o.options = options;
  o.block1Szx = std::min(options.block1Szx, limits_.maxSzx);
  o.block2Szx = std::min(options.block2Szx.value_or(limits_.maxSzx), limits_.maxSzx);
  if (resume) {
    o.downloading = true;
    o.body = std::move(resume->body);
    o.etag = std::move(resume->etag);
    o.block2Szx = resume->szx;
  }
  const auto id = o.id;
  byToken_[TokenKey{peer, o.token}] = id;
  auto& stored = outgoing_.emplace(id, std::move(o)).first->second;
  peers_[peer].lastActivity = now;
  sendNext(stored, now);
  return id;
}

void Endpoint::sendStep(Outgoing& o, Message m, TimePoint now) {
  m.type = o.request.type;
  m.token = o.token;
  m.messageId = layer_.nextMessageId();
  o.messageId = m.messageId;
  o.awaitingAck = m.type == Type::Confirmable;
  o.deadline = o.awaitingAck ? std::nullopt : std::optional<TimePoint>(now + responseTimeout());
  auto actions = layer_.send(o.peer, m, now);
  o.lastSent = std::move(m);
  run(std::move(actions), now);
}

std::optional<Message> Endpoint::lastSent(RequestId id) const {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return std::nullopt;
  return it->second.lastSent;
}

void Endpoint::sendNext(Outgoing& o, TimePoint now) {
  Message m;
  m.code = o.request.code;
  m.options = o.request.options;
  const auto& payload = o.request.payload;
  if (o.downloading) {
    // RFC 7959 §2.4: the next block of the representation; the request body (if any) went already.
    m.remove(option::kContentFormat);
    m.remove(option::kBlock1);
    m.remove(option::kSize1);
    const auto num = static_cast<std::uint32_t>(o.body.size() / blockSize(o.block2Szx));
    m.set(option::kBlock2, encodeBlock(Block{num, false, o.block2Szx}));
  } else if (payload.size() > blockSize(o.block1Szx)) {
    // RFC 7959 §2.5: the block at the current offset; Size1 announces the total with the first.
    const auto num = static_cast<std::uint32_t>(o.uploaded / blockSize(o.block1Szx));
    const auto block = blockFor(payload.size(), num, o.block1Szx);
    m.set(option::kBlock1, encodeBlock(block ? *block : Block{num, false, o.block1Szx}));
    if (num == 0) m.setUint(option::kSize1, static_cast<std::uint32_t>(payload.size()));
    const auto slice = blockSlice(payload, num, o.block1Szx);
    m.payload.assign(slice.begin(), slice.end());
    if (o.options.block2Szx && block && !block->more)
      m.set(option::kBlock2, encodeBlock(Block{0, false, o.block2Szx}));
  } else {
    m.payload = payload;
    if (o.options.block2Szx && !o.options.singleBlock)
      m.set(option::kBlock2, encodeBlock(Block{0, false, o.block2Szx}));
  }
  sendStep(o, std::move(m), now);
}

void Endpoint::onResponse(RequestId id, Message response, TimePoint now) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return;
  Outgoing& o = it->second;
  // §5.2.2: a separate response may overtake the lost Empty ACK; it acknowledges the request too.
  if (o.awaitingAck) layer_.cancel(o.peer, o.messageId);
  o.awaitingAck = false;
  o.deadline.reset();
  if (o.observing) return onNotification(o, std::move(response), now);

  const auto& payload = o.request.payload;
  if (!o.downloading && payload.size() > blockSize(o.block1Szx) && response.code == code::kContinue) {
    const auto* opt = response.find(option::kBlock1);
    const auto b1 = opt ? decodeBlock(opt->value) : Expected<Block, BlockError>(Unexpected(BlockError::ValueTooLong));
    o.uploaded += blockSize(o.block1Szx);
    if (!b1 || o.uploaded >= payload.size())
      return finish(id, Unexpected(make_error_code(RequestError::BlockMismatch)));
    // RFC 7959 §2.5: the server's SZX in 2.31 is the size it wants from now on (never larger).
    o.block1Szx = std::min(o.block1Szx, b1->szx);
    return sendNext(o, now);
  }

  const auto* b2opt = response.find(option::kBlock2);
  if (b2opt && response.code.codeClass() == 2 && !o.options.singleBlock) {
    const auto b2 = decodeBlock(b2opt->value);
    if (!b2 || b2->offset() != o.body.size()) return finish(id, Unexpected(make_error_code(RequestError::BlockMismatch)));
    const auto* tagOpt = response.find(option::kETag);
    std::vector<std::uint8_t> tag = tagOpt ? tagOpt->value : std::vector<std::uint8_t>{};
    // RFC 7959 §2.4: a changed ETag means the representation changed under the transfer.
    if (o.downloading && o.etag && *o.etag != tag)
      return finish(id, Unexpected(make_error_code(RequestError::BlockMismatch)));
    o.etag = std::move(tag);
    o.body.insert(o.body.end(), response.payload.begin(), response.payload.end());
    if (b2->more) {
      if (response.payload.size() != b2->size() || b2->num >= kMaxBlockNum)
        return finish(id, Unexpected(make_error_code(RequestError::BlockMismatch)));
      o.block2Szx = b2->szx;
      o.downloading = true;
      return sendNext(o, now);
    }
    response.payload = std::move(o.body);
    response.remove(option::kBlock2);
  }
  finish(id, std::move(response));
}

void Endpoint::onNotification(Outgoing& o, Message response, TimePoint now) {
  const auto seq = response.getUint(option::kObserve);
  const bool success = response.code.codeClass() == 2;
  if (success && seq) {
    if (o.established && o.lastSequence && !notificationIsFresh(*o.lastSequence, o.lastNotification, *seq, now)) {
      note(o.peer, Note::Kind::Dropped, "stale notification (Observe " + std::to_string(*seq) + " after " +
                                            std::to_string(*o.lastSequence) + ")");
      return;
    }
    o.established = true;
    o.lastSequence = *seq & 0xFFFFFF;
    o.lastNotification = now;
  }
  if (const auto* b2opt = response.find(option::kBlock2); b2opt && success) {
    const auto b2 = decodeBlock(b2opt->value);
    if (b2 && b2->num == 0 && b2->more) return fetchRemainingBlocks(o, std::move(response), *b2, now);
    if (!b2 || b2->num != 0) return finish(o.id, Unexpected(make_error_code(RequestError::BlockMismatch)));
    response.remove(option::kBlock2);  // the whole representation in one block
  }
  deliverNotification(o.id, std::move(response));
}

// RFC 7959 §2.6: a notification (or the registration's answer) carries only the first block of a
// larger representation; the rest comes from GETs without Observe for Block2 1, 2, … (same ETag).
// The notification is delivered once whole. A newer one supersedes a fetch still running.
void Endpoint::fetchRemainingBlocks(Outgoing& o, Message first, const Block& block, TimePoint now) {
  if (first.payload.size() != block.size())
    return finish(o.id, Unexpected(make_error_code(RequestError::BlockMismatch)));
  if (o.fetching) {
    const auto previous = *o.fetching;
    o.fetching.reset();
    ++o.fetchSerial;  // the superseded fetch's answer is ignored
    const auto observation = o.id;
    cancel(previous, now, false);
    auto it = outgoing_.find(observation);
    if (it == outgoing_.end()) return;
    return fetchRemainingBlocks(it->second, std::move(first), block, now);
  }
  Message get;
  get.type = o.request.type;
  get.code = o.request.code;
  get.options = o.request.options;
  get.remove(option::kObserve);
  get.payload = o.request.payload;  // a FETCH's body
  const auto* tag = first.find(option::kETag);
  Resume resume{first.payload, tag ? std::optional(tag->value) : std::nullopt, block.szx};
  const auto observation = o.id;
  const auto serial = ++o.fetchSerial;
  auto done = [this, observation, serial, first = std::move(first)](Expected<Message, std::error_code> r) mutable {
    auto it = outgoing_.find(observation);
    if (it == outgoing_.end() || it->second.fetchSerial != serial) return;  // ended, or superseded
    it->second.fetching.reset();
    if (!r) return finish(observation, Unexpected(r.error()));
    if (r->code.codeClass() != 2) return finish(observation, std::move(*r));
    first.payload = std::move(r->payload);
    first.remove(option::kBlock2);
    deliverNotification(observation, std::move(first));
  };
  auto started = start(o.peer, std::move(get), std::move(done), {}, now, {}, std::move(resume));
  auto it = outgoing_.find(observation);
  if (it == outgoing_.end()) return;
  if (!started) return finish(observation, Unexpected(make_error_code(started.error())));
  it->second.fetching = *started;
}

void Endpoint::deliverNotification(RequestId id, Expected<Message, std::error_code> response) {
  // RFC 7641 §3.2: a response without Observe, or an error, ends the observation.
  if (!response || response->code.codeClass() != 2 || !response->getUint(option::kObserve))
    return finish(id, std::move(response));
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return;
  auto notify = it->second.notify;  // the handler may cancel, which erases the observation
  if (notify) notify(std::move(*response), false);
}

void Endpoint::finish(RequestId id, Expected<Message, std::error_code> result) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return;
  Outgoing o = std::move(it->second);
  outgoing_.erase(it);
  byToken_.erase(TokenKey{o.peer, o.token});
  if (o.awaitingAck) layer_.cancel(o.peer, o.messageId);
  if (o.notify) o.notify(std::move(result), true);
  else if (o.done) o.done(std::move(result));
}

bool Endpoint::reregister(RequestId id, TimePoint now) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end() || !it->second.observing) return false;
  Outgoing& o = it->second;
  if (o.awaitingAck) layer_.cancel(o.peer, o.messageId);
  sendNext(o, now);  // RFC 7641 §3.3.1: same token, Observe = 0
  return true;
}

bool Endpoint::sendNotification(const PeerKey& peer, Message notification, TimePoint now) {
  if (notification.type != Type::NonConfirmable) notification.type = Type::Confirmable;
  notification.messageId = layer_.nextMessageId();
  if (validate(notification)) return false;
  run(layer_.send(peer, notification, now), now);
  return true;
}

bool Endpoint::cancel(RequestId id, TimePoint now, bool deregister, ResponseHandler answered) {
  auto it = outgoing_.find(id);
  if (it == outgoing_.end()) return false;
  Outgoing& o = it->second;
  if (o.observing && o.established && deregister) {
    // RFC 7641 §3.6: a GET with Observe = 1 and the same token; its answer goes to `answered`.
    auto notify = std::move(o.notify);
    o.notify = {};
    o.done = std::move(answered);
    o.observing = false;
    o.request.setUint(option::kObserve, 1);
    if (o.awaitingAck) layer_.cancel(o.peer, o.messageId);
    sendNext(o, now);
    if (notify) notify(Unexpected(make_error_code(RequestError::Cancelled)), true);
    return true;
  }
  finish(id, Unexpected(make_error_code(RequestError::Cancelled)));
  return true;
}

void Endpoint::forgetPeer(const PeerKey& peer, TimePoint) {
  std::vector<RequestId> ids;
  for (const auto& [id, o] : outgoing_)
    if (o.peer == peer) ids.push_back(id);
  for (auto id : ids) finish(id, Unexpected(make_error_code(RequestError::Cancelled)));
  peers_.erase(peer);
}

}  // namespace fc::coap
