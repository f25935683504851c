// CoAP Block2 firmware hosting: one block per request, cut from the image file with pread.
#include "server/coap/firmware_hosting.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "protocols/coap/block.hpp"
#include "server/coap/coap_server.hpp"
#include "server/core/platform.hpp"
#include "server/ota/firmware_repository.hpp"

namespace fc::server::coap {
namespace {

namespace fcoap = fc::coap;

fcoap::Message answer(fcoap::Code c, std::string_view why) {
  fcoap::Message m;
  m.code = c;
  m.setPayload(why);  // RFC 7252 §5.5.2 diagnostic payload
  return m;
}

std::string trimSlashes(std::string p) {
  while (p.starts_with('/')) p.erase(0, 1);
  while (p.ends_with('/')) p.pop_back();
  return p;
}

/// The first 8 bytes of the SHA-256: the strong entity tag of the image (RFC 7252 §5.10.6 allows 1–8 bytes).
std::vector<std::uint8_t> etagOf(const ota::Firmware& f) {
  std::vector<std::uint8_t> tag;
  for (std::size_t i = 0; i + 1 < f.sha256.size() && tag.size() < 8; i += 2)
    tag.push_back(static_cast<std::uint8_t>(std::stoi(f.sha256.substr(i, 2), nullptr, 16)));
  return tag;
}

bool readAt(int fd, std::uint8_t* out, std::size_t n, std::uint64_t offset) {
  std::size_t got = 0;
  while (got < n) {
    const auto r = ::pread(fd, out + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

std::string codeText(fcoap::Code c) {
  const int detail = c.raw & 0x1F;
  return std::to_string(c.codeClass()) + (detail < 10 ? ".0" : ".") + std::to_string(detail);
}

}  // namespace

FirmwareHosting::FirmwareHosting(core::Platform& platform, CoapServer& server,
                                 std::shared_ptr<ota::FirmwareRepository> repository,
                                 std::shared_ptr<ota::DownloadLedger> ledger, std::string coapPath)
    : platform_(platform),
      server_(server),
      repository_(std::move(repository)),
      ledger_(std::move(ledger)),
      path_(trimSlashes(std::move(coapPath))) {}

fcoap::Resource FirmwareHosting::resource() {
  fcoap::Resource r;
  r.path = path_;
  r.subtree = true;
  r.methods = {fcoap::code::kGet};
  r.listed = false;  // offers are not for browsing
  r.handler = [this](const fcoap::IncomingRequest& req) { return serve(req); };
  return r;
}

fcoap::Message FirmwareHosting::serve(const fcoap::IncomingRequest& r) {
  // Which image, for whom.
  std::optional<ota::Offer> offer;
  std::string firmwareId;
  if (r.subpath.starts_with("o/") && r.subpath.find('/', 2) == std::string::npos && r.subpath.size() > 2) {
    offer = ledger_->offer(r.subpath.substr(2));
    if (!offer) return answer(fcoap::code::kNotFound, "no download offer '" + r.subpath.substr(2) + "'");
    firmwareId = offer->firmwareId;
  } else if (!r.subpath.empty() && r.subpath.find('/') == std::string::npos) {
    firmwareId = r.subpath;
  } else {
    return answer(fcoap::code::kNotFound, "no firmware at /" + r.path);
  }
  const auto f = repository_->get(firmwareId);
  if (!f)
    return answer(fcoap::code::kNotFound,
                  offer ? "the firmware of this offer was deleted" : "no firmware '" + firmwareId + "'");
  const auto faults = ledger_->faultsFor(f->id, offer ? &*offer : nullptr);

  // RFC 7959 §2.4: the block asked for (block 0 at our largest size without a Block2 option),
  // never larger than we send; its NUM rescaled when the size shrinks.
  fcoap::Block asked{0, false, fcoap::kMaxSzx};
  if (const auto* o = r.message.find(fcoap::option::kBlock2))
    if (auto b = fcoap::decodeBlock(o->value)) asked = *b;  // the endpoint answered 4.00 for a bad one
  const auto block = fcoap::respondBlock(asked, fcoap::kMaxSzx, f->size);
  if (!block) return answer(fcoap::code::kBadOption, "Block2 asks for a block past the end of the image");

  const Key key{r.peer, r.path};
  const ota::DownloadKey who{offer ? offer->deviceId : "", offer ? offer->jobId : "", f->id};
  std::vector<std::pair<Transfer, std::string>> ended;  // (transfer, how), counted once the lock is released
  std::unique_lock lock(mutex_);
  auto it = transfers_.find(key);
  if (it != transfers_.end() && (block->offset() == 0 && it->second.blocks > 0)) {
    ended.emplace_back(std::move(it->second), "cut: the device started again from block 0");
    transfers_.erase(it);
    it = transfers_.end();
  }
  if (it == transfers_.end()) {
    if (transfers_.size() >= kMaxTransfers) {
      auto oldest = std::min_element(transfers_.begin(), transfers_.end(),
                                     [](const auto& a, const auto& b) { return a.second.last < b.second.last; });
      ended.emplace_back(std::move(oldest->second), "cut: too many transfers under way");
      transfers_.erase(oldest);
    }
    Transfer t;
    t.who = who;
    t.transport = transportOf(r.peer);
    t.path = "/" + r.path;
    if (auto wire = fcoap::encode(r.message)) t.raw = std::move(*wire);
    t.start = t.next = block->offset();
    t.faults = describe(faults);
    t.afterDrop = dropped_.erase(key) > 0;
    it = transfers_.emplace(key, std::move(t)).first;
  }
  Transfer& t = it->second;
  t.last = r.now;
  t.blockSize = block->size();
  const auto endTransfer = [&](const std::string& how, bool completed) {
    auto done = std::move(t);
    transfers_.erase(it);
    lock.unlock();
    for (const auto& [e, why] : ended) finish(e, false, why);
    finish(done, completed, how);
  };

  if (faults.failWith) {
    const fcoap::Code c(faults.failWith->coapClass, faults.failWith->coapDetail);
    endTransfer("→ " + codeText(c) + " (failWith)", false);
    return answer(c, "download fault: failWith " + codeText(c));
  }

  const std::uint64_t a = block->offset();
  const std::uint64_t b = std::min<std::uint64_t>(a + block->size(), f->size);
  // Blocks cannot be cut, so a device resumes from the start of the block that held the drop point,
  // before it: the peer's next transfer of the path after a drop is the resume, and is served (as
  // HTTP serves a Range from the drop offset).
  auto effective = faults;
  if (t.afterDrop) effective.dropConnectionAt.reset();
  const auto plan = ota::planBytes(effective, t.start, a, b);
  using Stop = ota::BytePlan::Stop;
  // A block goes whole or not at all (every block but the last has the block size, RFC 7959 §2.2):
  // a stall or drop inside it holds back the whole block.
  if (plan.stop == Stop::Stall && plan.send < b - a) {
    endTransfer("stalled at offset " + std::to_string(a) + " (stallAfter): acknowledged, never answered", false);
    return fcoap::deferredResponse();
  }
  if (plan.stop == Stop::Drop && plan.send < b - a) {
    if (dropped_.size() >= kMaxTransfers) dropped_.clear();
    dropped_.insert(key);
    endTransfer("dropped at offset " + std::to_string(a) + " (dropConnectionAt): not answered", false);
    return fcoap::ignoredRequest();
  }
  const bool truncated = plan.stop == Stop::Truncate;
  std::vector<std::uint8_t> payload(plan.send);
  const int fd = repository_->openImage(*f);
  const bool read = fd >= 0 && readAt(fd, payload.data(), payload.size(), a);
  if (fd >= 0) ::close(fd);
  if (!read) {
    endTransfer("→ 5.00 (the image could not be read)", false);
    return answer(fcoap::code::kInternalServerError, "the image of firmware '" + f->id + "' cannot be read");
  }
  ota::applyCorruption(plan, a, payload.data());

  fcoap::Message m;
  m.code = fcoap::code::kContent;
  m.setUint(fcoap::option::kContentFormat, fcoap::format::kOctetStream);
  m.set(fcoap::option::kETag, etagOf(*f));
  const bool last = truncated || b == f->size;
  m.set(fcoap::option::kBlock2, fcoap::encodeBlock(fcoap::Block{block->num, !last, block->szx}));
  // RFC 7959 §4: Size2 with the first block, or when the request asks for it (its Size2 is 0).
  if (block->num == 0 || r.message.has(fcoap::option::kSize2))
    m.setUint(fcoap::option::kSize2, static_cast<std::uint32_t>(f->size));
  m.payload = std::move(payload);

  t.bytes += m.payload.size();
  ++t.blocks;
  t.next = a + m.payload.size();
  const auto delay = std::chrono::milliseconds(ota::throttleDelayMs(faults, m.payload.size()));
  if (last) {
    endTransfer(truncated ? "truncated at offset " + std::to_string(t.next) + " (truncateAt)" : "", !truncated);
  } else {
    lock.unlock();
    for (const auto& [e, why] : ended) finish(e, false, why);
  }
  if (delay.count() > 0) {
    server_.respondLater(r.peer, r.message, std::move(m), delay);  // throttled: a separate response, later
    return fcoap::deferredResponse();
  }
  return m;
}

void FirmwareHosting::finish(const Transfer& t, bool completed, const std::string& how) {
  const bool resumed = t.start > 0;
  ledger_->record(t.who, {t.bytes, resumed, resumed, completed});
  if (t.who.deviceId.empty()) return;
  std::string summary = "GET firmware " + t.who.firmwareId + " block-wise from offset " + std::to_string(t.start);
  if (t.blockSize) summary += " (" + std::to_string(t.blockSize) + "-byte blocks)";
  summary += ": " + std::to_string(t.blocks) + " blocks, " + std::to_string(t.bytes) + " bytes sent";
  summary += completed ? ", complete" : how.empty() ? "" : ", " + how;
  if (completed && !how.empty()) summary += ", " + how;
  if (!t.faults.empty()) summary += " [faults: " + t.faults + "]";
  platform_.journal(t.who.deviceId, "in", t.transport, t.path, t.raw, std::move(summary));
}

void FirmwareHosting::tick(fcoap::TimePoint now) {
  std::vector<Transfer> idle;
  {
    std::lock_guard lock(mutex_);
    for (auto it = transfers_.begin(); it != transfers_.end();) {
      if (now - it->second.last >= kTransferIdle) {
        idle.push_back(std::move(it->second));
        it = transfers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& t : idle)
    finish(t, false, "cut: no block asked for in " + std::to_string(kTransferIdle.count()) + " s");
}

void FirmwareHosting::reset() {
  std::lock_guard lock(mutex_);
  transfers_.clear();
  dropped_.clear();
}

}  // namespace fc::server::coap
