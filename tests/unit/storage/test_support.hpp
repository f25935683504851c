// Helpers shared by the storage tests: the shared scratch directory and a thread-safe collector
// for a Writer's error reports.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "tests/support/temp_dir.hpp"

namespace fc::storage::test {

using fc::test::TempDir;

/// Records what a Writer reports; the handler runs on the writer thread, the test reads on its own.
class ErrorLog {
 public:
  auto handler() {
    return [this](const std::string& message) {
      std::lock_guard lock(mutex_);
      messages_.push_back(message);
    };
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace fc::storage::test
