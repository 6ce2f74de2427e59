#include "lab/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace kp::lab {
namespace {

// An owned socket, closed on scope exit.
class Socket {
 public:
  Socket() : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
  ~Socket() {
    if (fd_ >= 0) {
      close(fd_);
    }
  }
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  Socket& operator=(Socket&&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

}  // namespace

Result<std::vector<std::uint16_t>> choose_free_ports(std::size_t count) {
  std::vector<Socket> held;
  std::vector<std::uint16_t> ports;
  for (std::size_t i = 0; i < count; ++i) {
    Socket socket;
    if (socket.fd() < 0) {
      return fail(ErrorKind::io, fmt::format("socket: {}", std::strerror(errno)));
    }
    sockaddr_in address = loopback(0);
    if (bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      return fail(ErrorKind::io, fmt::format("cannot bind 127.0.0.1:0: {}", std::strerror(errno)));
    }
    socklen_t length = sizeof address;
    if (getsockname(socket.fd(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return fail(ErrorKind::io, fmt::format("getsockname: {}", std::strerror(errno)));
    }
    ports.push_back(ntohs(address.sin_port));
    held.push_back(std::move(socket));
  }
  return ports;
}

bool port_is_free(std::uint16_t port) {
  Socket socket;
  if (socket.fd() < 0) {
    return false;
  }
  int one = 1;
  setsockopt(socket.fd(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address = loopback(port);
  return bind(socket.fd(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

}  // namespace kp::lab
