// The platform core. Every public call: lock, change the in-memory state, hand the change to the
// store, collect side effects (events, commands to send) in a Pending, unlock, run them.
#include "server/core/platform.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "protocols/common/base64.hpp"
#include "server/core/random.hpp"
#include "storage/platform_store.hpp"

namespace fc::server::core {
namespace {

using nlohmann::json;

std::optional<std::int64_t> millisOrNull(const std::optional<TimePoint>& t) {
  return t ? std::optional<std::int64_t>(toMillis(*t)) : std::nullopt;
}
std::optional<TimePoint> timeOrNull(const std::optional<std::int64_t>& ms) {
  return ms ? std::optional<TimePoint>(fromMillis(*ms)) : std::nullopt;
}

json parseObject(const std::string& text) {
  auto j = json::parse(text, nullptr, false);
  return j.is_object() ? j : json::object();
}

Failure notFound(const std::string& what, const std::string& id) {
  return {Errc::NotFound, "no " + what + " '" + id + "'"};
}

Failure fromCommandError(CommandError e, const std::string& id) {
  switch (e) {
    case CommandError::NotFound: return notFound("command", id);
    case CommandError::NotCancelable: return {Errc::Conflict, "command '" + id + "': " + std::string(toString(e))};
    case CommandError::TooManyPending: return {Errc::Limit, std::string(toString(e))};
    case CommandError::NotSent:
    case CommandError::AlreadyFinal: return {Errc::Conflict, "command '" + id + "': " + std::string(toString(e))};
  }
  return {Errc::Internal, "unknown command error"};
}

bool validId(const std::string& id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':'; });
}

}  // namespace

struct Platform::Pending {
  std::vector<Event> events;
  std::vector<std::tuple<Device, Product, Command>> sends;
};

Platform::Platform(Clock& clock, storage::PlatformStore* store, PlatformLimits limits)
    : clock_(clock),
      store_(store),
      limits_(limits),
      messages_(limits.messagesPerDevice),
      journal_(limits.journalPerDevice),
      logs_(limits.logsPerDevice),
      commands_(CommandLimits{limits.maxPendingCommandsPerDevice}),
      tokens_(clock) {}

Platform::~Platform() = default;

void Platform::setCommandSender(CommandSender* sender) {
  std::lock_guard lock(mutex_);
  sender_ = sender;
}

void Platform::whenCommitted(std::function<void()> done) {
  if (store_) store_->whenCommitted(std::move(done));
  else done();
}

void Platform::flush(Pending& pending) {
  events_.publish(pending.events);
  CommandSender* sender = nullptr;
  {
    std::lock_guard lock(mutex_);
    sender = sender_;
  }
  if (sender)
    for (const auto& [device, product, command] : pending.sends) sender->sendCommand(device, product, command);
}

std::string Platform::newId(const char* prefix) {
  unsigned char random[6];
  RAND_bytes(random, sizeof random);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx-%02x%02x%02x%02x%02x%02x", prefix,
                static_cast<unsigned long long>(++idCounter_), random[0], random[1], random[2], random[3], random[4],
                random[5]);
  return buf;
}

void Platform::persistDevice(const Device& d) {
  if (!store_) return;
  store_->upsertDevice(storage::DeviceRow{d.id, d.productId, d.name, d.identifiers.dump(), d.secrets.dump(),
                                          d.firmwareVersion, millisOrNull(d.lastSeen), toMillis(d.createdAt)});
}

void Platform::persistCommand(const Command& c) {
  if (!store_) return;
  storage::CommandRow row;
  row.id = c.id;
  row.seq = c.seq;
  row.deviceId = c.spec.deviceId;
  row.name = c.spec.name;
  row.payload.assign(c.spec.payload.begin(), c.spec.payload.end());
  row.binary = c.spec.binary;
  row.expireSeconds = c.spec.expireSeconds;
  row.maxRetransmit = c.spec.maxRetransmit;
  row.ackTimeoutMs = c.spec.ackTimeoutMs;
  row.callbackUrl = c.spec.callbackUrl;
  row.status = std::string(toString(c.status));
  row.createdAt = toMillis(c.createdAt);
  row.expiresAt = millisOrNull(c.expiresAt);
  row.sentAt = millisOrNull(c.sentAt);
  row.ackDeadline = millisOrNull(c.ackDeadline);
  row.deliveredAt = millisOrNull(c.deliveredAt);
  row.completedAt = millisOrNull(c.completedAt);
  row.sends = c.sends;
  row.result = c.result;
  row.reason = c.reason;
  store_->upsertCommand(std::move(row));
}

