// One query outside the load, for the probe before a run and for tests: UDP, then TCP when the answer is
// truncated (or when asked for TCP).

#include <poll.h>

#include <array>
#include <cerrno>

#include <fmt/format.h>

#include "drivers/dns/load_engine.hpp"
#include "drivers/dns/socket_io.hpp"

namespace kp::drivers::dns {
namespace {

// Waits for a readable socket or the deadline; for query_once.
Result<void> wait_for(int fd, short events, TimePoint deadline, Clock& clock, std::string_view what) {
  while (true) {
    const Duration left = deadline - clock.now();
    if (left <= Duration::zero()) {
      return fail(ErrorKind::timeout, fmt::format("{}: no answer in time", what));
    }
    pollfd pfd{fd, events, 0};
    const timespec timeout = to_timespec(left);
    const int ready = ::ppoll(&pfd, 1, &timeout, nullptr);
    if (ready > 0) {
      return {};
    }
    if (ready < 0 && errno != EINTR) {
      return fail(ErrorKind::network, fmt::format("{}: poll: {}", what, errno_text(errno)));
    }
  }
}

Result<std::vector<std::uint8_t>> exchange_tcp(const ServerAddress& server, std::vector<std::uint8_t> packet,
                                               TimePoint deadline, Clock& clock) {
  const std::string what = fmt::format("TCP {}", server.text);
  Fd fd(::socket(server.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return fail(ErrorKind::network, fmt::format("{}: socket: {}", what, errno_text(errno)));
  }
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.address), server.length) != 0 &&
      errno != EINPROGRESS) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", what, errno_text(errno)));
  }
  if (Result<void> ready = wait_for(fd.get(), POLLOUT, deadline, clock, what); !ready) {
    return std::unexpected(ready.error());
  }
  int error = 0;
  socklen_t length = sizeof error;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  if (error != 0) {
    return fail(ErrorKind::network, fmt::format("{}: connect: {}", what, errno_text(error)));
  }
  std::vector<std::uint8_t> framed = {static_cast<std::uint8_t>(packet.size() >> 8),
                                      static_cast<std::uint8_t>(packet.size() & 0xff)};
  framed.insert(framed.end(), packet.begin(), packet.end());
  std::size_t written = 0;
  while (written < framed.size()) {
    ssize_t n = ::send(fd.get(), framed.data() + written, framed.size() - written, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (Result<void> ready = wait_for(fd.get(), POLLOUT, deadline, clock, what); !ready) {
        return std::unexpected(ready.error());
      }
      continue;
    }
    if (n <= 0) {
      return fail(ErrorKind::network, fmt::format("{}: send: {}", what, errno_text(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  std::vector<std::uint8_t> in;
  while (true) {
    if (in.size() >= 2 && in.size() - 2 >= read_u16(in.data())) {
      return std::vector<std::uint8_t>(in.begin() + 2, in.begin() + 2 + read_u16(in.data()));
    }
    if (Result<void> ready = wait_for(fd.get(), POLLIN, deadline, clock, what); !ready) {
      return std::unexpected(ready.error());
    }
    std::array<std::uint8_t, 4096> chunk{};
    ssize_t n = ::recv(fd.get(), chunk.data(), chunk.size(), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n <= 0) {
      return fail(ErrorKind::network, fmt::format("{}: connection closed before the answer", what));
    }
    in.insert(in.end(), chunk.begin(), chunk.begin() + n);
  }
}

}  // namespace

Result<Message> query_once(const ServerAddress& server, const PreparedQuery& prepared, Protocol protocol,
                           Duration timeout, Clock& clock) {
  const TimePoint deadline = clock.now() + timeout;
  std::vector<std::uint8_t> packet = prepared.wire;
  const auto id = static_cast<std::uint16_t>((clock.now().time_since_epoch().count() >> 10) & 0xffff);
  set_id(packet, id);
  std::vector<std::uint8_t> answer;
  if (protocol == Protocol::udp) {
    const std::string what = fmt::format("UDP {}", server.text);
    Fd fd(::socket(server.address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid() ||
        ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&server.address), server.length) != 0 ||
        ::send(fd.get(), packet.data(), packet.size(), 0) < 0) {
      return fail(ErrorKind::network, fmt::format("{}: {}", what, errno_text(errno)));
    }
    std::array<std::uint8_t, 65535> buffer{};
    while (answer.empty()) {
      if (Result<void> ready = wait_for(fd.get(), POLLIN, deadline, clock, what); !ready) {
        return std::unexpected(ready.error());
      }
      const ssize_t got = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
      if (got < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          continue;
        }
        return fail(ErrorKind::network, fmt::format("{}: {}", what, errno_text(errno)));
      }
      std::span<const std::uint8_t> bytes(buffer.data(), static_cast<std::size_t>(got));
      if (bytes.size() >= 2 && read_u16(bytes.data()) == id && check_response(bytes, prepared) == Check::ok) {
        answer.assign(bytes.begin(), bytes.end());
      }
    }
    if ((answer[2] & 0x02) == 0) {
      return parse_message(answer);
    }
  }
  Result<std::vector<std::uint8_t>> over_tcp = exchange_tcp(server, packet, deadline, clock);
  if (!over_tcp) {
    return std::unexpected(over_tcp.error());
  }
  if (over_tcp->size() < 2 || read_u16(over_tcp->data()) != id ||
      check_response(*over_tcp, prepared) != Check::ok) {
    return fail(ErrorKind::protocol, fmt::format("TCP {}: the answer does not match the query", server.text));
  }
  return parse_message(*over_tcp);
}

}  // namespace kp::drivers::dns
