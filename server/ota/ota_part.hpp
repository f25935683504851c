// The OTA seam between the upgrade jobs (server/ota/job_service.*) and the dialects (docs/ota.md,
// "The dialect seam"). The jobs service knows no dialect: it hands an OtaOffer to the OtaPart of
// the device's dialect (Dialect::ota(), found through an OtaPartCatalog), and the part reports what
// the device says back through the OtaReporter the jobs service implements. Five dialects fit it:
//
//   generic      pushes a JSON offer on devices/{id}/ota/offer; progress, failures and versions on
//                devices/{id}/ota/… (docs/dialects/generic.md)
//   aliyun       pushes /ota/device/upgrade/{pk}/{dn}; /ota/device/progress steps → progress or
//                failed(-1…-4); /ota/device/inform → versionReported (and ready)
//   oceanconnect drives LwM2M object 5: offer() observes /5/0/3, writes /5/0/1, executes /5/0/2 on
//                State 2; notifications → downloading / downloaded / installing / failed(result)
//   gizwits      pushes a binary frame AND devices poll over HTTP: the poll asks currentOffer()
//   rtthread, wmiot push JSON over MQTT (rtthread may take the whole firmware list at once)
//
// Threads: the reporter's calls are thread-safe and may be made from any thread but never while
// the part holds a lock the jobs service's calls into the part would need (offer() and cancel()
// are called without the service's lock held, and may report synchronously).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/core/model.hpp"

namespace fc::server::ota {

/// How the device should treat the offer; each dialect maps it to its own meaning (rtthread's
/// upgrade modes, aliyun has none and ignores it).
enum class OtaMode : std::uint8_t { Forced, Optional, Silent };
std::string_view toString(OtaMode m) noexcept;
std::optional<OtaMode> parseOtaMode(std::string_view s) noexcept;

/// One firmware of an offer, with the download offer the jobs service made for the device.
struct OfferedFirmware {
  std::string firmwareId;
  std::string version;
  std::string name;
  std::string module;  // "" for the whole device
  std::uint64_t size = 0;
  std::string md5, sha1, sha256;  // lower-case hex
  std::string token;              // the download offer's token (/ota/o/{token}); a part may build its own URLs from it
  std::string httpUrl, httpsUrl;  // the offer's URLs on the public bases
  bool operator==(const OfferedFirmware&) const = default;
};

/// "Install this": what the jobs service asks a part to tell one device.
struct OtaOffer {
  std::string jobId;
  std::string deviceId;
  OtaMode mode = OtaMode::Forced;
  /// The job's firmware in install order; `step` is the one to install now (0-based). A dialect
  /// that takes one image at a time offers firmware[step]; one that takes a list may offer the
  /// rest from `step` on. After the device reports firmware[step].version the next step is offered.
  std::vector<OfferedFirmware> firmware;
  std::size_t step = 0;
  /// 1 for the first offer of a device in a job; more after a retry.
  std::uint32_t attempt = 1;
  /// A re-offer of the same step (the device reconnected mid-upgrade): its download may resume.
  bool again = false;
  const OfferedFirmware& current() const { return firmware.at(step); }
  bool operator==(const OtaOffer&) const = default;
};

/// What a part reports back about a device (implemented by the jobs service). A report names the
/// device; `jobId` may be empty when the dialect's wire carries none (aliyun) — the device's
/// running job is meant — and a report naming another job than the running one is ignored.
class OtaReporter {
 public:
  virtual ~OtaReporter() = default;
  /// The device can take an offer now (it subscribed to its OTA topic, or told its version).
  /// Parts whose waitsForReady() is false need not call it: presence is enough.
  virtual void ready(const std::string& deviceId) = 0;
  /// Downloading, `percent` (0…100) of the current firmware.
  virtual void progress(const std::string& deviceId, int percent, const std::string& jobId = {}) = 0;
  /// The current firmware is downloaded (and verified, where the dialect says so).
  virtual void downloaded(const std::string& deviceId, const std::string& jobId = {}) = 0;
  /// The device is installing (flashing, rebooting).
  virtual void installing(const std::string& deviceId, const std::string& jobId = {}) = 0;
  /// The device gave up: its code (the dialect's, as text, e.g. "-2") and reason.
  virtual void failed(const std::string& deviceId, std::string code, std::string reason,
                      const std::string& jobId = {}) = 0;
  /// The device runs `version` (of `module`, "" for the whole device): also its firmwareVersion;
  /// the target version of the current step moves the device on (next step or SUCCEEDED).
  virtual void versionReported(const std::string& deviceId, std::string version, std::string module = {}) = 0;
  /// For devices that poll ("is there an offer for me?"): the device counts as ready, and the
  /// offer of its running job is returned, if it has one by then.
  virtual std::optional<OtaOffer> currentOffer(const std::string& deviceId) = 0;
};

/// A dialect's OTA: how it offers firmware to its devices. Dialect::ota() returns one, or nullptr
/// for a dialect that does no OTA (jobs for its devices are refused with 422).
class OtaPart {
 public:
  virtual ~OtaPart() = default;
  /// Tell the device (online, and ready when waitsForReady()) to install offer.current().
  virtual void offer(const core::Device& device, const OtaOffer& offer) = 0;
  /// The device's part of job `jobId` was cancelled or timed out: tell it to stop, if the dialect can.
  virtual void cancel(const core::Device& /*device*/, const std::string& /*jobId*/) {}
  /// Offer again when a device that was offered (or is downloading or installing) becomes ready
  /// again, e.g. after a reconnect: its firmware forgot the offer. False: wait for its reports.
  virtual bool reofferOnReconnect() const { return true; }
  /// True: a device becomes offerable only when the part calls OtaReporter::ready() (after it
  /// subscribed or told its version); false: as soon as it is online.
  virtual bool waitsForReady() const { return false; }

  /// The jobs service connects itself once at start-up, before any device connects.
  void attach(OtaReporter* reporter) { reporter_.store(reporter); }

 protected:
  /// nullptr until attached (a server without jobs): reports are then dropped.
  OtaReporter* reporter() const { return reporter_.load(); }

 private:
  std::atomic<OtaReporter*> reporter_{nullptr};
};

/// Finds the OTA part of a dialect (the dialect registry implements it); nullptr: no OTA.
class OtaPartCatalog {
 public:
  virtual ~OtaPartCatalog() = default;
  virtual OtaPart* otaPart(std::string_view dialect) const = 0;
};

}  // namespace fc::server::ota
