// The firmware repository: streamed uploads with their hashes, checksums, limits, content-addressed
// files shared by rows, the delete guard (the hook upgrade jobs fill), the start-up sweep, and
// deterministic generated images.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "server/core/clock.hpp"
#include "server/ota/firmware_repository.hpp"
#include "storage/database.hpp"
#include "storage/firmware_store.hpp"
#include "storage/migrations.hpp"
#include "storage/writer.hpp"
#include "tests/support/temp_dir.hpp"

namespace fc::server::ota {
namespace {

namespace fs = std::filesystem;
using Result = Expected<Firmware, OtaError>;

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// A database file and a firmware directory in one scratch dir; `reopen()` is a restart.
class Repo {
 public:
  Repo() { open(); }
  ~Repo() { close(); }

  void open() {
    db_ = std::make_unique<storage::Database>(storage::Database::open(dir_.file("fc.db")));
    storage::migrate(*db_);
    writer_ = std::make_unique<storage::Writer>(*db_);
    store_ = std::make_unique<storage::FirmwareStore>(*writer_);
    repo = FirmwareRepository::open(firmwareDir(), false, *store_, clock_, limits);
  }
  void close() {
    repo.reset();
    if (writer_) writer_->stop();
    store_.reset();
    writer_.reset();
    db_.reset();
  }
  void reopen() {
    close();
    open();
  }
  fs::path firmwareDir() const { return fs::path(dir_.path()) / "firmware"; }
  std::size_t files() const {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(firmwareDir())) ++n;
    return n;
  }