void Platform::apply(CommandActions& actions, Pending& pending) {
  const auto now = clock_.now();
  for (auto& a : actions) {
    if (a.kind == CommandAction::Kind::StatusChanged) {
      persistCommand(a.command);
      pending.events.push_back(CommandChanged{a.command, now});
    } else {
      const Device* d = registry_.device(a.command.spec.deviceId);
      if (!d) continue;
      const Product* p = registry_.product(d->productId);
      if (!p) continue;
      pending.sends.emplace_back(*d, *p, a.command);
    }
  }
  actions.clear();
}

void Platform::load(const storage::PlatformSnapshot& snapshot) {
  std::lock_guard lock(mutex_);
  for (const auto& r : snapshot.products)
    registry_.putProduct(Product{r.id, r.name, r.dialect, parseObject(r.keys), fromMillis(r.createdAt)});
  for (const auto& r : snapshot.devices) {
    Device d{r.id, r.productId, r.name, parseObject(r.identifiers), parseObject(r.secrets), r.firmwareVersion,
             false, timeOrNull(r.lastSeen), "", "", fromMillis(r.createdAt)};
    registry_.putDevice(std::move(d));
  }
  std::vector<Command> commands;
  for (const auto& r : snapshot.commands) {
    Command c;
    c.id = r.id;
    c.seq = r.seq;
    c.spec = CommandSpec{r.deviceId, r.name, std::string(r.payload.begin(), r.payload.end()), r.binary,
                         r.expireSeconds, r.maxRetransmit, r.ackTimeoutMs, r.callbackUrl};
    c.status = parseCommandStatus(r.status).value_or(CommandStatus::Failed);
    c.createdAt = fromMillis(r.createdAt);
    c.expiresAt = timeOrNull(r.expiresAt);
    c.sentAt = timeOrNull(r.sentAt);
    c.ackDeadline = timeOrNull(r.ackDeadline);
    c.deliveredAt = timeOrNull(r.deliveredAt);
    c.completedAt = timeOrNull(r.completedAt);
    c.sends = r.sends;
    c.result = r.result;
    c.reason = r.reason;
    commands.push_back(std::move(c));
  }
  commands_.restore(std::move(commands));
  // Expired ones too (one per device and kind at most): a device is told its token expired.
  std::vector<Token> tokens;
  for (const auto& r : snapshot.tokens) tokens.push_back(Token{r.token, r.kind, r.deviceId, r.secret, fromMillis(r.expiresAt)});
  tokens_.restore(std::move(tokens));
  for (const auto& r : snapshot.journal)
    journal_.restore(
        JournalEntry{r.id, r.deviceId, fromMillis(r.time), r.direction, r.transport, r.topic, r.raw, r.summary});
  for (const auto& r : snapshot.messages)
    messages_.restore(UplinkMessage{r.id, r.deviceId, fromMillis(r.time), r.transport, r.topic, r.payload, r.contentType});
  for (const auto& r : snapshot.shadows)
    shadows_.restore(
        Shadow{r.deviceId, parseObject(r.reported), parseObject(r.desired), r.version, fromMillis(r.updatedAt)});
}

// --- products and devices ---

Expected<Product, Failure> Platform::createProduct(Product p) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    if (p.id.empty()) p.id = newId("prod");
    if (!validId(p.id)) return Unexpected(Failure{Errc::Invalid, "product id: 1-128 of A-Z a-z 0-9 - _ . :"});
    if (registry_.product(p.id)) return Unexpected(Failure{Errc::Conflict, "product '" + p.id + "' exists"});
    if (p.name.empty()) p.name = p.id;
    p.createdAt = clock_.now();
    registry_.putProduct(p);
    if (store_) store_->upsertProduct(storage::ProductRow{p.id, p.name, p.dialect, p.keys.dump(), toMillis(p.createdAt)});
  }
  return p;
}

std::vector<Product> Platform::products() const {
  std::lock_guard lock(mutex_);
  return registry_.products();
}

