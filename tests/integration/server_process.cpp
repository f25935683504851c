// Test support: fork/exec of the fakecloud binary, ports file, raw sockets, tiny HTTP client.
#include "tests/integration/server_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fc::test {
namespace fs = std::filesystem;

std::string fakecloudBinary() {
  if (const char* fromEnv = std::getenv("FAKECLOUD_BINARY"); fromEnv && *fromEnv) return fromEnv;
  std::error_code error;
  for (auto dir = fs::read_symlink("/proc/self/exe", error).parent_path(); !error && dir.has_relative_path();
       dir = dir.parent_path()) {
    if (fs::exists(dir / "CMakeCache.txt")) return (dir / "server" / "fakecloud").string();
  }
  throw std::runtime_error("fakecloud binary not found: set FAKECLOUD_BINARY or run from the build tree");
}

ServerProcess::ServerProcess(ServerOptions options, std::string dataDir) : options_(std::move(options)) {
  if (dataDir.empty()) {
    ownDir_.emplace();
    dataDir_ = ownDir_->path();
  } else {
    dataDir_ = std::move(dataDir);
  }
  start();
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop();
}

void ServerProcess::start() {
  const auto portsFile = dataDir_ + "/ports.json";
  std::error_code ignored;
  fs::remove(portsFile, ignored);
  std::vector<std::string> args{fakecloudBinary(), "--data-dir",   dataDir_,    "--mqtt-port", "0",
                                "--mqtts-port",   "0",            "--mqtts-mtls-port", "0",    "--http-port", "0",
                                "--https-port",   "0",            "--coap-port",  "0",          "--coaps-port", "0",
                                "--ports-file",   portsFile,      "--log-level", "debug"};
  if (!options_.fileDb) {
    args.push_back("--db");
    args.push_back(":memory:");
  }
  if (!options_.configJson.empty()) {
    const auto config = dataDir_ + "/config.json";
    std::ofstream(config) << options_.configJson;
    args.push_back("--config");
    args.push_back(config);
  }
  args.insert(args.end(), options_.args.begin(), options_.args.end());

  const auto logFile = dataDir_ + "/server.log";
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int fd = open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    for (const auto& e : options_.env) putenv(const_cast<char*>(e.c_str()));
    if (options_.openFilesHard > 0) {
      const rlimit limit{options_.openFilesSoft ? options_.openFilesSoft : options_.openFilesHard,
                         options_.openFilesHard};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }

  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("fakecloud exited during start-up:\n" + log());
    }
    if (fs::exists(portsFile)) {
      const auto ports = nlohmann::json::parse(std::ifstream(portsFile));
      mqtt_ = ports.at("mqtt").get<std::uint16_t>();
      mqtts_ = ports.at("mqtts").get<std::uint16_t>();
      mqttsMtls_ = ports.value("mqttsMtls", std::uint16_t{0});
      http_ = ports.at("http").get<std::uint16_t>();
      https_ = ports.at("https").get<std::uint16_t>();
      coap_ = ports.at("coap").get<std::uint16_t>();
      coaps_ = ports.at("coaps").get<std::uint16_t>();
      return;
    }
    std::this_thread::sleep_for(20ms);
  }
  kill();
  throw std::runtime_error("fakecloud did not write its ports file within 20 s:\n" + log());
}

int ServerProcess::waitExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1000;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return -WTERMSIG(status);
      return -999;
    }
    std::this_thread::sleep_for(10ms);
  }
  return -1000;
}

int ServerProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1000;
  ::kill(pid_, SIGTERM);
  const int code = waitExit(timeout);
  if (code == -1000) kill();
  return code;
}

void ServerProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string ServerProcess::log() const {
  std::ifstream in(dataDir_ + "/server.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

client::MqttOptions ServerProcess::mqtt(std::string clientId, bool cleanSession) const {
  client::MqttOptions o;
  o.host = "127.0.0.1";
  o.port = mqtt_;
  o.clientId = std::move(clientId);
  o.cleanSession = cleanSession;
  o.connectTimeout = 5s;
  return o;
}

client::MqttOptions ServerProcess::mqtts(std::string clientId) const {
  auto o = mqtt(std::move(clientId));
  o.port = mqtts_;
  o.tls = client::TlsOptions{caFile(), "", "", "localhost", true};
  return o;
}

client::MqttOptions ServerProcess::mqttsMtls(std::string clientId) const {
  auto o = mqtts(std::move(clientId));
  o.port = mqttsMtls_;
  return o;
}

client::CoapOptions ServerProcess::coap() const {
  client::CoapOptions o;
  o.host = "127.0.0.1";
  o.port = coap_;
  o.transmission.ackTimeout = std::chrono::milliseconds(500);
  return o;
}

client::CoapOptions ServerProcess::coaps(client::CoapDtlsOptions dtls) const {
  client::CoapOptions o = coap();
  o.port = coaps_;
  o.dtls = std::move(dtls);
  return o;
}

// --- RawConnection ---

RawConnection::RawConnection(std::uint16_t port) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw std::runtime_error("raw connect to port " + std::to_string(port) + " failed");
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() {
  if (fd_ >= 0) close(fd_);
}

bool RawConnection::send(const std::vector<std::uint8_t>& b) {
  std::size_t sent = 0;
  while (sent < b.size()) {
    const auto n = ::send(fd_, b.data() + sent, b.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

std::vector<std::uint8_t> RawConnection::receive(std::chrono::milliseconds timeout, std::size_t max) {
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return {};
  std::vector<std::uint8_t> buf(max);
  const auto n = recv(fd_, buf.data(), buf.size(), 0);
  if (n <= 0) return {};
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

std::vector<std::uint8_t> RawConnection::receiveExactly(std::size_t n, std::chrono::milliseconds timeout) {
  std::vector<std::uint8_t> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto chunk = receive(left, n - out.size());
    if (chunk.empty()) break;
    out.insert(out.end(), chunk.begin(), chunk.end());
  }
  return out;
}

bool RawConnection::closedByPeer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
    char buf[4096];
    const auto n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;  // EOF or reset; data before it is discarded
  }
  return false;
}

HttpResult httpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body) {
  return httpRequest(port, method, target, body, {});
}

HttpResult httpRequest(std::uint16_t port, const std::string& method, const std::string& target,
                       const std::string& body, const std::vector<std::string>& headers,
                       const std::string& contentType) {
  RawConnection conn(port);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Type: " + contentType + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  conn.send(bytes(req));
  std::string response;
  while (true) {
    auto chunk = conn.receive(5s);
    if (chunk.empty()) break;
    response += text(chunk);
  }
  HttpResult r;
  if (response.size() > 12) r.status = std::atoi(response.substr(9, 3).c_str());
  if (auto sep = response.find("\r\n\r\n"); sep != std::string::npos) r.body = response.substr(sep + 4);
  return r;
}

JsonReply call(const ServerProcess& server, const std::string& method, const std::string& target,
               const nlohmann::json& body) {
  auto r = httpRequest(server.httpPort(), method, target, body.is_null() ? std::string{} : body.dump());
  return {r.status, nlohmann::json::parse(r.body, nullptr, false)};
}

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

}  // namespace fc::test