  Result upload(FirmwareSpec spec, std::string_view content, std::size_t pieces = 3) {
    auto u = repo->beginUpload(std::move(spec));
    if (!u) return Unexpected(u.error());
    const std::size_t step = content.size() / pieces + 1;
    for (std::size_t off = 0; off < content.size(); off += step)
      if (auto e = (*u)->write(bytes(content.substr(off, step)))) return Unexpected(*e);
    std::promise<Result> done;
    (*u)->finish([&done](Result r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }
  Result generate(FirmwareSpec spec, std::uint64_t size, std::uint64_t seed) {
    std::promise<Result> done;
    repo->generate(std::move(spec), size, seed, [&done](Result r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  }
  std::string read(const Firmware& f) const {
    std::ifstream in(firmwareDir() / f.sha256, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  RepositoryLimits limits;
  std::shared_ptr<FirmwareRepository> repo;

 private:
  test::TempDir dir_;
  core::PlatformClock clock_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<storage::Writer> writer_;
  std::unique_ptr<storage::FirmwareStore> store_;
};

FirmwareSpec spec(std::string version = "1.0.0") { return {"prod-1", version, "app", "", std::nullopt, std::nullopt}; }

TEST(FirmwareRepository, UploadHashesAndStoresUnderTheSha256) {
  Repo r;
  auto f = r.upload(spec(), "abc");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->size, 3u);
  EXPECT_EQ(f->md5, "900150983cd24fb0d6963f7d28e17f72");           // RFC 1321 test suite
  EXPECT_EQ(f->sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");  // FIPS 180 "abc"
  EXPECT_EQ(f->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(f->etag(), "\"" + f->sha256 + "\"");
  EXPECT_EQ(r.read(*f), "abc");
  EXPECT_EQ(r.files(), 1u);  // no temp file left
  ASSERT_TRUE(r.repo->get(f->id));
  EXPECT_EQ(r.repo->list().size(), 1u);
  EXPECT_EQ(r.repo->list(std::string("other")).size(), 0u);
}

TEST(FirmwareRepository, ExpectedChecksumsAreCheckedAndAMismatchKeepsNothing) {
  Repo r;
  auto good = spec();
  good.md5 = "900150983CD24FB0D6963F7D28E17F72";  // either case
  good.sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  EXPECT_TRUE(r.upload(good, "abc"));
  auto bad = spec("2");
  bad.sha256 = std::string(64, '0');
  auto f = r.upload(bad, "abd");
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().status, 422);
  EXPECT_EQ(f.error().code, "checksum_mismatch");
  bad = spec("3");
  bad.md5 = std::string(32, 'f');
  EXPECT_EQ(r.upload(bad, "abe").error().status, 422);
  EXPECT_EQ(r.repo->list().size(), 1u);
  EXPECT_EQ(r.files(), 1u);
}

TEST(FirmwareRepository, EmptyAndTooLargeUploadsAreRefused) {
  Repo r;
  r.limits.maxFirmwareBytes = 10;
  r.reopen();
  auto empty = r.upload(spec(), "");
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().status, 400);
  auto declared = r.repo->beginUpload(spec(), 11);
  ASSERT_FALSE(declared);
  EXPECT_EQ(declared.error().status, 413);
  auto big = r.upload(spec(), "0123456789A", 2);  // found while streaming: no size declared
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().status, 413);
  EXPECT_TRUE(r.upload(spec(), "0123456789"));  // exactly the limit
  EXPECT_EQ(r.files(), 1u);
}

TEST(FirmwareRepository, AnAbortedOrAbandonedUploadLeavesNoFile) {
  Repo r;
  {
    auto u = r.repo->beginUpload(spec());
    ASSERT_TRUE(u);
    EXPECT_FALSE((*u)->write(bytes("half")));
    EXPECT_EQ(r.files(), 1u);  // the temp file
    (*u)->abort();
    EXPECT_EQ(r.files(), 0u);
  }
  {
    auto u = r.repo->beginUpload(spec());
    EXPECT_FALSE((*u)->write(bytes("half")));
  }  // destroyed unfinished
  EXPECT_EQ(r.files(), 0u);
  EXPECT_TRUE(r.repo->list().empty());
}

TEST(FirmwareRepository, RowsSurviveARestartAndTheSweepRemovesLeftovers) {
  Repo r;
  auto f = r.upload(spec(), "persistent");
  ASSERT_TRUE(f);
  r.close();
  // What a kill leaves behind: an upload's temp file, and a renamed file whose row never committed.
  std::ofstream(r.firmwareDir() / ".upload-deadbeef.tmp") << "half";
  std::ofstream(r.firmwareDir() / std::string(64, 'a')) << "orphan";
  std::ofstream(r.firmwareDir() / "README") << "not ours";
  r.open();
  const auto again = r.repo->get(f->id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->sha256, f->sha256);
  EXPECT_EQ(again->size, f->size);
  EXPECT_EQ(again->createdAt, f->createdAt);
  EXPECT_EQ(r.read(*again), "persistent");
  EXPECT_FALSE(fs::exists(r.firmwareDir() / ".upload-deadbeef.tmp"));
  EXPECT_FALSE(fs::exists(r.firmwareDir() / std::string(64, 'a')));
  EXPECT_TRUE(fs::exists(r.firmwareDir() / "README"));
}

TEST(FirmwareRepository, RowsShareAFileUntilTheLastIsDeleted) {
  Repo r;
  auto a = r.upload(spec("1"), "same bytes");
  auto b = r.upload(spec("2"), "same bytes");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->id, b->id);
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_EQ(r.files(), 1u);
  ASSERT_TRUE(r.repo->remove(a->id));
  r.reopen();  // the delete is committed, the file stays for b
  EXPECT_FALSE(r.repo->get(a->id));
  ASSERT_TRUE(r.repo->get(b->id));
  EXPECT_EQ(r.read(*b), "same bytes");
  ASSERT_TRUE(r.repo->remove(b->id));
  r.reopen();
  EXPECT_EQ(r.files(), 0u);
  EXPECT_TRUE(r.repo->list().empty());
}

TEST(FirmwareRepository, DeleteUnknownIs404) {
  Repo r;
  auto e = r.repo->remove("fw-none");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().status, 404);
}

TEST(FirmwareRepository, WithoutAGuardADeleteAlwaysSucceeds) {
  Repo r;
  auto f = r.upload(spec(), "x");
  ASSERT_TRUE(f);
  EXPECT_TRUE(r.repo->remove(f->id));
}

TEST(FirmwareRepository, TheDeleteGuardRefusesWith409AndIsAskedWithTheFirmware) {
  Repo r;
  auto f = r.upload(spec(), "in use");
  ASSERT_TRUE(f);
  std::vector<std::string> asked;
  bool running = true;
  r.repo->setDeleteGuard([&](const Firmware& fw) -> std::optional<std::string> {
    asked.push_back(fw.id);
    if (running) return "job job-1 has devices that have not finished";
    return std::nullopt;
  });
  auto refused = r.repo->remove(f->id);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, 409);
  EXPECT_EQ(refused.error().code, "firmware_in_use");
  EXPECT_EQ(refused.error().message, "job job-1 has devices that have not finished");
  EXPECT_TRUE(r.repo->get(f->id));
  running = false;
  EXPECT_TRUE(r.repo->remove(f->id));
  EXPECT_EQ(asked, (std::vector<std::string>{f->id, f->id}));
  EXPECT_FALSE(r.repo->get(f->id));
}

TEST(FirmwareRepository, GeneratedImagesAreDeterministic) {
  Repo r;
  auto a = r.generate(spec("1"), 100'000, 42);
  auto b = r.generate(spec("2"), 100'000, 42);
  auto c = r.generate(spec("3"), 100'000, 43);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->size, 100'000u);
  EXPECT_EQ(a->sha256, b->sha256);
  EXPECT_NE(a->sha256, c->sha256);
  std::vector<std::uint8_t> expected(100'000);
  generatedBytes(42, 0, expected);
  EXPECT_EQ(r.read(*a), std::string(expected.begin(), expected.end()));
  EXPECT_FALSE(r.generate(spec("4"), 0, 1));
}

TEST(FirmwareRepository, GeneratedBytesFromAnyOffsetMatchTheStream) {
  std::vector<std::uint8_t> whole(64);
  generatedBytes(7, 0, whole);
  for (std::size_t off = 0; off < 40; ++off) {
    std::vector<std::uint8_t> part(13);
    generatedBytes(7, off, part);
    EXPECT_TRUE(std::equal(part.begin(), part.end(), whole.begin() + static_cast<std::ptrdiff_t>(off))) << off;
  }
  // SplitMix64(0)'s first output is 0xe220a8397b1dcdaf, written little-endian.
  std::vector<std::uint8_t> first(8);
  generatedBytes(0, 0, first);
  EXPECT_EQ(first, (std::vector<std::uint8_t>{0xaf, 0xcd, 0x1d, 0x7b, 0x39, 0xa8, 0x20, 0xe2}));
}

TEST(FirmwareRepository, OpenImageReadsTheFile) {
  Repo r;
  auto f = r.upload(spec(), "readable");
  ASSERT_TRUE(f);
  const int fd = r.repo->openImage(*f);
  ASSERT_GE(fd, 0);
  char buf[16] = {};
  EXPECT_EQ(::pread(fd, buf, sizeof buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "able");
  ::close(fd);
}

TEST(FirmwareRepository, ResetForgetsEveryFirmwareAndFile) {
  Repo r;
  ASSERT_TRUE(r.upload(spec("1"), "one"));
  ASSERT_TRUE(r.upload(spec("2"), "two"));
  r.repo->reset();
  EXPECT_TRUE(r.repo->list().empty());
  r.reopen();
  EXPECT_TRUE(r.repo->list().empty());
  EXPECT_EQ(r.files(), 0u);
}

TEST(FirmwareRepository, ATemporaryDirectoryGoesWithTheRepository) {
  test::TempDir scratch;
  auto db = storage::Database::open(":memory:");
  storage::migrate(db);
  storage::Writer writer(db);
  storage::FirmwareStore store(writer);
  core::PlatformClock clock;
  const auto dir = fs::path(scratch.path()) / "tmp-firmware";
  {
    auto repo = FirmwareRepository::open(dir, true, store, clock);
    auto u = repo->beginUpload(spec());
    ASSERT_TRUE(u);
    EXPECT_FALSE((*u)->write(bytes("x")));
    std::promise<Result> done;
    (*u)->finish([&done](Result r) { done.set_value(std::move(r)); });
    ASSERT_TRUE(done.get_future().get());
    u->reset();
    EXPECT_TRUE(fs::exists(dir));
  }
  EXPECT_FALSE(fs::exists(dir));
  writer.stop();
}

}  // namespace
}  // namespace fc::server::ota
