// FirmwareRepository: see the header for the crash-safety order and the threads.
#include "server/ota/firmware_repository.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "server/core/platform.hpp"
#include "server/core/random.hpp"
#include "storage/firmware_store.hpp"

namespace fc::server::ota {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTempPrefix = ".upload-";

bool isSha256Name(const std::string& name) {
  return name.size() == 64 &&
         std::all_of(name.begin(), name.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string hex(const unsigned char* data, unsigned n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (unsigned i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

/// fsync of a directory, so that a rename or unlink in it survives a crash of the machine.
void syncDir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::uint64_t splitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

nlohmann::json toJson(const Firmware& f) {
  return {{"id", f.id},           {"productId", f.productId},
          {"version", f.version}, {"name", f.name},
          {"module", f.module},   {"size", f.size},
          {"md5", f.md5},         {"sha1", f.sha1},
          {"sha256", f.sha256},   {"createdAt", core::isoTime(f.createdAt)}};
}

void generatedBytes(std::uint64_t seed, std::uint64_t offset, std::span<std::uint8_t> out) {
  // Output k covers bytes [8k, 8k+8); SplitMix64's state after k steps is seed + k·γ, so any
  // offset is reached without generating what precedes it.
  std::uint64_t word = offset / 8;
  std::uint64_t state = seed + word * 0x9e3779b97f4a7c15ull;
  std::size_t skip = offset % 8;
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t v = splitMix(state);
    for (std::size_t b = skip; b < 8 && i < out.size(); ++b) out[i++] = static_cast<std::uint8_t>(v >> (8 * b));
    skip = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// FirmwareUpload

struct FirmwareUpload::Hashes {
  std::array<EVP_MD_CTX*, 3> ctx{};  // md5, sha1, sha256
  Hashes() {
    const std::array<const EVP_MD*, 3> md{EVP_md5(), EVP_sha1(), EVP_sha256()};
    for (std::size_t i = 0; i < 3; ++i) {
      ctx[i] = EVP_MD_CTX_new();
      if (!ctx[i] || EVP_DigestInit_ex(ctx[i], md[i], nullptr) != 1) throw std::runtime_error("EVP_DigestInit failed");
    }
  }
  ~Hashes() {
    for (auto* c : ctx) EVP_MD_CTX_free(c);
  }
  void update(std::span<const std::uint8_t> bytes) {
    for (auto* c : ctx) EVP_DigestUpdate(c, bytes.data(), bytes.size());
  }
  std::string final(std::size_t i) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx[i], out, &n);
    return hex(out, n);
  }
};

FirmwareUpload::FirmwareUpload(FirmwareRepository* repo, FirmwareSpec spec, fs::path temp, int fd)
    : repo_(repo), spec_(std::move(spec)), temp_(std::move(temp)), fd_(fd), hashes_(std::make_unique<Hashes>()) {}

FirmwareUpload::~FirmwareUpload() {
  if (!done_) discard();
}

void FirmwareUpload::discard() {
  done_ = true;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::error_code ignored;
  if (!temp_.empty()) fs::remove(temp_, ignored);
}

void FirmwareUpload::abort() {
  if (done_) return;
  spdlog::info("firmware: upload of {} {} abandoned after {} bytes", spec_.productId, spec_.version, size_);
  discard();
}

std::optional<OtaError> FirmwareUpload::write(std::span<const std::uint8_t> bytes) {
  if (failed_) return failed_;
  if (done_) return OtaError{409, "upload_finished", "the upload has finished"};
  if (size_ + bytes.size() > repo_->limits_.maxFirmwareBytes) {
    failed_ = OtaError{
        413, "payload_too_large",
        "firmware exceeds ota.maxFirmwareBytes (" + std::to_string(repo_->limits_.maxFirmwareBytes) + " bytes)"};
    discard();
    return failed_;
  }
  hashes_->update(bytes);
  std::size_t off = 0;
  while (off < bytes.size()) {
    const auto n = ::write(fd_, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      spdlog::error("firmware: writing {} failed: {}", temp_.string(), why);
      failed_ = OtaError{500, "storage_failed", "cannot store the firmware: " + why};
      discard();
      return failed_;
    }
    off += static_cast<std::size_t>(n);
  }
  size_ += bytes.size();
  return std::nullopt;
}

void FirmwareUpload::finish(std::function<void(Expected<Firmware, OtaError>)> done) {
  if (failed_) return done(Unexpected(*failed_));
  if (done_) return done(Unexpected(OtaError{409, "upload_finished", "the upload has finished"}));
  if (size_ == 0) {
    discard();
    return done(Unexpected(OtaError{400, "empty_firmware", "the firmware image is empty"}));
  }
  Firmware f;
  f.productId = spec_.productId;
  f.version = spec_.version;
  f.name = spec_.name;
  f.module = spec_.module;
  f.size = size_;
  f.md5 = hashes_->final(0);
  f.sha1 = hashes_->final(1);
  f.sha256 = hashes_->final(2);
  const auto mismatch = [&](const char* what, const std::optional<std::string>& expected, const std::string& actual) {
    return expected && lower(*expected) != actual
               ? std::optional<OtaError>(OtaError{
                     422, "checksum_mismatch",
                     std::string(what) + " of the upload is " + actual + ", not " + *expected + "; nothing was kept"})
               : std::nullopt;
  };
  auto bad = mismatch("md5", spec_.md5, f.md5);
  if (!bad) bad = mismatch("sha256", spec_.sha256, f.sha256);
  if (bad) {
    spdlog::info("firmware: upload of {} {} refused: {}", spec_.productId, spec_.version, bad->message);
    discard();
    return done(Unexpected(*bad));
  }
  // From here the worker owns the file: it is closed and renamed there.
  done_ = true;
  const int fd = fd_;
  fd_ = -1;
  repo_->post([repo = repo_, spec = spec_, temp = temp_, fd, f = std::move(f), done = std::move(done)]() mutable {
    if (::fsync(fd) != 0) spdlog::warn("firmware: fsync of {} failed: {}", temp.string(), std::strerror(errno));
    ::close(fd);
    repo->commit(std::move(spec), std::move(temp), std::move(f), std::move(done));
  });
}

// ---------------------------------------------------------------------------------------------
// FirmwareRepository

std::shared_ptr<FirmwareRepository> FirmwareRepository::open(fs::path dir, bool temporary,
                                                             storage::FirmwareStore& store, const core::Clock& clock,
                                                             RepositoryLimits limits) {
  std::shared_ptr<FirmwareRepository> repo(new FirmwareRepository(std::move(dir), temporary, store, clock, limits));
  repo->load();
  return repo;
}

FirmwareRepository::FirmwareRepository(fs::path dir, bool temporary, storage::FirmwareStore& store,
                                       const core::Clock& clock, RepositoryLimits limits)
    : dir_(std::move(dir)), temporary_(temporary), store_(store), clock_(clock), limits_(limits) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_))
    throw std::runtime_error("firmware directory " + dir_.string() + ": " + ec.message());
  worker_ = std::thread([this] { run(); });
}

FirmwareRepository::~FirmwareRepository() {
  {
    std::lock_guard lock(queueMutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  if (temporary_) {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
}

void FirmwareRepository::load() {
  std::size_t kept = 0, removed = 0;
  for (auto& row : store_.load()) {
    Firmware f{row.id,      row.productId,
               row.version, row.name,
               row.module,  static_cast<std::uint64_t>(row.size),
               row.md5,     row.sha1,
               row.sha256,  core::fromMillis(row.createdAt)};
    if (!fs::exists(dir_ / f.sha256)) {
      // The row was committed after its file was durable, so this means someone removed the file.
      spdlog::warn("firmware: {} ({} {}) has no file {} any more; its row stays but downloads answer 404", f.id,
                   f.productId, f.version, (dir_ / f.sha256).string());
    }
    ++fileUsers_[f.sha256];
    byId_.emplace(f.id, std::move(f));
    ++kept;
  }
  for (const auto& entry : fs::directory_iterator(dir_)) {
    const auto name = entry.path().filename().string();
    const bool leftover = name.starts_with(kTempPrefix);
    const bool orphan = isSha256Name(name) && !fileUsers_.contains(name);
    if (!leftover && !orphan) continue;
    std::error_code ec;
    fs::remove(entry.path(), ec);
    if (!ec) ++removed;
    spdlog::info("firmware: removed {} ({})", entry.path().string(),
                 leftover ? "an upload that did not finish" : "a file no firmware row names");
  }
  if (removed) syncDir(dir_);
  spdlog::info("firmware: {} images in {}{}", kept, dir_.string(), temporary_ ? " (temporary, removed at exit)" : "");
}

void FirmwareRepository::post(std::function<void()> job) {
  {
    std::lock_guard lock(queueMutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void FirmwareRepository::run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock lock(queueMutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("firmware: {}", e.what());
    }
  }
}

Expected<std::unique_ptr<FirmwareUpload>, OtaError> FirmwareRepository::beginUpload(
    FirmwareSpec spec, std::optional<std::uint64_t> declaredSize) {
  if (declaredSize && *declaredSize > limits_.maxFirmwareBytes)
    return Unexpected(OtaError{413, "payload_too_large",
                               "firmware of " + std::to_string(*declaredSize) +
                                   " bytes exceeds ota.maxFirmwareBytes (" + std::to_string(limits_.maxFirmwareBytes) +
                                   " bytes)"});
  if (declaredSize && *declaredSize == 0)
    return Unexpected(OtaError{400, "empty_firmware", "the firmware image is empty"});
  const auto temp = dir_ / (std::string(kTempPrefix) + core::randomHex(8) + ".tmp");
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) {
    const std::string why = std::strerror(errno);
    spdlog::error("firmware: cannot create {}: {}", temp.string(), why);
    return Unexpected(OtaError{500, "storage_failed", "cannot store the firmware: " + why});
  }
  return std::unique_ptr<FirmwareUpload>(new FirmwareUpload(this, std::move(spec), temp, fd));
}

void FirmwareRepository::generate(FirmwareSpec spec, std::uint64_t size, std::uint64_t seed,
                                  std::function<void(Expected<Firmware, OtaError>)> done) {
  auto upload = beginUpload(std::move(spec), size);
  if (!upload) return done(Unexpected(upload.error()));
  post([u = std::shared_ptr<FirmwareUpload>(std::move(*upload)), size, seed, done = std::move(done)]() mutable {
    std::vector<std::uint8_t> chunk(256 * 1024);
    for (std::uint64_t off = 0; off < size; off += chunk.size()) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), size - off));
      generatedBytes(seed, off, std::span(chunk).first(n));
      if (auto e = u->write(std::span<const std::uint8_t>(chunk).first(n))) return done(Unexpected(*e));
    }
    u->finish(std::move(done));
  });
}

