// A bounded per-device history with ids that grow across devices: the uplink messages and the
// journal are each one. Newest last; a device keeps at most `perDevice` items, the oldest going
// first. I/O-free and not thread-safe: the platform calls it under its mutex.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fc::server::core {

/// T has `std::int64_t id` and `std::string deviceId`.
template <class T>
class History {
 public:
  explicit History(std::size_t perDevice) : perDevice_(perDevice) {}

  /// Gives `item` the next id, shows it to `seen` (to persist and announce it) and keeps it.
  template <class Seen>
  void append(T item, Seen&& seen) {
    item.id = nextId_++;
    seen(std::as_const(item));
    if (perDevice_ == 0) return;
    auto& items = byDevice_[item.deviceId];
    items.push_back(std::move(item));
    while (items.size() > perDevice_) items.pop_front();
  }
  /// An item of an earlier run, in id order per device; later ids continue above it.
  void restore(T item) {
    nextId_ = std::max(nextId_, item.id + 1);
    auto& items = byDevice_[item.deviceId];
    items.push_back(std::move(item));
  }
  /// The device's newest `limit` items (those before id `before`, when given), oldest first.
  std::vector<T> page(const std::string& deviceId, std::size_t limit, std::optional<std::int64_t> before = {}) const {
    std::vector<T> out;
    auto it = byDevice_.find(deviceId);
    if (it == byDevice_.end()) return out;
    for (auto i = it->second.rbegin(); i != it->second.rend() && out.size() < limit; ++i)
      if (!before || i->id < *before) out.push_back(*i);
    std::reverse(out.begin(), out.end());
    return out;
  }
  void erase(const std::string& deviceId) { byDevice_.erase(deviceId); }
  /// Forgets every item; ids keep growing.
  void clear() { byDevice_.clear(); }
  /// Items kept, over all devices.
  std::size_t size() const {
    std::size_t n = 0;
    for (const auto& [_, items] : byDevice_) n += items.size();
    return n;
  }

 private:
  std::size_t perDevice_;
  std::int64_t nextId_ = 1;
  std::unordered_map<std::string, std::deque<T>> byDevice_;
};

}  // namespace fc::server::core