std::optional<Product> Platform::product(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const Product* p = registry_.product(id);
  return p ? std::optional<Product>(*p) : std::nullopt;
}

Expected<Product, Failure> Platform::deleteProduct(const std::string& id) {
  Pending pending;
  Product removed;
  {
    std::lock_guard lock(mutex_);
    const Product* p = registry_.product(id);
    if (!p) return Unexpected(notFound("product", id));
    removed = *p;
    for (auto& d : registry_.eraseProduct(id)) {
      messages_.erase(d.id);
      journal_.erase(d.id);
      logs_.erase(d.id);
      shadows_.erase(d.id);
      tokens_.eraseOwner(d.id);
      pending.events.push_back(DeviceDeleted{std::move(d), clock_.now()});
    }
    if (store_) store_->deleteProduct(id);
  }
  flush(pending);
  return removed;
}

Expected<Device, Failure> Platform::createDevice(Device d) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    if (d.id.empty()) d.id = newId("dev");
    if (!validId(d.id)) return Unexpected(Failure{Errc::Invalid, "device id: 1-128 of A-Z a-z 0-9 - _ . :"});
    if (!registry_.product(d.productId))
      return Unexpected(Failure{Errc::Invalid, "no product '" + d.productId + "' for the device"});
    if (registry_.contains(d.id)) return Unexpected(Failure{Errc::Conflict, "device '" + d.id + "' exists"});
    if (d.name.empty()) d.name = d.id;
    d.online = false;
    d.createdAt = clock_.now();
    registry_.putDevice(d);
    persistDevice(d);
    pending.events.push_back(DeviceCreated{d});
  }
  flush(pending);
  return d;
}

Expected<Device, Failure> Platform::updateDevice(const std::string& id, const json& changes) {
  Pending pending;
  Device updated;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(id)) return Unexpected(notFound("device", id));
    if (changes.contains("identifiers")) registry_.setIdentifiers(id, changes["identifiers"]);
    const Device* d = registry_.change(id, [&](Device& d) {
      if (changes.contains("name")) d.name = changes["name"].get<std::string>();
      if (changes.contains("secrets")) d.secrets = changes["secrets"];
      if (changes.contains("firmwareVersion")) d.firmwareVersion = changes["firmwareVersion"].get<std::string>();
    });
    persistDevice(*d);
    updated = *d;
    pending.events.push_back(DeviceUpdated{updated, clock_.now()});
  }
  flush(pending);
  return updated;
}

std::vector<Device> Platform::devices(const std::optional<std::string>& productId) const {
  std::lock_guard lock(mutex_);
  return registry_.devices(productId);
}

std::optional<Device> Platform::device(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const Device* d = registry_.device(id);
  return d ? std::optional<Device>(*d) : std::nullopt;
}

std::optional<Device> Platform::findDevice(const std::string& productId, const std::string& key,
                                           const std::string& value) const {
  std::lock_guard lock(mutex_);
  const Device* d = registry_.find(productId, key, value);
  return d ? std::optional<Device>(*d) : std::nullopt;
}

Expected<Device, Failure> Platform::deleteDevice(const std::string& id) {
  Pending pending;
  Device removed;
  {
    std::lock_guard lock(mutex_);
    auto erased = registry_.eraseDevice(id);
    if (!erased) return Unexpected(notFound("device", id));
    removed = std::move(*erased);
    messages_.erase(id);
    journal_.erase(id);
    logs_.erase(id);
    shadows_.erase(id);
    tokens_.eraseOwner(id);
    commands_.deviceOffline(id);
    if (store_) store_->deleteDevice(id);
    pending.events.push_back(DeviceDeleted{removed, clock_.now()});
  }
  flush(pending);
  return removed;
}

// --- presence and uplink ---

void Platform::deviceConnected(const std::string& deviceId, const std::string& transport, const std::string& remote) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    const Device* d = registry_.change(deviceId, [&](Device& d) {
      d.online = true;
      d.transport = transport;
      d.remote = remote;
      d.lastSeen = now;
    });
    if (!d) return;
    persistDevice(*d);
    pending.events.push_back(PresenceChanged{*d, now});
  }
  flush(pending);
}

void Platform::deviceReachable(const std::string& deviceId) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(deviceId) || commands_.online(deviceId)) return;
    CommandActions actions;
    commands_.deviceOnline(deviceId, clock_.now(), actions);
    apply(actions, pending);
  }
  flush(pending);
}

