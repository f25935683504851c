// One MQTT packet on its way to one connection, in a form that costs no allocation for the common
// cases: an acknowledgement is a few bytes held inline, a PUBLISH fanned out to many subscribers
// shares one encoding and differs only in the packet id spliced over it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "protocols/mqtt/packet.hpp"

namespace fc::server::broker {

using Bytes = std::shared_ptr<const std::vector<std::uint8_t>>;

/// The bytes of one packet: `shared` with `patch` written over it at `offset`, or — without
/// `shared` — just `patch`. Copying a Frame never copies the shared bytes.
class Frame {
 public:
  static constexpr std::size_t kInline = 8;

  Frame() = default;
  /// The whole packet in shared bytes.
  explicit Frame(Bytes shared) : shared_(std::move(shared)) {}

  /// `packet` encoded; packets of up to kInline bytes (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP,
  /// UNSUBACK, PINGRESP) are held inline and allocate nothing.
  static Frame of(const mqtt::Packet& packet);

  /// `shared` — a PUBLISH encoded with a placeholder packet id at `idOffset` — with `packetId`
  /// written over the placeholder.
  static Frame withPacketId(Bytes shared, std::size_t idOffset, std::uint16_t packetId) {
    Frame f(std::move(shared));
    f.offset_ = static_cast<std::uint32_t>(idOffset);
    f.patch_[0] = static_cast<std::uint8_t>(packetId >> 8);
    f.patch_[1] = static_cast<std::uint8_t>(packetId & 0xFF);
    f.patchLen_ = 2;
    return f;
  }

  std::size_t size() const noexcept { return shared_ ? shared_->size() : patchLen_; }

  /// Calls `each(std::span<const std::uint8_t>)` for the one to three pieces whose concatenation
  /// is the packet, in order; empty pieces are skipped.
  template <class Each>
  void pieces(Each&& each) const {
    const std::span<const std::uint8_t> patch(patch_.data(), patchLen_);
    if (!shared_) {
      if (!patch.empty()) each(patch);
      return;
    }
    const std::span<const std::uint8_t> all(*shared_);
    if (patch.empty()) {
      each(all);
      return;
    }
    if (offset_ > 0) each(all.first(offset_));
    each(patch);
    if (offset_ + patch.size() < all.size()) each(all.subspan(offset_ + patch.size()));
  }

  /// The packet as one contiguous copy (tests, the packet journal).
  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out;
    out.reserve(size());
    pieces([&out](std::span<const std::uint8_t> p) { out.insert(out.end(), p.begin(), p.end()); });
    return out;
  }

 private:
  Bytes shared_;
  std::uint32_t offset_ = 0;
  std::array<std::uint8_t, kInline> patch_{};
  std::uint8_t patchLen_ = 0;
};

}  // namespace fc::server::broker
