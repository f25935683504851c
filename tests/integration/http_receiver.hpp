// Test support: a small HTTP/1.1 server on 127.0.0.1 that records what is POSTed to it — the far
// end of webhooks (command callbackUrl, OceanConnect subscriptions) in integration tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fc::test {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class HttpReceiver {
 public:
  /// Listens on an ephemeral loopback port at once.
  HttpReceiver();
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/") const;

  /// The statuses of the next answers, in order; when they run out, 200.
  void answerWith(std::vector<int> statuses);
  /// Waits until `n` requests have arrived (or the timeout passed) and returns all received so far.
  std::vector<ReceivedRequest> waitFor(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<ReceivedRequest> received() const;

 private:
  void serve();
  void handle(int fd);

  int listenFd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<ReceivedRequest> requests_;
  std::deque<int> statuses_;
  bool stopping_ = false;
};

}  // namespace fc::test
