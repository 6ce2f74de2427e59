#include "lab/dns_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "core/clock.hpp"

namespace kp::lab {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

Result<std::vector<std::uint8_t>> build_query(std::string_view name, std::uint16_t id) {
  std::vector<std::uint8_t> packet = {static_cast<std::uint8_t>(id >> 8),
                                      static_cast<std::uint8_t>(id & 0xff),
                                      0x01,
                                      0x00,
                                      0x00,
                                      0x01,
                                      0x00,
                                      0x00,
                                      0x00,
                                      0x00,
                                      0x00,
                                      0x00};
  std::size_t start = 0;
  while (start < name.size()) {
    std::size_t dot = name.find('.', start);
    std::size_t end = dot == std::string_view::npos ? name.size() : dot;
    if (end == start || end - start > 63) {
      return fail(ErrorKind::internal, fmt::format("dns probe: bad name \"{}\"", name));
    }
    packet.push_back(static_cast<std::uint8_t>(end - start));
    packet.insert(packet.end(), name.begin() + static_cast<std::ptrdiff_t>(start),
                  name.begin() + static_cast<std::ptrdiff_t>(end));
    start = end + 1;
  }
  packet.insert(packet.end(), {0x00, 0x00, 0x01, 0x00, 0x01});  // root, QTYPE A, QCLASS IN
  return packet;
}

}  // namespace

Result<ProbeAnswer> probe_dns(std::string_view host, std::uint16_t port, std::string_view name,
                              Duration timeout) {
  const std::string where = fmt::format("DNS probe {}:{} ({} A)", host, port, name);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  if (inet_pton(AF_INET, std::string(host).c_str(), &address.sin_addr) != 1) {
    return fail(ErrorKind::internal, fmt::format("{}: not an IPv4 address", where));
  }
  Socket socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (socket.fd() < 0) {
    return fail(ErrorKind::network, fmt::format("{}: socket: {}", where, std::strerror(errno)));
  }
  if (::connect(socket.fd(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", where, std::strerror(errno)));
  }
  const auto id = static_cast<std::uint16_t>(std::random_device{}() & 0xffff);
  Result<std::vector<std::uint8_t>> query = build_query(name, id);
  if (!query) {
    return std::unexpected(query.error());
  }
  if (::send(socket.fd(), query->data(), query->size(), 0) < 0) {
    return fail(ErrorKind::network, fmt::format("{}: send: {}", where, std::strerror(errno)));
  }
  Clock& clock = real_clock();
  const TimePoint deadline = clock.now() + timeout;
  std::array<std::uint8_t, 4096> buffer{};
  while (true) {
    const Duration left = deadline - clock.now();
    if (left <= Duration::zero()) {
      return fail(ErrorKind::timeout,
                  fmt::format("{}: no answer within {}", where, format_duration(timeout)));
    }
    pollfd pfd{socket.fd(), POLLIN, 0};
    const int ready =
        ::poll(&pfd, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count()));
    if (ready < 0 && errno == EINTR) {
      continue;
    }
    if (ready <= 0) {
      continue;  // the deadline check above ends the wait
    }
    const ssize_t got = ::recv(socket.fd(), buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      // ECONNREFUSED: ICMP port unreachable, nothing listens there.
      return fail(ErrorKind::network, fmt::format("{}: {}", where, std::strerror(errno)));
    }
    if (got < 12 || buffer[0] != query->at(0) || buffer[1] != query->at(1) || (buffer[2] & 0x80) == 0) {
      continue;  // not our answer; keep waiting until the deadline
    }
    return ProbeAnswer{.rcode = buffer[3] & 0x0f, .answers = (buffer[6] << 8) | buffer[7]};
  }
}

}  // namespace kp::lab
