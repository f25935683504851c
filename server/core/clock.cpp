// PlatformClock: real time shifted by an offset, or frozen.
#include "server/core/clock.hpp"

namespace fc::server::core {

TimePoint PlatformClock::now() const {
  std::lock_guard lock(mutex_);
  return frozen_ ? frozenAt_ : std::chrono::system_clock::now() + offset_;
}

void PlatformClock::freeze() {
  std::lock_guard lock(mutex_);
  if (frozen_) return;
  frozenAt_ = std::chrono::system_clock::now() + offset_;
  frozen_ = true;
}

void PlatformClock::resume() {
  std::lock_guard lock(mutex_);
  if (!frozen_) return;
  offset_ = frozenAt_ - std::chrono::system_clock::now();
  frozen_ = false;
}

void PlatformClock::advance(Duration by) {
  std::lock_guard lock(mutex_);
  if (frozen_) frozenAt_ += by;
  else offset_ += by;
}

void PlatformClock::set(TimePoint t) {
  std::lock_guard lock(mutex_);
  if (frozen_) frozenAt_ = t;
  else offset_ = t - std::chrono::system_clock::now();
}

void PlatformClock::reset() {
  std::lock_guard lock(mutex_);
  frozen_ = false;
  offset_ = Duration{0};
}

bool PlatformClock::frozen() const {
  std::lock_guard lock(mutex_);
  return frozen_;
}

Duration PlatformClock::offset() const {
  std::lock_guard lock(mutex_);
  return frozen_ ? frozenAt_ - std::chrono::system_clock::now() : offset_;
}

}  // namespace fc::server::core
