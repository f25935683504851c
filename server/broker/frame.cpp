// Encoding small packets into a Frame without a heap allocation per packet.
#include "server/broker/frame.hpp"

#include <algorithm>

#include "protocols/mqtt/codec.hpp"

namespace fc::server::broker {

Frame Frame::of(const mqtt::Packet& packet) {
  // The codec appends to a vector; one per thread, reused, keeps acknowledgements allocation-free.
  thread_local std::vector<std::uint8_t> scratch;
  scratch.clear();
  // Only the broker's own small packets come here (acknowledgements, CONNACK, SUBACK of a decoded
  // SUBSCRIBE), which always fit; an error would leave nothing to send rather than a corrupt packet.
  if (!mqtt::encode(packet, scratch)) return Frame{};
  if (scratch.size() > kInline) return Frame(std::make_shared<const std::vector<std::uint8_t>>(scratch));
  Frame f;
  std::copy(scratch.begin(), scratch.end(), f.patch_.begin());
  f.patchLen_ = static_cast<std::uint8_t>(scratch.size());
  return f;
}

}  // namespace fc::server::broker
