#pragma once

// Small HTTP/1.1 servers for the integration tests, each on a free 127.0.0.1 port with a thread per
// connection: a server whose behaviour per request is a function of the request path, used for stalls and for
// malformed responses that no real server would send.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kp::drivers::ingress::testing {

// What to do with one request: the bytes to send, then whether to close the connection.
struct Reply {
  std::string bytes;
  bool close = false;
};

class TestServer {
 public:
  // `handler` runs on the connection's thread for every request (by its path); it may block (a stall).
  explicit TestServer(std::function<Reply(const std::string& path)> handler);
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path) const;
  std::uint64_t requests() const { return requests_.load(); }

 private:
  void accept_loop();
  void serve(int fd);

  std::function<Reply(const std::string&)> handler_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> requests_{0};
  std::mutex mutex_;
  std::vector<int> clients_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// "HTTP/1.1 200 OK" with a Content-Length body.
std::string ok_response(const std::string& body = "ok");

// A free TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
std::uint16_t dead_port();

}  // namespace kp::drivers::ingress::testing