void Platform::deviceUnreachable(const std::string& deviceId) {
  std::lock_guard lock(mutex_);
  commands_.deviceOffline(deviceId);
}

void Platform::deviceDisconnected(const std::string& deviceId) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    const Device* d = registry_.change(deviceId, [&](Device& d) {
      d.online = false;
      d.lastSeen = now;
      d.transport.clear();
      d.remote.clear();
    });
    if (!d) return;
    persistDevice(*d);
    commands_.deviceOffline(deviceId);
    pending.events.push_back(PresenceChanged{*d, now});
  }
  flush(pending);
}

void Platform::recordUplink(const std::string& deviceId, const std::string& transport, const std::string& topic,
                            std::vector<std::uint8_t> payload, std::string contentType) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    const auto now = clock_.now();
    if (!registry_.change(deviceId, [now](Device& d) { d.lastSeen = now; })) return;
    messages_.append(
        UplinkMessage{0, deviceId, now, transport, topic, std::move(payload), std::move(contentType)},
        [&](const UplinkMessage& m) {
          if (store_)
            store_->appendMessage(storage::MessageRow{m.id, m.deviceId, toMillis(m.time), m.transport, m.topic,
                                                      m.payload, m.contentType},
                                  limits_.messagesPerDevice);
          pending.events.push_back(UplinkReceived{m});
        });
  }
  flush(pending);
}

std::vector<UplinkMessage> Platform::messages(const std::string& deviceId, std::size_t limit,
                                              std::optional<std::int64_t> before) const {
  std::lock_guard lock(mutex_);
  return messages_.page(deviceId, limit, before);
}

// --- commands ---

Expected<Command, Failure> Platform::sendCommand(CommandSpec spec,
                                                const std::function<void(const Command&)>& accepted) {
  Pending pending;
  Command created;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(spec.deviceId)) return Unexpected(notFound("device", spec.deviceId));
    CommandActions actions;
    const auto deviceId = spec.deviceId;
    auto c = commands_.submit(newId("cmd"), std::move(spec), clock_.now(), actions);
    if (!c) return Unexpected(fromCommandError(c.error(), deviceId));
    apply(actions, pending);
    created = *commands_.find(c->id);
  }
  if (accepted) accepted(created);
  flush(pending);
  std::lock_guard lock(mutex_);
  return *commands_.find(created.id);  // the send above may have moved it on already
}

std::optional<Command> Platform::command(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const Command* c = commands_.find(id);
  return c ? std::optional<Command>(*c) : std::nullopt;
}

Expected<std::vector<Command>, Failure> Platform::commands(const std::string& deviceId,
                                                           std::optional<CommandStatus> status) const {
  std::lock_guard lock(mutex_);
  if (!registry_.contains(deviceId)) return Unexpected(notFound("device", deviceId));
  return commands_.list(deviceId, status);
}

Expected<Command, Failure> Platform::cancelCommand(const std::string& id) {
  Pending pending;
  Command out;
  {
    std::lock_guard lock(mutex_);
    CommandActions actions;
    auto c = commands_.cancel(id, clock_.now(), actions);
    if (!c) return Unexpected(fromCommandError(c.error(), id));
    apply(actions, pending);
    out = *c;
  }
  flush(pending);
  return out;
}

Expected<Command, Failure> Platform::commandDelivered(const std::string& id) {
  Pending pending;
  Command out;
  {
    std::lock_guard lock(mutex_);
    CommandActions actions;
    auto c = commands_.delivered(id, clock_.now(), actions);
    if (!c) return Unexpected(fromCommandError(c.error(), id));
    apply(actions, pending);
    out = *c;
  }
  flush(pending);
  return out;
}

Expected<Command, Failure> Platform::commandCompleted(const std::string& id, bool success, std::string result) {
  Pending pending;
  Command out;
  {
    std::lock_guard lock(mutex_);
    CommandActions actions;
    auto c = commands_.completed(id, success, std::move(result), clock_.now(), actions);
    if (!c) return Unexpected(fromCommandError(c.error(), id));
    apply(actions, pending);
    out = *c;
  }
  flush(pending);
  return out;
}

