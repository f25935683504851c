// Who downloads what (issue 14, hosting): download offers — a token in the URL handed to one device
// (and, once upgrade jobs exist, for one job) — and the counts of every download per (device, job,
// firmware), which the jobs will read to follow a device's progress. Anonymous downloads (the plain
// firmware URL) count under an empty device and job. In memory: offers and counts start afresh
// with every run (docs/ota.md).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/ota/download_faults.hpp"

namespace fc::server::ota {

struct Offer {
  std::string token;
  std::string firmwareId;
  std::string deviceId;
  std::string jobId;  // "" until jobs hand out offers
  DownloadFaults faults;  // when not empty, these apply instead of the firmware's (docs/ota.md)
};

struct DownloadKey {
  std::string deviceId;
  std::string jobId;
  std::string firmwareId;
  auto operator<=>(const DownloadKey&) const = default;
};

struct DownloadStats {
  std::uint64_t requests = 0;     // GET and HEAD requests answered
  std::uint64_t bytesServed = 0;  // body bytes written
  std::uint64_t ranges = 0;       // answered 206
  std::uint64_t resumed = 0;      // ranges starting past byte 0
  std::uint64_t completed = 0;    // responses that delivered through the image's last byte
  bool operator==(const DownloadStats&) const = default;
};

/// One answered request, as the hosting reports it when the response has ended.
struct DownloadRecord {
  std::uint64_t bytes = 0;
  bool partial = false;    // 206
  bool resumed = false;    // the range starts past byte 0
  bool completed = false;  // every byte up to the image's end was written
};

class DownloadLedger {
 public:
  /// A new offer: its token is 24 random characters, unguessable enough to identify the device.
  Offer issue(std::string firmwareId, std::string deviceId, std::string jobId = {}, DownloadFaults faults = {});
  std::optional<Offer> offer(const std::string& token) const;

  /// A firmware's download faults (empty: none), for anonymous downloads and offers without their own.
  void setFaults(const std::string& firmwareId, DownloadFaults faults);
  DownloadFaults faults(const std::string& firmwareId) const;
  /// The faults a download through `offer` (or anonymous, nullptr) of `firmwareId` meets.
  DownloadFaults faultsFor(const std::string& firmwareId, const Offer* offer) const;

  void record(const DownloadKey& key, const DownloadRecord& r);
  DownloadStats stats(const DownloadKey& key) const;
  /// Every (device, job) that downloaded the firmware, with its counts.
  std::vector<std::pair<DownloadKey, DownloadStats>> forFirmware(const std::string& firmwareId) const;

  /// Offers, counts and faults of a deleted firmware go with it.
  void forgetFirmware(const std::string& firmwareId);
  void reset();

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Offer> offers_;  // token → offer
  std::map<DownloadKey, DownloadStats> stats_;
  std::map<std::string, DownloadFaults> faults_;  // firmware id → faults
};

}  // namespace fc::server::ota
