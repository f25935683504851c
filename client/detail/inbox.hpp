// detail::Inbox — received messages that no handler took, for the device classes' blocking waits
// ("publish a request, wait for its reply"). Bounded: the oldest message goes when it is full.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>

#include "client/mqtt_options.hpp"

namespace fc::client::detail {

class Inbox {
 public:
  explicit Inbox(std::size_t capacity = 1000) : capacity_(capacity) {}

  void push(Message m) {
    {
      std::lock_guard lock(mutex_);
      if (messages_.size() >= capacity_) messages_.pop_front();
      messages_.push_back(std::move(m));
    }
    changed_.notify_all();
  }

  /// Removes and returns the first message `match` accepts, waiting up to `timeout` for one.
  std::optional<Message> take(const std::function<bool(const Message&)>& match, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::optional<Message> found;
    changed_.wait_for(lock, timeout, [&] {
      for (auto it = messages_.begin(); it != messages_.end(); ++it) {
        if (!match(*it)) continue;
        found = std::move(*it);
        messages_.erase(it);
        return true;
      }
      return false;
    });
    return found;
  }

 private:
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Message> messages_;
};

}  // namespace fc::client::detail