void Platform::tick() {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    CommandActions actions;
    commands_.tick(clock_.now(), actions);
    apply(actions, pending);
  }
  flush(pending);
}

void Platform::reset() {
  std::lock_guard lock(mutex_);
  registry_.clear();
  messages_.clear();
  journal_.clear();
  logs_.clear();
  commands_.clear();
  shadows_.clear();
  tokens_.clear();
  if (store_) store_->resetAll();
}

Token Platform::issueDeviceToken(const std::string& kind, const std::string& deviceId, Duration lifetime,
                                 std::string secret) {
  std::lock_guard lock(mutex_);  // with the store write, in order with a deletion of the device
  auto t = tokens_.issue(kind, deviceId, lifetime, std::move(secret));
  if (store_) store_->putToken(storage::TokenRow{t.token, kind, deviceId, t.secret, toMillis(t.expiresAt)});
  return t;
}

std::optional<Token> Platform::deviceToken(const std::string& kind, const std::string& token, bool evenExpired) const {
  std::lock_guard lock(mutex_);
  auto t = tokens_.find(kind, token, evenExpired);
  if (!t || !registry_.contains(t->owner)) return std::nullopt;
  return t;
}

nlohmann::json Platform::stats() const {
  std::lock_guard lock(mutex_);
  std::size_t online = 0;
  json byStatus = json::object();
  for (const auto& [id, d] : registry_.all()) {
    online += d.online ? 1 : 0;
    for (const auto& c : commands_.list(id)) {
      const std::string status(toString(c.status));
      byStatus[status] = byStatus.value(status, 0) + 1;
    }
  }
  return {{"products", registry_.productCount()},
          {"devices", registry_.all().size()},
          {"devicesOnline", online},
          {"commands", byStatus},
          {"messages", messages_.size()}};
}

void Platform::announce(Event event) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(deviceIdOf(event))) return;
    pending.events.push_back(std::move(event));
  }
  flush(pending);
}

void Platform::recordDeviceLog(DeviceLogEntry entry) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(entry.deviceId)) return;
    entry.time = clock_.now();
    logs_.append(std::move(entry), [&](const DeviceLogEntry& e) { pending.events.push_back(DeviceLogged{e}); });
  }
  flush(pending);
}

std::vector<DeviceLogEntry> Platform::deviceLogs(const std::string& deviceId, std::size_t limit,
                                                 std::optional<std::int64_t> before) const {
  std::lock_guard lock(mutex_);
  return logs_.page(deviceId, limit, before);
}

void Platform::journal(const std::string& deviceId, std::string direction, std::string transport, std::string topic,
                       std::vector<std::uint8_t> raw, std::string summary) {
  Pending pending;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(deviceId)) return;
    journal_.append(JournalEntry{0, deviceId, clock_.now(), std::move(direction), std::move(transport),
                                 std::move(topic), std::move(raw), std::move(summary)},
                    [&](const JournalEntry& e) {
                      if (store_)
                        store_->appendJournal(storage::JournalRow{e.id, e.deviceId, toMillis(e.time), e.direction,
                                                                  e.transport, e.topic, e.raw, e.summary},
                                              limits_.journalPerDevice);
                      pending.events.push_back(JournalRecorded{e});
                    });
  }
  flush(pending);
}

std::vector<JournalEntry> Platform::journalEntries(const std::string& deviceId, std::size_t limit,
                                                   std::optional<std::int64_t> before) const {
  std::lock_guard lock(mutex_);
  return journal_.page(deviceId, limit, before);
}

// --- shadow ---

Expected<Shadow, Failure> Platform::shadow(const std::string& deviceId) const {
  std::lock_guard lock(mutex_);
  if (!registry_.contains(deviceId)) return Unexpected(notFound("device", deviceId));
  return shadows_.get(deviceId);
}

Expected<Shadow, Failure> Platform::updateShadow(const std::string& deviceId, const ShadowUpdate& u) {
  if (auto bad = Shadows::validate(u)) return Unexpected(std::move(*bad));
  Pending pending;
  Shadow out;
  {
    std::lock_guard lock(mutex_);
    if (!registry_.contains(deviceId)) return Unexpected(notFound("device", deviceId));
    auto applied = shadows_.apply(deviceId, u, clock_.now());
    if (!applied) return Unexpected(std::move(applied.error()));
    Shadow& next = *applied;
    if (store_)
      store_->upsertShadow(storage::ShadowRow{deviceId, next.desired.dump(), next.reported.dump(), next.version,
                                              toMillis(*next.updatedAt)});
    out = next;
    pending.events.push_back(ShadowUpdated{std::move(next), u.source, u.clearDesired || u.desired.is_object()});
  }
  flush(pending);
  return out;
}

