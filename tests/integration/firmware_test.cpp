// The firmware repository and its downloads against the real binary: streamed uploads and their
// refusals, generated images, Range/If-Range/HEAD downloads, offers counted per device and shown in
// its journal, a client that disconnects mid-upload, and SIGKILL mid-upload followed by a restart.
#include <gtest/gtest.h>

#include <openssl/sha.h>

#include <filesystem>
#include <map>
#include <thread>

#include "server/ota/firmware_repository.hpp"
#include "tests/integration/server_process.hpp"

namespace fc::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

/// One request on its own connection (Connection: close); the whole answer.
Reply request(std::uint16_t port, const std::string& method, const std::string& target,
              const std::vector<std::string>& headers = {}, const std::string& body = {}, bool sendLength = true) {
  RawConnection conn(port);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (sendLength && (!body.empty() || method == "POST"))
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  conn.send(bytes(req));
  std::string response;
  while (true) {
    auto chunk = conn.receive(5s);
    if (chunk.empty()) break;
    response += text(chunk);
  }
  Reply r;
  const auto sep = response.find("\r\n\r\n");
  if (response.size() < 12 || sep == std::string::npos) return r;
  r.status = std::atoi(response.substr(9, 3).c_str());
  std::size_t line = response.find("\r\n") + 2;
  while (line < sep) {
    const auto end = response.find("\r\n", line);
    const auto colon = response.find(':', line);
    std::string name = response.substr(line, colon - line);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers[name] = response.substr(colon + 2, end - colon - 2);
    line = end + 2;
  }
  r.body = response.substr(sep + 4);
  return r;
}

std::string content(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint8_t> b(n);
  server::ota::generatedBytes(seed, 0, b);
  return {b.begin(), b.end()};
}

std::string sha256(const std::string& s) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  std::string out;
  char buf[3];
  for (auto c : d) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

void createProduct(const ServerProcess& s, const std::string& id = "p1") {
  ASSERT_EQ(call(s, "POST", "/api/v1/products", {{"id", id}, {"name", id}, {"dialect", "generic"}}).status, 201);
}

json upload(const ServerProcess& s, const std::string& image,
            const std::string& query = "productId=p1&version=1.0&name=app", int expect = 201) {
  auto r =
      request(s.httpPort(), "POST", "/api/v1/firmware?" + query, {"Content-Type: application/octet-stream"}, image);
  EXPECT_EQ(r.status, expect) << r.body;
  return json::parse(r.body, nullptr, false);
}

