#include "cli/metrics_server.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>

namespace kp::cli {
namespace {

constexpr std::size_t kMaxRequest = 8192;
constexpr int kClientTimeoutMs = 1000;

Result<std::pair<std::string, std::uint16_t>> split_listen(std::string_view listen) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::usage, fmt::format("--metrics-listen: {}, got \"{}\"", why, listen));
  };
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return bad("expected HOST:PORT or :PORT");
  }
  std::string_view host = listen.substr(0, colon);
  const std::string_view port_text = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad("an IPv6 address goes in brackets, [::1]:9464");
  }
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return bad("the port must be a number from 0 to 65535");
  }
  return std::pair{std::string(host), static_cast<std::uint16_t>(port)};
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) {
      continue;
    }
    if (sent <= 0) {
      return;  // the scraper went away or stalled past SO_SNDTIMEO: nothing to do but close
    }
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
}

std::string response(std::string_view status, std::string_view content_type, std::string_view body) {
  return fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: "
      "no-store\r\n\r\n{}",
      status, content_type, body.size(), body);
}

}  // namespace

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(std::string_view listen, Render render) {
  Result<std::pair<std::string, std::uint16_t>> parts = split_listen(listen);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  const auto& [host, port] = *parts;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), port_text.c_str(), &hints, &found);
      rc != 0) {
    return fail(ErrorKind::usage,
                fmt::format("--metrics-listen: cannot use \"{}\": {}", listen, ::gai_strerror(rc)));
  }
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* address = found; address != nullptr && fd < 0; address = address->ai_next) {
    fd = ::socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, address->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (::bind(fd, address->ai_addr, address->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
      last_error = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    return fail(ErrorKind::usage,
                fmt::format("--metrics-listen: cannot listen on \"{}\": {}", listen, last_error));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  const std::uint16_t bound_port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  const int stop = ::eventfd(0, EFD_CLOEXEC);
  if (stop < 0) {
    ::close(fd);
    return fail(ErrorKind::internal, fmt::format("--metrics-listen: eventfd: {}", std::strerror(errno)));
  }
  std::unique_ptr<MetricsServer> server(
      new MetricsServer(fd, stop, bound_port, host.empty() ? "0.0.0.0" : host, std::move(render)));
  server->thread_ = std::thread([raw = server.get()] { raw->serve(); });
  return server;
}

MetricsServer::MetricsServer(int listen_fd, int stop_fd, std::uint16_t port, std::string host, Render render)
    : listen_fd_(listen_fd),
      stop_fd_(stop_fd),
      port_(port),
      host_(std::move(host)),
      render_(std::move(render)) {}

MetricsServer::~MetricsServer() {
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t written = ::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) {
    thread_.join();
  }
  ::close(listen_fd_);
  ::close(stop_fd_);
}

std::string MetricsServer::url() const {
  const bool v6 = host_.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/metrics", v6 ? "[" : "", host_, v6 ? "]" : "", port_);
}

void MetricsServer::serve() {
  std::array<pollfd, 2> fds{pollfd{listen_fd_, POLLIN, 0}, pollfd{stop_fd_, POLLIN, 0}};
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) {
      return;
    }
    if ((fds[0].revents & POLLIN) == 0) {
      continue;
    }
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    const timeval timeout{kClientTimeoutMs / 1000, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    answer(client);
    ::close(client);
  }
}

void MetricsServer::answer(int fd) {
  std::string request;
  std::array<char, 2048> buffer{};
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0) {
      break;  // closed, or silent past SO_RCVTIMEO: answer what arrived, if it is a request line
    }
    request.append(buffer.data(), static_cast<std::size_t>(got));
  }
  const std::size_t line_end = request.find("\r\n");
  if (line_end == std::string::npos) {
    send_all(fd, response("400 Bad Request", "text/plain", "bad request\n"));
    return;
  }
  const std::string_view line = std::string_view(request).substr(0, line_end);
  const std::size_t first_space = line.find(' ');
  const std::size_t second_space = line.find(' ', first_space + 1);
  if (first_space == std::string_view::npos || second_space == std::string_view::npos) {
    send_all(fd, response("400 Bad Request", "text/plain", "bad request\n"));
    return;
  }
  const std::string_view method = line.substr(0, first_space);
  std::string_view path = line.substr(first_space + 1, second_space - first_space - 1);
  path = path.substr(0, path.find('?'));
  if (method != "GET") {
    send_all(fd, response("405 Method Not Allowed", "text/plain", "only GET\n"));
  } else if (path == "/metrics") {
    std::string body;
    try {
      body = render_();
    } catch (const std::exception& exception) {
      // Exceptions stay on this thread: a scrape fails, the run goes on.
      send_all(fd,
               response("500 Internal Server Error", "text/plain", fmt::format("{}\n", exception.what())));
      return;
    }
    send_all(fd, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", body));
  } else if (path == "/") {
    send_all(fd, response("200 OK", "text/plain", "kubeproof live metrics: GET /metrics\n"));
  } else {
    send_all(fd, response("404 Not Found", "text/plain", "not found; the metrics are at /metrics\n"));
  }
}

}  // namespace kp::cli