void FirmwareRepository::commit(FirmwareSpec, fs::path temp, Firmware f,
                                std::function<void(Expected<Firmware, OtaError>)> done) {
  const auto target = dir_ / f.sha256;
  {
    // Counted before the rename, so a delete of another row with the same content cannot unlink
    // the file between our rename and our commit.
    std::lock_guard lock(mutex_);
    ++fileUsers_[f.sha256];
    f.id = "fw-" + std::to_string(nextId_++) + "-" + core::randomHex(4);
  }
  std::error_code ec;
  fs::rename(temp, target, ec);  // the same content may exist already: replacing it changes nothing
  if (ec) {
    spdlog::error("firmware: rename {} → {} failed: {}", temp.string(), target.string(), ec.message());
    fs::remove(temp, ec);
    std::lock_guard lock(mutex_);
    release(f.sha256);
    return done(Unexpected(OtaError{500, "storage_failed", "cannot store the firmware: " + ec.message()}));
  }
  syncDir(dir_);
  f.createdAt = core::fromMillis(core::toMillis(clock_.now()));  // as the row keeps it
  storage::FirmwareRow row{f.id,      f.productId,
                           f.version, f.name,
                           f.module,  static_cast<std::int64_t>(f.size),
                           f.md5,     f.sha1,
                           f.sha256,  core::toMillis(f.createdAt)};
  // The callback holds the repository only while it updates it, and lets go before answering, so
  // the repository is not destroyed on the writer's thread behind the back of whoever was answered.
  store_.insert(std::move(row), [weak = weak_from_this(), f, done = std::move(done)](bool ok) mutable {
    bool kept = false;
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->mutex_);
      if (ok)
        self->byId_.emplace(f.id, f);
      else
        self->release(f.sha256);
      kept = ok;
    }
    if (!kept) return done(Unexpected(OtaError{500, "storage_failed", "cannot store the firmware's row"}));
    spdlog::info("firmware: stored {} ({} {} {}, {} bytes, sha256 {})", f.id, f.productId, f.name, f.version, f.size,
                 f.sha256);
    done(std::move(f));
  });
}

