// Platform time. Every platform timer (command expiry, ack timeouts, retransmits, idle timeouts)
// reads this clock, and the admin API can freeze, advance or set it, so that a test of a 48-hour
// expiry runs in milliseconds. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace fc::server::core {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

/// Real time plus an offset, or a frozen instant.
class PlatformClock final : public Clock {
 public:
  TimePoint now() const override;

  /// Stops time at the current instant.
  void freeze();
  /// Lets time run again from the frozen instant (keeping what advance() added).
  void resume();
  /// Moves time forward (or back, with a negative duration); works frozen or running.
  void advance(Duration by);
  /// Jumps to `t`; works frozen or running.
  void set(TimePoint t);
  /// Back to real time, not frozen.
  void reset();

  bool frozen() const;
  /// Platform time minus real time.
  Duration offset() const;

 private:
  mutable std::mutex mutex_;
  bool frozen_ = false;
  TimePoint frozenAt_{};
  Duration offset_{0};
};

/// Milliseconds since the Unix epoch, the form the API and the database use.
inline std::int64_t toMillis(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline TimePoint fromMillis(std::int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }

}  // namespace fc::server::core