std::vector<std::string> firmwareFiles(const std::string& dataDir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(dataDir) / "firmware")) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Firmware, AStreamedUploadIsStoredAndDownloadedWholeAndInRanges) {
  ServerProcess s;
  createProduct(s);
  const auto image = content(300'000, 1);
  const auto f = upload(s, image);
  ASSERT_TRUE(f.is_object());
  EXPECT_EQ(f["size"], 300'000);
  EXPECT_EQ(f["sha256"], sha256(image));
  EXPECT_EQ(f["productId"], "p1");
  EXPECT_EQ(f["version"], "1.0");
  EXPECT_EQ(f["name"], "app");
  EXPECT_EQ(f["md5"].get<std::string>().size(), 32u);
  EXPECT_EQ(f["sha1"].get<std::string>().size(), 40u);
  const std::string path = "/ota/firmware/" + f["id"].get<std::string>();
  EXPECT_EQ(f["urls"]["http"], "http://127.0.0.1:" + std::to_string(s.httpPort()) + path);
  EXPECT_EQ(f["urls"]["https"], "https://127.0.0.1:" + std::to_string(s.httpsPort()) + path);

  auto whole = request(s.httpPort(), "GET", path);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.headers["content-length"], "300000");
  EXPECT_EQ(whole.headers["etag"], "\"" + sha256(image) + "\"");
  EXPECT_EQ(whole.headers["accept-ranges"], "bytes");
  EXPECT_EQ(whole.headers["content-type"], "application/octet-stream");
  EXPECT_TRUE(whole.body == image);

  auto mid = request(s.httpPort(), "GET", path, {"Range: bytes=100-199"});
  EXPECT_EQ(mid.status, 206);
  EXPECT_EQ(mid.headers["content-range"], "bytes 100-199/300000");
  EXPECT_EQ(mid.headers["content-length"], "100");
  EXPECT_TRUE(mid.body == image.substr(100, 100));

  auto suffix = request(s.httpPort(), "GET", path, {"Range: bytes=-10"});
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.headers["content-range"], "bytes 299990-299999/300000");
  EXPECT_TRUE(suffix.body == image.substr(299'990));

  auto tail = request(s.httpPort(), "GET", path, {"Range: bytes=123456-"});
  EXPECT_EQ(tail.status, 206);
  EXPECT_TRUE(tail.body == image.substr(123'456));

  auto beyond = request(s.httpPort(), "GET", path, {"Range: bytes=300000-"});
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.headers["content-range"], "bytes */300000");
  EXPECT_EQ(json::parse(beyond.body)["error"]["code"], "range_not_satisfiable");

  auto multi = request(s.httpPort(), "GET", path, {"Range: bytes=0-1,5-6"});
  EXPECT_EQ(multi.status, 200);  // several ranges: the whole image (docs/ota.md)
  EXPECT_EQ(multi.body.size(), 300'000u);

  auto head = request(s.httpPort(), "HEAD", path);
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "300000");
  EXPECT_TRUE(head.body.empty());
  auto headRange = request(s.httpPort(), "HEAD", path, {"Range: bytes=10-19"});
  EXPECT_EQ(headRange.status, 206);
  EXPECT_EQ(headRange.headers["content-length"], "10");
  EXPECT_TRUE(headRange.body.empty());

  const auto etag = whole.headers["etag"];
  auto same = request(s.httpPort(), "GET", path, {"Range: bytes=10-19", "If-Range: " + etag});
  EXPECT_EQ(same.status, 206);
  auto changed = request(s.httpPort(), "GET", path, {"Range: bytes=10-19", "If-Range: \"something-else\""});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body.size(), 300'000u);
  auto byDate =
      request(s.httpPort(), "GET", path, {"Range: bytes=10-19", "If-Range: " + whole.headers["last-modified"]});
  EXPECT_EQ(byDate.status, 206);

  EXPECT_EQ(request(s.httpPort(), "GET", "/ota/firmware/fw-none").status, 404);
}

TEST(Firmware, ManyDownloadsAtOnceEachGetTheirBytes) {
  ServerProcess s;
  createProduct(s);
  const auto image = content(1'000'000, 9);
  const auto f = upload(s, image);
  const std::string path = "/ota/firmware/" + f["id"].get<std::string>();
  std::vector<std::thread> threads;
  std::vector<int> good(8, 0);
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&, i] {
      const std::size_t from = static_cast<std::size_t>(i) * 100'000;
      auto r = request(s.httpPort(), "GET", path, {"Range: bytes=" + std::to_string(from) + "-"});
      good[static_cast<std::size_t>(i)] = r.status == 206 && r.body == image.substr(from);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good, std::vector<int>(8, 1));
}

TEST(Firmware, GeneratedImagesListGetAndDelete) {
  ServerProcess s;
  createProduct(s);
  createProduct(s, "p2");
  auto made =
      call(s, "POST", "/api/v1/firmware",
           {{"productId", "p1"}, {"version", "2.0"}, {"name", "gen"}, {"generate", {{"size", 5000}, {"seed", 7}}}});
  ASSERT_EQ(made.status, 201) << made.body.dump();
  EXPECT_EQ(made.body["sha256"], sha256(content(5000, 7)));
  ASSERT_EQ(call(s, "POST", "/api/v1/firmware",
                 {{"productId", "p2"},
                  {"version", "1"},
                  {"name", "other"},
                  {"module", "mcu"},
                  {"generate", {{"size", 10}, {"seed", 1}}}})
                .status,
            201);
  const auto id = made.body["id"].get<std::string>();
  auto p1 = call(s, "GET", "/api/v1/firmware?productId=p1");
  ASSERT_EQ(p1.status, 200);
  ASSERT_EQ(p1.body["total"], 1);
  EXPECT_EQ(p1.body["items"][0]["id"], id);
  EXPECT_EQ(call(s, "GET", "/api/v1/firmware").body["total"], 2);
  EXPECT_EQ(call(s, "GET", "/api/v1/firmware?productId=p2").body["items"][0]["module"], "mcu");
  EXPECT_EQ(call(s, "GET", "/api/v1/firmware/" + id).body["version"], "2.0");
  auto gone = call(s, "DELETE", "/api/v1/firmware/" + id);  // no jobs yet: a delete always succeeds
  EXPECT_EQ(gone.status, 200);
  EXPECT_EQ(gone.body["id"], id);
  EXPECT_EQ(call(s, "GET", "/api/v1/firmware/" + id).status, 404);
  EXPECT_EQ(call(s, "DELETE", "/api/v1/firmware/" + id).status, 404);
  EXPECT_EQ(request(s.httpPort(), "GET", "/ota/firmware/" + id).status, 404);
}

TEST(Firmware, BadUploadsGetAClear4xxAndKeepNothing) {
  ServerOptions o;
  o.configJson = R"({"ota": {"maxFirmwareBytes": 1000}})";
  ServerProcess s(o);
  createProduct(s);
  const auto code = [](const json& j) { return j["error"]["code"].get<std::string>(); };
  EXPECT_EQ(code(upload(s, "x", "version=1&name=a", 400)), "invalid");                 // no productId
  EXPECT_EQ(code(upload(s, "x", "productId=nope&version=1&name=a", 422)), "invalid");  // unknown product
  EXPECT_EQ(code(upload(s, "", "productId=p1&version=1&name=a", 400)), "empty_firmware");
  EXPECT_EQ(code(upload(s, std::string(1001, 'x'), "productId=p1&version=1&name=a", 413)), "payload_too_large");
  EXPECT_EQ(code(upload(s, "abc", "productId=p1&version=1&name=a&sha256=" + std::string(64, '0'), 422)),
            "checksum_mismatch");
  EXPECT_EQ(code(upload(s, "abc", "productId=p1&version=1&name=a&md5=nothex", 400)), "invalid");
  // Chunked: the size is known only as the body arrives.
  std::string chunked = "400\r\n" + std::string(1024, 'y') + "\r\n0\r\n\r\n";
  auto r = request(s.httpPort(), "POST", "/api/v1/firmware?productId=p1&version=1&name=a",
                   {"Content-Type: application/octet-stream", "Transfer-Encoding: chunked"}, chunked, false);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(call(s, "POST", "/api/v1/firmware", {{"productId", "p1"}, {"version", "1"}, {"name", "a"}}).status, 400);
  EXPECT_EQ(call(s, "POST", "/api/v1/firmware",
                 {{"productId", "p1"}, {"version", "1"}, {"name", "a"}, {"generate", {{"size", 2000}}}})
                .status,
            413);
  EXPECT_EQ(call(s, "GET", "/api/v1/firmware").body["total"], 0);
  EXPECT_EQ(call(s, "GET", "/healthz").status, 200);
  // A good one still goes through, chunked too.
  std::string ok = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  auto good = request(s.httpPort(), "POST", "/api/v1/firmware?productId=p1&version=1&name=a",
                      {"Content-Type: application/octet-stream", "Transfer-Encoding: chunked"}, ok, false);
  EXPECT_EQ(good.status, 201) << good.body;
  EXPECT_EQ(json::parse(good.body)["sha256"], sha256("hello world"));
}

TEST(Firmware, OfferedDownloadsAreCountedPerDeviceAndJournaled) {
  ServerProcess s;
  createProduct(s);
  ASSERT_EQ(call(s, "POST", "/api/v1/devices", {{"id", "d1"}, {"productId", "p1"}}).status, 201);
  const auto image = content(10'000, 3);
  const auto f = upload(s, image);
  const auto id = f["id"].get<std::string>();
  auto offer = call(s, "POST", "/api/v1/firmware/" + id + "/offers", {{"deviceId", "d1"}, {"jobId", "job-7"}});
  ASSERT_EQ(offer.status, 201) << offer.body.dump();
  const auto url = offer.body["urls"]["http"].get<std::string>();
  const auto path = url.substr(url.find("/ota/"));
  EXPECT_EQ(call(s, "POST", "/api/v1/firmware/" + id + "/offers", {{"deviceId", "nobody"}}).status, 404);

  auto first = request(s.httpPort(), "GET", path, {"Range: bytes=0-3999"});
  EXPECT_EQ(first.status, 206);
  auto rest = request(s.httpPort(), "GET", path, {"Range: bytes=4000-"});
  EXPECT_EQ(rest.status, 206);
  EXPECT_TRUE(first.body + rest.body == image);
  EXPECT_EQ(request(s.httpPort(), "HEAD", path).status, 200);
  EXPECT_EQ(request(s.httpPort(), "GET", "/ota/firmware/" + id).status, 200);  // anonymous

  auto downloads = call(s, "GET", "/api/v1/firmware/" + id + "/downloads");
  ASSERT_EQ(downloads.status, 200);
  json device, anonymous;
  for (const auto& item : downloads.body["items"]) (item["deviceId"].is_null() ? anonymous : device) = item;
  EXPECT_EQ(device["deviceId"], "d1");
  EXPECT_EQ(device["jobId"], "job-7");
  EXPECT_EQ(device["requests"], 3);
  EXPECT_EQ(device["bytesServed"], 10'000);
  EXPECT_EQ(device["ranges"], 2);
  EXPECT_EQ(device["resumed"], 1);
  EXPECT_EQ(device["completed"], 1);
  EXPECT_EQ(anonymous["requests"], 1);
  EXPECT_EQ(anonymous["completed"], 1);

  auto journal = call(s, "GET", "/api/v1/devices/d1/journal");
  ASSERT_EQ(journal.status, 200);
  std::vector<std::string> lines;
  for (const auto& e : journal.body["items"])
    if (e["summary"].get<std::string>().find("firmware " + id) != std::string::npos) lines.push_back(e["summary"]);
  ASSERT_EQ(lines.size(), 3u) << journal.body.dump();  // one per request, not per chunk
  EXPECT_NE(lines[0].find("206, 4000 of 4000 bytes sent"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("206, 6000 of 6000 bytes sent"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("HEAD"), std::string::npos) << lines[2];
}

TEST(Firmware, AClientThatDisconnectsMidUploadLeavesNothingAndTheServerStaysUp) {
  ServerOptions o;
  o.fileDb = true;
  ServerProcess s(o);
  createProduct(s);
  for (int i = 0; i < 3; ++i) {
    RawConnection conn(s.httpPort());
    conn.send(
        bytes("POST /api/v1/firmware?productId=p1&version=1&name=a HTTP/1.1\r\nHost: x\r\n"
              "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n" +
              std::string(50'000, 'z')));
  }  // closed with most of the body missing
  EXPECT_EQ(call(s, "GET", "/healthz").status, 200);
  EXPECT_EQ(call(s, "GET", "/api/v1/firmware").body["total"], 0);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!firmwareFiles(s.dataDir()).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(firmwareFiles(s.dataDir()).empty());
}

TEST(Firmware, SigkillMidUploadLeavesNothingAndARestartKeepsTheStoredFirmware) {
  TempDir dir;
  ServerOptions o;
  o.fileDb = true;
  ServerProcess s(o, dir.path());
  createProduct(s);
  const auto image = content(200'000, 5);
  const auto kept = upload(s, image);
  const auto id = kept["id"].get<std::string>();

  RawConnection conn(s.httpPort());
  conn.send(
      bytes("POST /api/v1/firmware?productId=p1&version=2&name=b HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n" +
            std::string(100'000, 'k')));
  // Wait until the half-written upload is on disk, then kill.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (firmwareFiles(dir.path()).size() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(firmwareFiles(dir.path()).size(), 2u);
  s.kill();
  s.start();

  EXPECT_EQ(firmwareFiles(dir.path()), std::vector<std::string>{kept["sha256"].get<std::string>()});
  auto list = call(s, "GET", "/api/v1/firmware");
  ASSERT_EQ(list.body["total"], 1);
  EXPECT_EQ(list.body["items"][0]["id"], id);
  EXPECT_EQ(list.body["items"][0]["createdAt"], kept["createdAt"]);
  auto r = request(s.httpPort(), "GET", "/ota/firmware/" + id, {"Range: bytes=199990-"});
  EXPECT_EQ(r.status, 206);
  EXPECT_TRUE(r.body == image.substr(199'990));
  EXPECT_EQ(r.headers["etag"], "\"" + kept["sha256"].get<std::string>() + "\"");
}

TEST(Firmware, InMemoryDatabaseKeepsImagesInATemporaryDirectoryRemovedAtExit) {
  ServerProcess s;  // --db :memory:
  createProduct(s);
  upload(s, "temporary");
  EXPECT_FALSE(fs::exists(fs::path(s.dataDir()) / "firmware"));
  const auto log = s.log();
  const auto at = log.find("(temporary, removed at exit)");
  ASSERT_NE(at, std::string::npos) << log;
  const auto start = log.rfind(" in ", at) + 4;
  const fs::path tempDir = log.substr(start, at - start - 1);
  EXPECT_TRUE(fs::exists(tempDir)) << tempDir;
  EXPECT_EQ(s.stop(), 0);
  EXPECT_FALSE(fs::exists(tempDir)) << tempDir;
}

}  // namespace
}  // namespace fc::test