// --- JSON forms ---

std::string isoTime(TimePoint t) {
  const auto ms = toMillis(t);
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

namespace {
json timeOrNullJson(const std::optional<TimePoint>& t) { return t ? json(isoTime(*t)) : json(nullptr); }
}  // namespace

json toJson(const Product& p) {
  return {{"id", p.id}, {"name", p.name}, {"dialect", p.dialect}, {"keys", p.keys}, {"createdAt", isoTime(p.createdAt)}};
}

json toJson(const Device& d) {
  return {{"id", d.id},
          {"productId", d.productId},
          {"name", d.name},
          {"identifiers", d.identifiers},
          {"secrets", d.secrets},
          {"firmwareVersion", d.firmwareVersion},
          {"online", d.online},
          {"transport", d.online ? json(d.transport) : json(nullptr)},
          {"remoteAddress", d.online ? json(d.remote) : json(nullptr)},
          {"lastSeen", timeOrNullJson(d.lastSeen)},
          {"createdAt", isoTime(d.createdAt)}};
}

json toJson(const Command& c) {
  json payload;
  if (c.spec.binary) {
    payload = base64Encode(c.spec.payload);
  } else {
    payload = json::parse(c.spec.payload, nullptr, false);
    if (payload.is_discarded()) payload = c.spec.payload;
  }
  json result = c.result.empty() ? json(nullptr) : json::parse(c.result, nullptr, false);
  if (result.is_discarded()) result = c.result;
  json out = {{"id", c.id},
              {"deviceId", c.spec.deviceId},
              {"name", c.spec.name},
              {"payload", payload},
              {"binary", c.spec.binary},
              {"expireTime", c.spec.expireSeconds},
              {"maxRetransmit", c.spec.maxRetransmit},
              {"ackTimeoutMs", c.spec.ackTimeoutMs},
              {"callbackUrl", c.spec.callbackUrl.empty() ? json(nullptr) : json(c.spec.callbackUrl)},
              {"status", std::string(toString(c.status))},
              {"createdAt", isoTime(c.createdAt)},
              {"expiresAt", timeOrNullJson(c.expiresAt)},
              {"sentAt", timeOrNullJson(c.sentAt)},
              {"deliveredAt", timeOrNullJson(c.deliveredAt)},
              {"completedAt", timeOrNullJson(c.completedAt)},
              {"sends", c.sends},
              {"result", result},
              {"reason", c.reason.empty() ? json(nullptr) : json(c.reason)}};
  return out;
}

json toJson(const JournalEntry& e) {
  return {{"id", e.id},           {"deviceId", e.deviceId},   {"time", isoTime(e.time)},
          {"direction", e.direction}, {"transport", e.transport}, {"topic", e.topic},
          {"summary", e.summary}, {"rawBase64", base64Encode(e.raw)}};
}

json toJson(const DeviceLogEntry& e) {
  return {{"id", e.id},       {"deviceId", e.deviceId}, {"time", isoTime(e.time)}, {"level", e.level},
          {"tag", e.tag},     {"source", e.source},     {"content", e.content},    {"transport", e.transport}};
}

json toJson(const UplinkMessage& m) {
  json payload = json::parse(m.payload.begin(), m.payload.end(), nullptr, false);
  return {{"id", m.id},
          {"deviceId", m.deviceId},
          {"time", isoTime(m.time)},
          {"transport", m.transport},
          {"topic", m.topic},
          {"contentType", m.contentType},
          {"payload", payload.is_discarded() ? json(nullptr) : payload},
          {"payloadBase64", base64Encode(m.payload)}};
}

json toJson(const Shadow& s) {
  return {{"deviceId", s.deviceId},
          {"state", {{"reported", s.reported}, {"desired", s.desired}}},
          {"version", s.version},
          {"updatedAt", timeOrNullJson(s.updatedAt)}};
}

}  // namespace fc::server::core
