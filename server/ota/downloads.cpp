// DownloadLedger: offers and counts behind one mutex, each call a few map operations.
#include "server/ota/downloads.hpp"

#include "server/core/random.hpp"

namespace fc::server::ota {

Offer DownloadLedger::issue(std::string firmwareId, std::string deviceId, std::string jobId, DownloadFaults faults) {
  Offer o{core::randomAlnum(24), std::move(firmwareId), std::move(deviceId), std::move(jobId), std::move(faults)};
  std::lock_guard lock(mutex_);
  offers_[o.token] = o;
  return o;
}

std::optional<Offer> DownloadLedger::offer(const std::string& token) const {
  std::lock_guard lock(mutex_);
  const auto it = offers_.find(token);
  if (it == offers_.end()) return std::nullopt;
  return it->second;
}

void DownloadLedger::setFaults(const std::string& firmwareId, DownloadFaults faults) {
  std::lock_guard lock(mutex_);
  if (faults.empty())
    faults_.erase(firmwareId);
  else
    faults_[firmwareId] = std::move(faults);
}

DownloadFaults DownloadLedger::faults(const std::string& firmwareId) const {
  std::lock_guard lock(mutex_);
  const auto it = faults_.find(firmwareId);
  return it == faults_.end() ? DownloadFaults{} : it->second;
}

DownloadFaults DownloadLedger::faultsFor(const std::string& firmwareId, const Offer* offer) const {
  if (offer && !offer->faults.empty()) return offer->faults;
  return faults(firmwareId);
}

void DownloadLedger::record(const DownloadKey& key, const DownloadRecord& r) {
  std::lock_guard lock(mutex_);
  auto& s = stats_[key];
  ++s.requests;
  s.bytesServed += r.bytes;
  if (r.partial) ++s.ranges;
  if (r.resumed) ++s.resumed;
  if (r.completed) ++s.completed;
}

DownloadStats DownloadLedger::stats(const DownloadKey& key) const {
  std::lock_guard lock(mutex_);
  const auto it = stats_.find(key);
  return it == stats_.end() ? DownloadStats{} : it->second;
}

std::vector<std::pair<DownloadKey, DownloadStats>> DownloadLedger::forFirmware(const std::string& firmwareId) const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<DownloadKey, DownloadStats>> out;
  for (const auto& [key, s] : stats_)
    if (key.firmwareId == firmwareId) out.emplace_back(key, s);
  return out;
}

void DownloadLedger::forgetFirmware(const std::string& firmwareId) {
  std::lock_guard lock(mutex_);
  std::erase_if(offers_, [&](const auto& kv) { return kv.second.firmwareId == firmwareId; });
  std::erase_if(stats_, [&](const auto& kv) { return kv.first.firmwareId == firmwareId; });
  faults_.erase(firmwareId);
}

void DownloadLedger::reset() {
  std::lock_guard lock(mutex_);
  offers_.clear();
  stats_.clear();
  faults_.clear();
}

}  // namespace fc::server::ota
