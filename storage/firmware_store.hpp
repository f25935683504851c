// FirmwareStore — the firmware repository's rows (migration 4). The image bytes are files named by
// their SHA-256 beside the database (server/ota/firmware_repository.*); a row is what makes a file
// part of the repository, so a row is written only after its file is durable, and a file without a
// row is removed at the next start.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/writer.hpp"

namespace fc::storage {

struct FirmwareRow {
  std::string id;
  std::string productId;
  std::string version;
  std::string name;
  std::string module;  ///< partition/module the image is for; "" for the whole device
  std::int64_t size = 0;
  std::string md5;  ///< lower-case hex
  std::string sha1;
  std::string sha256;          ///< also the file's name
  std::int64_t createdAt = 0;  ///< ms since the Unix epoch
  bool operator==(const FirmwareRow&) const = default;
};

class FirmwareStore {
 public:
  /// The writer's database must have been migrated (storage::migrate).
  explicit FirmwareStore(Writer& writer);

  /// Every row, oldest first. Synchronous: for startup and tests.
  std::vector<FirmwareRow> load();

  /// Inserts the row; `done(ok)` runs on the writer thread once it is committed (ok false when the
  /// insert failed, e.g. a duplicate id; the failure also goes to the writer's error handler).
  void insert(FirmwareRow row, std::function<void(bool ok)> done);
  void remove(std::string id);
  void removeAll();
  /// Writer::whenCommitted: `done` runs on the writer thread once everything queued so far is committed.
  void whenCommitted(std::function<void()> done);

 private:
  Writer& writer_;
};

}  // namespace fc::storage
