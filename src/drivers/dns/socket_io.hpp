#pragma once

// The real sockets of a DNS worker (worker_io.hpp's WorkerIo): one connected UDP socket per client, so the
// server's SO_REUSEPORT hash spreads clients over its threads, or one pipelined TCP connection per client,
// all in one epoll set. Datagrams go out with sendmmsg, runs of equal-sized ones as one UDP GSO message, and
// come back with recvmmsg, in batches. Also the small RAII helpers query_once.cpp shares.

#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <utility>

#include "core/units.hpp"

namespace kp::drivers::dns {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

timespec to_timespec(Duration duration);
std::string errno_text(int error);

}  // namespace kp::drivers::dns
