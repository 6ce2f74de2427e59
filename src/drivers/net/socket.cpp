#include "drivers/net/socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace kp::drivers::net {
namespace {

timeval to_timeval(Duration duration) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
  return timeval{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
}

Duration from_timeval(const timeval& tv) {
  return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

int poll_timeout_ms(Duration timeout) {
  if (timeout <= Duration::zero()) {
    return 0;
  }
  // Round up, so a wait never returns before its deadline only to spin.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  return ms > 1'000'000 ? 1'000'000 : static_cast<int>(ms);
}

// A node booted with ipv6.disable=1 has no AF_INET6 sockets at all.
bool ipv6_available() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  ::close(fd);
  return true;
}

// Dual-stack whatever net.ipv6.bindv6only says: a listener on :: then takes IPv4 peers too (as
// ::ffff:a.b.c.d).
void accept_both_families(int fd, const SocketAddress& address) {
  if (address.family() == AF_INET6) {
    const int zero = 0;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
}

Result<SocketAddress> resolve_with(std::string_view host_port, bool passive) {
  Result<std::pair<std::string, std::uint16_t>> parts = split_host_port(host_port);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  std::string host = parts->first;
  if (passive && host.empty()) {
    // No address: every address of both families where the kernel has IPv6 (an IPv6-only cluster's pod IP
    // is IPv6; listen_tcp/bind_udp make the socket dual-stack, so IPv4 peers still reach it), else IPv4.
    host = ipv6_available() ? "::" : "0.0.0.0";
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(parts->second);
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return fail(ErrorKind::network, fmt::format("cannot resolve \"{}\": {}", host,
                                                rc == EAI_SYSTEM ? error_text(errno) : gai_strerror(rc)));
  }
  SocketAddress address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  freeaddrinfo(found);
  return address;
}

}  // namespace

std::uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

std::string to_string(const SocketAddress& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&address.storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return fmt::format("{}:{}", text, address.port());
  }
  if (address.family() == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return fmt::format("[{}]:{}", text, address.port());
  }
  return "?";
}

Result<std::pair<std::string, std::uint16_t>> split_host_port(std::string_view text) {
  auto malformed = [&] {
    return fail(ErrorKind::usage, fmt::format("\"{}\": expected host:port or [ipv6]:port", text));
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return malformed();
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return malformed();
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
    return fail(ErrorKind::usage, fmt::format("\"{}\": the port must be a number within 0..65535", text));
  }
  return std::pair<std::string, std::uint16_t>{std::string(host), static_cast<std::uint16_t>(value)};
}

Result<SocketAddress> resolve(std::string_view host_port) {
  Result<std::pair<std::string, std::uint16_t>> parts = split_host_port(host_port);
  if (!parts) {
    return std::unexpected(parts.error());
  }
  if (parts->first.empty()) {
    return fail(ErrorKind::usage, fmt::format("\"{}\": the host is missing", host_port));
  }
  return resolve_with(host_port, false);
}

Result<SocketAddress> resolve_listen(std::string_view host_port) {
  return resolve_with(host_port, true);
}

Result<Fd> connect_tcp(const SocketAddress& address, Duration timeout) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) {
    return fail(ErrorKind::io, fmt::format("socket(): {}", error_text(errno)));
  }
  const std::string where = to_string(address);
  if (::connect(fd.get(), address.get(), address.length) != 0) {
    if (errno != EINPROGRESS) {
      return fail(ErrorKind::network, fmt::format("cannot connect to {}: {}", where, error_text(errno)));
    }
    pollfd pfd{fd.get(), POLLOUT, 0};
    const int ready = ::poll(&pfd, 1, poll_timeout_ms(timeout));
    if (ready == 0) {
      return fail(ErrorKind::network,
                  fmt::format("cannot connect to {}: no answer within {}", where, format_duration(timeout)));
    }
    int error = 0;
    socklen_t length = sizeof error;
    if (ready < 0) {
      error = errno;
    } else if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) {
      error = errno;
    }
    if (error != 0) {
      return fail(ErrorKind::network, fmt::format("cannot connect to {}: {}", where, error_text(error)));
    }
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

Result<Fd> listen_tcp(const SocketAddress& address, int backlog) {
  Fd fd(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return fail(ErrorKind::io, fmt::format("socket(): {}", error_text(errno)));
  }
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  accept_both_families(fd.get(), address);
  if (::bind(fd.get(), address.get(), address.length) != 0) {
    return fail(ErrorKind::network,
                fmt::format("cannot listen on {}: {}", to_string(address), error_text(errno)));
  }
  if (::listen(fd.get(), backlog) != 0) {
    return fail(ErrorKind::network,
                fmt::format("cannot listen on {}: {}", to_string(address), error_text(errno)));
  }
  return fd;
}

Result<Fd> bind_udp(const SocketAddress& address) {
  Fd fd(::socket(address.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return fail(ErrorKind::io, fmt::format("socket(): {}", error_text(errno)));
  }
  accept_both_families(fd.get(), address);
  if (::bind(fd.get(), address.get(), address.length) != 0) {
    return fail(ErrorKind::network,
                fmt::format("cannot bind UDP {}: {}", to_string(address), error_text(errno)));
  }
  return fd;
}

Result<SocketAddress> local_address(int fd) {
  SocketAddress address;
  address.length = sizeof address.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage), &address.length) != 0) {
    return fail(ErrorKind::io, fmt::format("getsockname(): {}", error_text(errno)));
  }
  return address;
}

void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void set_timeouts(int fd, Duration receive, Duration send) {
  const timeval rcv = to_timeval(receive);
  const timeval snd = to_timeval(send);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
}

bool wait_readable(int fd, Duration timeout) {
  pollfd pfd{fd, POLLIN, 0};
  return ::poll(&pfd, 1, poll_timeout_ms(timeout)) > 0;
}

TcpCounters read_tcp_counters(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) {
    return {};
  }
  TcpCounters counters;
  counters.retransmits = info.tcpi_total_retrans;
  counters.rtt_us = info.tcpi_rtt;
  // Older kernels return a shorter struct; bytes_acked is then absent (reported as 0).
  if (length >= offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked) {
    counters.bytes_acked = info.tcpi_bytes_acked;
  }
  return counters;
}

CpuTimes process_cpu_times() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return CpuTimes{from_timeval(usage.ru_utime), from_timeval(usage.ru_stime)};
}

void use_precise_timers_on_this_thread() {
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
}

bool use_realtime_scheduling_on_this_thread() {
  sched_param param{};
  param.sched_priority = sched_get_priority_min(SCHED_FIFO);
  return ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param) == 0;
}

std::string error_text(int error_number) {
  char buffer[128] = {};
  // The GNU strerror_r returns the text (possibly not in buffer).
  return ::strerror_r(error_number, buffer, sizeof buffer);
}

}  // namespace kp::drivers::net