void FirmwareRepository::release(const std::string& sha256) {
  auto it = fileUsers_.find(sha256);
  if (it == fileUsers_.end() || --it->second > 0) return;
  fileUsers_.erase(it);
  std::error_code ignored;
  fs::remove(dir_ / sha256, ignored);
}

std::vector<Firmware> FirmwareRepository::list(const std::optional<std::string>& productId) const {
  std::lock_guard lock(mutex_);
  std::vector<Firmware> out;
  for (const auto& [id, f] : byId_)
    if (!productId || f.productId == *productId) out.push_back(f);
  std::sort(out.begin(), out.end(), [](const Firmware& a, const Firmware& b) {
    return a.createdAt != b.createdAt ? a.createdAt < b.createdAt : a.id < b.id;
  });
  return out;
}

std::optional<Firmware> FirmwareRepository::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = byId_.find(id);
  if (it == byId_.end()) return std::nullopt;
  return it->second;
}

void FirmwareRepository::setDeleteGuard(DeleteGuard guard) {
  std::lock_guard lock(mutex_);
  guard_ = std::move(guard);
}

Expected<Firmware, OtaError> FirmwareRepository::remove(const std::string& id) {
  Firmware f;
  DeleteGuard guard;
  {
    std::lock_guard lock(mutex_);
    const auto it = byId_.find(id);
    if (it == byId_.end()) return Unexpected(OtaError{404, "not_found", "no firmware '" + id + "'"});
    f = it->second;
    guard = guard_;
  }
  // Asked without our lock: the guard belongs to the jobs and takes theirs.
  if (guard) {
    if (auto why = guard(f)) return Unexpected(OtaError{409, "firmware_in_use", *why});
  }
  {
    std::lock_guard lock(mutex_);
    if (byId_.erase(id) == 0) return Unexpected(OtaError{404, "not_found", "no firmware '" + id + "'"});
  }
  store_.remove(id);
  // The file goes once the row's delete is committed: killed in between, the start-up sweep finds
  // a file without a row; the other way round a row would name a missing file.
  store_.whenCommitted([weak = weak_from_this(), sha = f.sha256] {
    if (auto self = weak.lock()) {  // else the next start's sweep removes the file
      std::lock_guard lock(self->mutex_);
      self->release(sha);
    }
  });
  return f;
}

void FirmwareRepository::reset() {
  std::vector<std::string> files;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, f] : byId_) files.push_back(f.sha256);
    byId_.clear();
  }
  store_.removeAll();
  store_.whenCommitted([weak = weak_from_this(), files = std::move(files)] {
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->mutex_);
      for (const auto& sha : files) self->release(sha);
    }
  });
}

int FirmwareRepository::openImage(const Firmware& f) const {
  return ::open((dir_ / f.sha256).c_str(), O_RDONLY | O_CLOEXEC);
}

}  // namespace fc::server::ota
