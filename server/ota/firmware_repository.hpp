// The firmware repository (issue 14): images as files named by their SHA-256 in one directory,
// metadata as rows in SQLite (storage::FirmwareStore), an image in memory never whole.
//
// Crash safety. An upload is written to `.upload-<random>.tmp` in the same directory and hashed as
// it arrives; at the end the file is fsynced, renamed to its SHA-256, the directory fsynced, and
// only then is the row committed — the answer (201) waits for that commit. At start the directory
// is swept: temp leftovers (an upload cut by a kill) and files no row names (a kill between the
// rename and the commit, or after a delete's commit) are removed. So a firmware the API has
// acknowledged survives SIGKILL, and a half-written one leaves nothing behind.
//
// Threads: every call is thread-safe. Uploads are written on the caller's thread (an HTTP session's
// strand: page-cache writes); fsync, rename and generated images run on the repository's own worker
// thread, and the answers come from the storage writer's thread.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "protocols/common/expected.hpp"
#include "server/core/clock.hpp"

namespace fc::storage {
class FirmwareStore;
}

namespace fc::server::ota {

/// An API-shaped failure: HTTP status, stable code, message for people.
struct OtaError {
  int status = 400;
  std::string code;
  std::string message;
};

struct Firmware {
  std::string id;
  std::string productId;
  std::string version;
  std::string name;
  std::string module;  // partition/module; "" for the whole device
  std::uint64_t size = 0;
  std::string md5, sha1, sha256;  // lower-case hex
  core::TimePoint createdAt{};
  /// The strong entity tag downloads carry: the SHA-256 in quotes.
  std::string etag() const { return "\"" + sha256 + "\""; }
};

/// {"id","productId","version","name","module","size","md5","sha1","sha256","createdAt"}
nlohmann::json toJson(const Firmware& f);

/// What an upload says about the image besides its bytes.
struct FirmwareSpec {
  std::string productId;
  std::string version;
  std::string name;
  std::string module;
  std::optional<std::string> md5;     // expected, hex (either case)
  std::optional<std::string> sha256;  // expected, hex (either case)
};

struct RepositoryLimits {
  std::uint64_t maxFirmwareBytes = 512ull << 20;
};

/// The bytes of a generated test image: SplitMix64 seeded with `seed`, each output as 8
/// little-endian bytes, the stream cut at the image's size. Fills `out` with the bytes from `offset`.
void generatedBytes(std::uint64_t seed, std::uint64_t offset, std::span<std::uint8_t> out);

class FirmwareRepository;

/// One upload in progress. Destroying it unfinished aborts it (its temp file is removed).
class FirmwareUpload {
 public:
  ~FirmwareUpload();
  FirmwareUpload(const FirmwareUpload&) = delete;
  FirmwareUpload& operator=(const FirmwareUpload&) = delete;

  /// Appends and hashes. An error (413 beyond ota.maxFirmwareBytes, 500 when the disk refuses)
  /// ends the upload: its file is gone and later calls fail the same way.
  std::optional<OtaError> write(std::span<const std::uint8_t> bytes);
  /// The body is complete: checks (empty 400, checksum mismatch 422), makes the file durable and
  /// commits the row, then calls `done` (on another thread) with the firmware or the error.
  void finish(std::function<void(Expected<Firmware, OtaError>)> done);
  /// The body will not complete (the client went away): removes the temp file.
  void abort();
  std::uint64_t size() const { return size_; }

 private:
  friend class FirmwareRepository;
  struct Hashes;
  FirmwareUpload(FirmwareRepository* repo, FirmwareSpec spec, std::filesystem::path temp, int fd);
  void discard();

  // Not owned: whoever holds the repository's shared_ptr (the router) outlives the uploads it starts.
  // Neither the worker's jobs nor uploads keep the repository alive, so it is never destroyed on its
  // own worker thread.
  FirmwareRepository* repo_;
  FirmwareSpec spec_;
  std::filesystem::path temp_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::unique_ptr<Hashes> hashes_;
  std::optional<OtaError> failed_;
  bool done_ = false;
};

class FirmwareRepository : public std::enable_shared_from_this<FirmwareRepository> {
 public:
  /// Opens (creating) `dir`, loads the rows and sweeps the directory (see the top of this file).
  /// `temporary`: the directory is removed with everything in it when the repository is destroyed
  /// (`--db :memory:`). Throws std::runtime_error when the directory cannot be used.
  static std::shared_ptr<FirmwareRepository> open(std::filesystem::path dir, bool temporary,
                                                  storage::FirmwareStore& store, const core::Clock& clock,
                                                  RepositoryLimits limits = {});
  ~FirmwareRepository();
  FirmwareRepository(const FirmwareRepository&) = delete;
  FirmwareRepository& operator=(const FirmwareRepository&) = delete;

  /// Starts an upload; `declaredSize` (Content-Length) lets a too-large one be refused (413) at once.
  Expected<std::unique_ptr<FirmwareUpload>, OtaError> beginUpload(FirmwareSpec spec,
                                                                  std::optional<std::uint64_t> declaredSize = {});
  /// A test image of `size` deterministic bytes (generatedBytes), written on the worker thread.
  void generate(FirmwareSpec spec, std::uint64_t size, std::uint64_t seed,
                std::function<void(Expected<Firmware, OtaError>)> done);

  std::vector<Firmware> list(const std::optional<std::string>& productId = {}) const;
  std::optional<Firmware> get(const std::string& id) const;

  /// Says why a firmware must not be deleted now (e.g. "job J is still running"), or nothing. The
  /// upgrade jobs install it; without one, a delete always succeeds.
  using DeleteGuard = std::function<std::optional<std::string>(const Firmware&)>;
  void setDeleteGuard(DeleteGuard guard);
  /// 404 unknown, 409 when the guard refuses; else the row goes, then the file if no other row shares it.
  Expected<Firmware, OtaError> remove(const std::string& id);
  /// Every firmware and file (the admin reset).
  void reset();

  /// The image for reading: a descriptor the caller closes, or -1 (unknown id, or the file is gone).
  int openImage(const Firmware& f) const;

  const std::filesystem::path& dir() const { return dir_; }
  const RepositoryLimits& limits() const { return limits_; }

 private:
  friend class FirmwareUpload;
  FirmwareRepository(std::filesystem::path dir, bool temporary, storage::FirmwareStore& store, const core::Clock& clock,
                     RepositoryLimits limits);
  void load();
  void post(std::function<void()> job);
  void run();
  /// Worker thread: fsync, rename, fsync dir, commit. `temp` is closed by then.
  void commit(FirmwareSpec spec, std::filesystem::path temp, Firmware f,
              std::function<void(Expected<Firmware, OtaError>)> done);
  void release(const std::string& sha256);  // under mutex_: one user fewer; unlinks the file at 0

  std::filesystem::path dir_;
  bool temporary_;
  storage::FirmwareStore& store_;
  const core::Clock& clock_;
  RepositoryLimits limits_;

  mutable std::mutex mutex_;
  std::map<std::string, Firmware> byId_;
  std::map<std::string, int> fileUsers_;  // sha256 → rows + commits in flight that use the file
  DeleteGuard guard_;
  std::uint64_t nextId_ = 1;

  std::mutex queueMutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace fc::server::ota
