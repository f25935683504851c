#include "tests/client/mosquitto_broker.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>

namespace fc::client::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

fs::path makeTempDir(const char* prefix) {
  std::string templ = (fs::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) return {};
  // The broker drops root privileges to the "mosquitto" user and must still read its files.
  fs::permissions(templ, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                             fs::perms::others_read | fs::perms::others_exec);
  return templ;
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p);
  out << text;
}

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

struct CertStore {
  TestCerts certs;
  fs::path dir;

  CertStore() {
    dir = makeTempDir("fc-client-certs");
    if (dir.empty()) {
      certs.error = "cannot create a temporary directory for test certificates";
      return;
    }
    certs.caFile = dir / "ca.crt";
    certs.serverCert = dir / "server.crt";
    certs.serverKey = dir / "server.key";
    certs.clientCert = dir / "client.crt";
    certs.clientKey = dir / "client.key";
    certs.rogueCaFile = dir / "rogue-ca.crt";
    writeFile(dir / "server.ext",
              "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n");
    writeFile(dir / "client.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    const std::string d = dir.string();
    const std::string newKey = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string caExt = "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign";
    const std::string commands[] = {
        "openssl req -x509 " + newKey + " -keyout ca.key -out ca.crt -days 2 -subj '/CN=fakecloud test CA' " + caExt,
        "openssl req -x509 " + newKey + " -keyout rogue-ca.key -out rogue-ca.crt -days 2 -subj '/CN=rogue CA' " + caExt,
        "openssl req " + newKey + " -keyout server.key -out server.csr -subj '/CN=localhost'",
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
        "-extfile server.ext",
        "openssl req " + newKey + " -keyout client.key -out client.csr -subj '/CN=fc-test-device'",
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 "
        "-extfile client.ext",
        // openssl writes keys 0600; the broker runs as "mosquitto".
        "chmod 0644 *.key *.crt",
    };
    for (const auto& c : commands) {
      const std::string cmd = "cd '" + d + "' && " + c + " >>openssl.log 2>&1";
      if (std::system(cmd.c_str()) != 0) {
        certs.error = "certificate generation failed: `" + c + "`\n" + readFile(dir / "openssl.log");
        return;
      }
    }
  }

  ~CertStore() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};

}  // namespace

const TestCerts& testCerts() {
  static const CertStore store;
  return store.certs;
}

std::uint16_t freePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

MosquittoBroker::MosquittoBroker()
    : dir_(makeTempDir("fc-client-mosquitto")), port_(freePort()), tlsPort_(freePort()), mtlsPort_(freePort()) {}

MosquittoBroker::~MosquittoBroker() {
  stop();
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string MosquittoBroker::log() const { return readFile(dir_ / "mosquitto.log"); }

std::string MosquittoBroker::start(const TestCerts& certs) {
  if (dir_.empty()) return "cannot create a temporary directory for mosquitto";
  if (port_ == 0 || tlsPort_ == 0 || mtlsPort_ == 0) return "no free loopback port";
  if (!fs::exists(kMosquittoPath))
    return std::string(kMosquittoPath) + " not found: install Debian's mosquitto package (the client tests need a real broker)";
  stop();
  const auto tlsFiles = [&] {
    return "cafile " + certs.caFile.string() + "\ncertfile " + certs.serverCert.string() + "\nkeyfile " +
           certs.serverKey.string() + "\n";
  };
  std::ostringstream conf;
  conf << "per_listener_settings false\n"
       << "allow_anonymous true\n"
       << "persistence false\n"
       << "log_dest stderr\n"
       << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
       << "listener " << port_ << " 127.0.0.1\n"
       << "listener " << tlsPort_ << " 127.0.0.1\n"
       << tlsFiles()
       << "listener " << mtlsPort_ << " 127.0.0.1\n"
       << tlsFiles() << "require_certificate true\n";
  const auto confPath = dir_ / "mosquitto.conf";
  writeFile(confPath, conf.str());
  fs::permissions(confPath, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                fs::perms::others_read);

  const std::string logPath = (dir_ / "mosquitto.log").string();
  const std::string confStr = confPath.string();
  const pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    const int fd = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execl(kMosquittoPath, "mosquitto", "-c", confStr.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return "mosquitto exited at start-up (status " + std::to_string(status) + "):\n" + log();
    }
    if (accepts(port_) && accepts(tlsPort_) && accepts(mtlsPort_)) return {};
    std::this_thread::sleep_for(20ms);
  }
  stop();
  return "mosquitto did not accept connections within 10 s:\n" + log();
}

void MosquittoBroker::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace fc::client::test
