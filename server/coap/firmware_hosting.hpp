// Firmware over CoAP (issue 14; docs/ota.md, "CoAP Block2 hosting"): GET of an image under
// ota.coapPath, served block by block (RFC 7959 §2.4) in the size the device asks for, on
// whichever CoAP endpoint the request came — plain 5683 or the device's own DTLS session on 5684.
// Each block is read from the image file with pread when it is asked for; nothing else of the image
// is held. A block-wise transfer (the blocks one peer fetches of one path in a row) counts as one
// download in the DownloadLedger and gets one journal line when it completes or is cut. The offer's
// or firmware's DownloadFaults are applied per block.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "protocols/coap/endpoint.hpp"
#include "server/ota/downloads.hpp"

namespace fc::server::core {
class Platform;
}
namespace fc::server::ota {
class FirmwareRepository;
}

namespace fc::server::coap {

class CoapServer;

class FirmwareHosting {
 public:
  /// A transfer with no block asked for this long (platform time) is cut.
  static constexpr auto kTransferIdle = std::chrono::seconds(60);
  /// At most this many transfers are followed; beyond, the least recently active one is cut.
  static constexpr std::size_t kMaxTransfers = 10'000;

  /// `coapPath` as ota.coapPath gives it ("fw", "/fw/", "ota/fw"): slashes at the ends do not matter.
  FirmwareHosting(core::Platform& platform, CoapServer& server, std::shared_ptr<ota::FirmwareRepository> repository,
                  std::shared_ptr<ota::DownloadLedger> ledger, std::string coapPath);

  /// The subtree resource to add to the CoapServer: `/<coapPath>/{firmwareId}` and
  /// `/<coapPath>/o/{token}`, GET only.
  fc::coap::Resource resource();

  /// Cuts transfers idle for kTransferIdle at `now` (the platform clock); from any thread.
  void tick(fc::coap::TimePoint now);
  /// Forgets every transfer without counting it (the admin reset).
  void reset();

 private:
  struct Transfer {
    ota::DownloadKey who;
    std::string transport;  // coap or coaps
    std::string path;
    std::vector<std::uint8_t> raw;  // the first request, for the journal
    std::uint64_t start = 0;        // offset of the first block
    std::uint64_t next = 0;         // offset after the last block served
    std::uint64_t bytes = 0;
    std::uint32_t blocks = 0;
    std::size_t blockSize = 0;
    std::string faults;      // describe() of the faults met
    bool afterDrop = false;  // the first transfer after a dropConnectionAt cut: served past it
    fc::coap::TimePoint last{};
  };
  using Key = std::pair<fc::coap::PeerKey, std::string>;

  fc::coap::Message serve(const fc::coap::IncomingRequest& r);
  /// Counts and journals a transfer that ended; `how` finishes the journal line.
  void finish(const Transfer& t, bool completed, const std::string& how);

  core::Platform& platform_;
  CoapServer& server_;
  std::shared_ptr<ota::FirmwareRepository> repository_;
  std::shared_ptr<ota::DownloadLedger> ledger_;
  std::string path_;
  std::mutex mutex_;  // transfers_: the handler runs on the CoAP strand, tick() on the scheduler
  std::map<Key, Transfer> transfers_;
  std::set<Key> dropped_;  // (peer, path) whose last transfer a dropConnectionAt cut
};

}  // namespace fc::server::coap
