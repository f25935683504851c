// A blocking accept loop on its own thread; one request per connection (the server sends
// Connection: close), enough for webhook senders.
#include "tests/integration/http_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace fc::test {

HttpReceiver::HttpReceiver() {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 16) != 0)
    throw std::runtime_error("HttpReceiver: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpReceiver::~HttpReceiver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ::shutdown(listenFd_, SHUT_RDWR);
  thread_.join();
  ::close(listenFd_);
}

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void HttpReceiver::answerWith(std::vector<int> statuses) {
  std::lock_guard lock(mutex_);
  statuses_.assign(statuses.begin(), statuses.end());
}

std::vector<ReceivedRequest> HttpReceiver::waitFor(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  return requests_;
}

std::vector<ReceivedRequest> HttpReceiver::received() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

void HttpReceiver::serve() {
  for (;;) {
    pollfd p{listenFd_, POLLIN, 0};
    ::poll(&p, 1, 100);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    if (!(p.revents & POLLIN)) continue;
    const int fd = ::accept(listenFd_, nullptr, nullptr);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void HttpReceiver::handle(int fd) {
  std::string data;
  char buf[4096];
  std::size_t headerEnd = std::string::npos;
  std::size_t contentLength = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (headerEnd != std::string::npos && data.size() >= headerEnd + 4 + contentLength) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    data.append(buf, static_cast<std::size_t>(n));
    if (headerEnd == std::string::npos && (headerEnd = data.find("\r\n\r\n")) != std::string::npos) {
      const auto lower = [](std::string s) {
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        return s;
      };
      const auto head = lower(data.substr(0, headerEnd));
      if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos)
        contentLength = std::stoul(head.substr(at + 17));
    }
  }
  if (headerEnd == std::string::npos) return;
  ReceivedRequest r;
  const auto lineEnd = data.find("\r\n");
  const auto requestLine = data.substr(0, lineEnd);
  const auto sp1 = requestLine.find(' ');
  const auto sp2 = requestLine.find(' ', sp1 + 1);
  r.method = requestLine.substr(0, sp1);
  r.target = requestLine.substr(sp1 + 1, sp2 - sp1 - 1);
  for (std::size_t at = lineEnd + 2; at < headerEnd;) {
    const auto end = data.find("\r\n", at);
    const auto line = data.substr(at, std::min(end, headerEnd) - at);
    if (const auto colon = line.find(':'); colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    at = end + 2;
  }
  r.body = data.substr(headerEnd + 4, contentLength);
  int status = 200;
  {
    std::lock_guard lock(mutex_);
    if (!statuses_.empty()) {
      status = statuses_.front();
      statuses_.pop_front();
    }
    requests_.push_back(std::move(r));
  }
  arrived_.notify_all();
  const std::string answer = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
}

}  // namespace fc::test
