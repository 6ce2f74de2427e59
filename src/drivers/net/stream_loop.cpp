#include <sys/socket.h>

#include <fmt/format.h>

#include "drivers/net/client_run.hpp"
#include "drivers/net/protocol.hpp"

// The stream loops (TCP_STREAM, UDP_STREAM): write as fast as the socket takes it (closed loop: throughput is
// the most the path carries), or UDP datagrams at an offered bandwidth.

namespace kp::drivers::net::detail {

using std::chrono::seconds;

void tcp_stream_worker(RunState& run, Worker& w, const TestSpec& spec) {
  const std::vector<char> buffer(spec.message_size, 'x');
  const int fd = w.fd.get();
  while (!run.stopped()) {
    const TimePoint now = run.clock.now();
    if (now >= run.measure_end) {
      return;
    }
    const ssize_t n = ::send(fd, buffer.data(), buffer.size(), MSG_NOSIGNAL);
    if (n > 0) {
      w.bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      if (now >= run.measure_start) {
        w.window_bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        w.window_items.fetch_add(1, std::memory_order_relaxed);
        if (run.count_measured(now)) {
          return;
        }
      }
    } else if (n < 0 && transient(errno)) {
      continue;
    } else {
      report_io(run, w.index, {Io::error, n < 0 ? errno : EPIPE}, "sending", spec.response_timeout);
      return;
    }
  }
}

void udp_stream_worker(RunState& run, Worker& w, const TestSpec& spec, std::uint32_t token) {
  std::vector<char> datagram(spec.message_size, 'x');
  const int fd = w.fd.get();
  std::uint64_t sequence = 0;
  while (!run.stopped()) {
    if (w.pacer) {
      const TimePoint intended = w.pacer->next();
      if (intended >= run.measure_end) {
        return;
      }
      if (intended >= run.measure_start) {
        ++w.account.due;
      }
      if (!pace_until(run, intended)) {
        w.unsent_from = intended;
        return;
      }
      const TimePoint sent = run.clock.now();
      w.pacer->record_send(intended, sent);
      note_send(run, w, intended, sent);
    }
    const TimePoint now = run.clock.now();
    if (now >= run.measure_end) {
      return;
    }
    const bool measured = now >= run.measure_start;
    const auto second =
        measured ? static_cast<std::uint16_t>((now - run.measure_start) / seconds(1)) : kWarmupSecond;
    encode_into(UdpHeader{token, static_cast<std::uint16_t>(w.index), second, ++sequence}, datagram.data());
    const ssize_t n = ::send(fd, datagram.data(), datagram.size(), 0);
    if (n > 0) {
      w.bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      if (measured) {
        w.window_bytes.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
        w.window_items.fetch_add(1, std::memory_order_relaxed);
        if (run.count_measured(now)) {
          return;
        }
      }
    } else if (n < 0 && (transient(errno) || errno == ENOBUFS)) {
      continue;  // the local queue is full: not sent, not counted
    } else if (n < 0 && errno == ECONNREFUSED) {
      run.fail(
          fmt::format("stream {}: the server's UDP port is unreachable (ICMP port unreachable)", w.index));
      return;
    } else {
      run.fail(fmt::format("stream {}: sending: {}", w.index, error_text(errno)));
      return;
    }
  }
}

}  // namespace kp::drivers::net::detail
