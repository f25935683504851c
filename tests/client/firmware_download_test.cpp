// fc::client::downloadFirmware against a scripted loopback HTTP server: a whole download with
// digests, resumes with Range/If-Range after cut connections and a stalled one, a server that
// ignores Range (start over), a Content-Range that does not continue, digest mismatch, 404, too
// many cuts, a bad URL. (Download faults of the real server arrive with the fault slice.)
#include "client/firmware_download.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace fc::client {
namespace {

using namespace std::chrono_literals;

std::string digest(const EVP_MD* md, const std::string& s) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(s.data(), s.size(), out, &n, md, nullptr);
  std::string hex;
  char buf[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", out[i]);
    hex += buf;
  }
  return hex;
}

/// Serves one image at any path. Each connection reads the request, honours `Range: bytes=N-`
/// (unless ignoreRange), and may be cut after `cutAfter[i]` body bytes (connection i) or stall.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::string image) : image_(std::move(image)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/fw.bin"; }
  std::vector<std::uint64_t> cutAfter;  // per connection; missing: serve all
  std::optional<std::size_t> stallOn;   // this connection sends half, then nothing
  bool ignoreRange = false;
  bool badContentRange = false;
  int status = 200;
  std::vector<std::string> requests() {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void run() {
    for (std::size_t i = 0; !stop_; ++i) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      serve(c, i);
      ::close(c);
    }
  }
  void serve(int c, std::size_t index) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const auto n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
    }
    std::uint64_t from = 0;
    if (const auto r = req.find("Range: bytes="); r != std::string::npos && !ignoreRange)
      from = std::stoull(req.substr(r + 13));
    std::string head;
    if (status != 200) {
      head = "HTTP/1.1 " + std::to_string(status) + " Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      ::send(c, head.data(), head.size(), MSG_NOSIGNAL);
      return;
    }
    const std::uint64_t size = image_.size();
    if (from > 0) {
      const auto first = badContentRange ? from + 1 : from;
      head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(first) + "-" +
             std::to_string(size - 1) + "/" + std::to_string(size) + "\r\n";
    } else {
      head = "HTTP/1.1 200 OK\r\n";
    }
    head += "Content-Length: " + std::to_string(size - from) + "\r\nETag: \"abc\"\r\nConnection: close\r\n\r\n";
    ::send(c, head.data(), head.size(), MSG_NOSIGNAL);
    std::uint64_t end = size;
    if (index < cutAfter.size()) end = std::min(size, from + cutAfter[index]);
    if (stallOn && *stallOn == index) end = from + (size - from) / 2;
    ::send(c, image_.data() + from, end - from, MSG_NOSIGNAL);
    if (stallOn && *stallOn == index) std::this_thread::sleep_for(1500ms);  // hold the connection open, silent
  }

  std::string image_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> requests_;
};

std::string image(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + 7) % 251);
  return s;
}

DownloadOptions optionsFor(const ScriptedServer& s, const std::string& img) {
  DownloadOptions o;
  o.url = s.url();
  o.md5 = digest(EVP_md5(), img);
  o.sha256 = digest(EVP_sha256(), img);
  o.retryDelay = 10ms;
  return o;
}

TEST(FirmwareDownload, WholeImageWithDigestsAndProgress) {
  const auto img = image(300'000);
  ScriptedServer server(img);
  std::uint64_t lastReceived = 0, total = 0;
  int calls = 0;
  auto r = downloadFirmware(optionsFor(server, img), [&](std::uint64_t received, std::uint64_t t) {
    EXPECT_GE(received, lastReceived);
    lastReceived = received;
    total = t;
    ++calls;
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::string(r->data.begin(), r->data.end()), img);
  EXPECT_EQ(r->sha256, digest(EVP_sha256(), img));
  EXPECT_EQ(r->connections, 1u);
  EXPECT_EQ(r->resumes, 0u);
  EXPECT_EQ(total, 300'000u);
  EXPECT_EQ(lastReceived, 300'000u);
  EXPECT_GT(calls, 1);
  EXPECT_EQ(server.requests()[0].find("Range:"), std::string::npos);
}

TEST(FirmwareDownload, ResumesFromTheRightOffsetAfterCuts) {
  const auto img = image(300'000);
  ScriptedServer server(img);
  server.cutAfter = {100'000, 50'000};
  auto r = downloadFirmware(optionsFor(server, img));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::string(r->data.begin(), r->data.end()), img);
  EXPECT_EQ(r->connections, 3u);
  EXPECT_EQ(r->resumes, 2u);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_NE(reqs[1].find("Range: bytes=100000-\r\n"), std::string::npos) << reqs[1];
  EXPECT_NE(reqs[1].find("If-Range: \"abc\"\r\n"), std::string::npos) << reqs[1];
  EXPECT_NE(reqs[2].find("Range: bytes=150000-\r\n"), std::string::npos) << reqs[2];
}

TEST(FirmwareDownload, AStalledConnectionIsCutAndResumed) {
  const auto img = image(100'000);
  ScriptedServer server(img);
  server.stallOn = 0;
  auto o = optionsFor(server, img);
  o.idleTimeout = 300ms;
  auto r = downloadFirmware(o);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::string(r->data.begin(), r->data.end()), img);
  EXPECT_EQ(r->resumes, 1u);
}

TEST(FirmwareDownload, AServerThatIgnoresRangeMeansStartingOver) {
  const auto img = image(100'000);
  ScriptedServer server(img);
  server.cutAfter = {40'000};
  server.ignoreRange = true;
  auto r = downloadFirmware(optionsFor(server, img));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(std::string(r->data.begin(), r->data.end()), img);  // not the first 40 000 bytes twice
  EXPECT_EQ(r->resumes, 0u);
  EXPECT_EQ(r->connections, 2u);
}

TEST(FirmwareDownload, RefusalsAndMismatches) {
  const auto img = image(10'000);
  {
    ScriptedServer server(img);
    auto o = optionsFor(server, img);
    o.sha256 = std::string(64, 'a');
    auto r = downloadFirmware(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(Error::DigestMismatch));
  }
  {
    ScriptedServer server(img);
    server.status = 404;
    auto r = downloadFirmware(optionsFor(server, img));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(Error::HttpStatus));
    EXPECT_EQ(server.requests().size(), 1u);  // a 404 is not retried
  }
  {
    ScriptedServer server(img);
    server.cutAfter = {1000};
    server.badContentRange = true;
    auto r = downloadFirmware(optionsFor(server, img));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(Error::BadResponse));
  }
  {
    ScriptedServer server(img);
    server.cutAfter = {1000, 1000, 1000};
    auto o = optionsFor(server, img);
    o.maxConnections = 3;
    auto r = downloadFirmware(o);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), make_error_code(Error::DownloadIncomplete));
  }
  DownloadOptions bad;
  bad.url = "ftp://x/y";
  EXPECT_EQ(downloadFirmware(bad).error(), make_error_code(Error::InvalidArgument));
}

}  // namespace
}  // namespace fc::client
