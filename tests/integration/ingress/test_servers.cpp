#include "test_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

namespace kp::drivers::ingress::testing {

TestServer::TestServer(std::function<Reply(const std::string& path)> handler) : handler_(std::move(handler)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::listen(listener_, 512);
  socklen_t length = sizeof address;
  getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestServer::~TestServer() {
  stopping_ = true;
  ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
  acceptor_.join();
  ::close(listener_);
  {
    std::lock_guard lock(mutex_);
    for (int fd : clients_) {
      ::shutdown(fd, SHUT_RDWR);  // wakes the connection threads' recv()
    }
  }
  for (std::thread& thread : threads_) {
    thread.join();
  }
  for (int fd : clients_) {
    ::close(fd);
  }
}

std::string TestServer::url(const std::string& path) const {
  return fmt::format("http://127.0.0.1:{}{}", port_, path);
}

void TestServer::accept_loop() {
  while (!stopping_) {
    int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (stopping_) {
        return;
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mutex_);
    clients_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void TestServer::serve(int fd) {
  std::string pending;
  char buffer[4096];
  while (!stopping_) {
    std::size_t end = pending.find("\r\n\r\n");
    if (end == std::string::npos) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        break;
      }
      pending.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    std::string head = pending.substr(0, end);
    pending.erase(0, end + 4);
    std::size_t first_space = head.find(' ');
    std::size_t second_space = head.find(' ', first_space + 1);
    std::string path = head.substr(first_space + 1, second_space - first_space - 1);
    ++requests_;
    Reply reply = handler_(path);
    std::size_t sent = 0;
    while (sent < reply.bytes.size()) {
      ssize_t n = ::send(fd, reply.bytes.data() + sent, reply.bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
    if (reply.close) {
      break;
    }
  }
  // Leave the fd open until the destructor (it is in clients_): closing it here could let a later accept
  // reuse the number while the destructor shuts it down.
  ::shutdown(fd, SHUT_RDWR);
}

std::string ok_response(const std::string& body) {
  return fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}", body.size(), body);
}

std::uint16_t dead_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);  // bound but never listening, then released: connects are refused
  return ntohs(address.sin_port);
}

}  // namespace kp::drivers::ingress::testing
