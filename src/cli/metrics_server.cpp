#include "cli/metrics_server.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <system_error>

namespace kp::cli {
namespace {

constexpr std::size_t kMaxRequest = 8192;
constexpr int kClientTimeoutMs = 1000;
constexpr std::string_view kLoopback = "127.0.0.1";

Result<std::pair<std::string, std::uint16_t>> split_listen(std::string_view listen) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorKind::usage, fmt::format("--metrics-listen: {}, got \"{}\"", why, listen));
  };
  // A port alone, or ":PORT", binds loopback: /metrics shows the cluster's figures and the run's plan, so
  // other hosts see it only when the address says so ("0.0.0.0:9464", "[::]:9464"; warned about).
  const std::size_t colon = listen.rfind(':');
  std::string_view host = colon == std::string_view::npos ? std::string_view() : listen.substr(0, colon);
  const std::string_view port_text = colon == std::string_view::npos ? listen : listen.substr(colon + 1);
  if (host.empty()) {
    host = kLoopback;
  } else if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
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

bool is_loopback(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return (ntohl(reinterpret_cast<const sockaddr_in&>(address).sin_addr.s_addr) >> 24) == 127;
  }
  if (address.ss_family == AF_INET6) {
    const in6_addr& v6 = reinterpret_cast<const sockaddr_in6&>(address).sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
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

Result<void> MetricsServer::check_listen(std::string_view listen) {
  Result<std::pair<std::string, std::uint16_t>> parts = split_listen(listen);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  return {};
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(std::string_view listen, Render render,
                                                            Clock& clock) {
  Result<std::pair<std::string, std::uint16_t>> parts = split_listen(listen);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  const auto& [host, port] = *parts;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  const std::string port_text = std::to_string(port);
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &found);
  if (rc != 0) {
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
    const int off = 0;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (address->ai_family == AF_INET6 &&
        IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(address->ai_addr)->sin6_addr)) {
      // "[::]" means every address: IPv4 too, whatever net.ipv6.bindv6only says.
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
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
      new MetricsServer(fd, stop, bound_port, host, std::move(render), clock));
  server->loopback_ = is_loopback(bound);
  try {
    server->thread_ = std::thread([raw = server.get()] { raw->serve(); });
  } catch (const std::system_error& error) {
    return fail(ErrorKind::internal,
                fmt::format("--metrics-listen: cannot start its thread: {}", error.what()));
  }
  return server;
}

MetricsServer::MetricsServer(int listen_fd, int stop_fd, std::uint16_t port, std::string host, Render render,
                             Clock& clock)
    : listen_fd_(listen_fd),
      stop_fd_(stop_fd),
      port_(port),
      host_(std::move(host)),
      render_(std::move(render)),
      clock_(clock) {}

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

bool MetricsServer::wait_for_scrape(std::uint64_t after, Duration linger, engine::CancellationToken& cancel) {
  const TimePoint deadline = clock_.now() + linger;
  while (scrapes() <= after) {
    const TimePoint now = clock_.now();
    if (now >= deadline) {
      return false;
    }
    // The scrape counter is checked every 50 ms; cancellation (Ctrl-C) ends the wait at once.
    if (cancel.wait_until(clock_, std::min<TimePoint>(deadline, now + std::chrono::milliseconds(50)))) {
      return false;
    }
  }
  return true;
}

void MetricsServer::serve() {
  std::array<pollfd, 2> fds{pollfd{listen_fd_, POLLIN, 0}, pollfd{stop_fd_, POLLIN, 0}};
  int backoff_ms = -1;  // after a failed accept (EMFILE: the run holds many sockets), wait before the next
  for (;;) {
    const int ready = ::poll(fds.data(), fds.size(), backoff_ms);
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready < 0 || (fds[1].revents & POLLIN) != 0 || (fds[0].revents & (POLLERR | POLLNVAL)) != 0) {
      return;
    }
    if (backoff_ms >= 0) {
      backoff_ms = -1;  // the pause is over: listen again
      fds[0].events = POLLIN;
      continue;
    }
    if ((fds[0].revents & POLLIN) == 0) {
      continue;
    }
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
        backoff_ms = 100;  // still readable: without a pause this loop would spin
        fds[0].events = 0;
      }
      continue;
    }
    const timeval timeout{kClientTimeoutMs / 1000, 0};
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    try {
      answer(client);
    } catch (...) {
      // Exceptions stay on this thread: the scrape fails, the run goes on.
    }
    ::close(client);
  }
}

void MetricsServer::answer(int fd) {
  std::string request;
  std::array<char, 2048> buffer{};
  // One deadline for the whole request: a client trickling a byte at a time cannot keep the thread.
  const TimePoint deadline = clock_.now() + std::chrono::milliseconds(kClientTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now()).count();
    pollfd readable{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&readable, 1, static_cast<int>(left)) <= 0) {
      break;  // silent past the deadline: answer what arrived, if it is a request line
    }
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
      continue;
    }
    if (got <= 0) {
      break;
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
    scrapes_.fetch_add(1, std::memory_order_release);
  } else if (path == "/") {
    send_all(fd, response("200 OK", "text/plain", "kubeproof live metrics: GET /metrics\n"));
  } else {
    send_all(fd, response("404 Not Found", "text/plain", "not found; the metrics are at /metrics\n"));
  }
}

}  // namespace kp::cli
