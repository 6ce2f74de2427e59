#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "drivers/net/client_run.hpp"
#include "drivers/net/protocol.hpp"

// The request/response loops (TCP_RR, UDP_RR, TCP_CRR): one transaction at a time per stream, open loop at
// the pacer's intended times or closed loop back to back; latency from the intended time (wrk2's rule).

namespace kp::drivers::net::detail {
namespace {

// The intended send time of the next request: the pacer's (open loop) or now (closed loop). Nullopt when the
// window is over or the run stopped (a backlog of late sends does not outlive a stop: what was not sent by
// then is accounted by close_account).
std::optional<TimePoint> next_send(RunState& run, Worker& w) {
  if (w.pacer) {
    if (run.stopped()) {
      return std::nullopt;
    }
    const TimePoint intended = w.pacer->next();
    if (intended >= run.measure_end) {
      return std::nullopt;
    }
    if (intended >= run.measure_start) {
      ++w.account.due;
    }
    if (!pace_until(run, intended)) {
      w.unsent_from = intended;
      return std::nullopt;
    }
    return intended;
  }
  const TimePoint now = run.clock.now();
  if (now >= run.measure_end || run.stopped()) {
    return std::nullopt;
  }
  return now;
}

// Records one completed transaction; true when the run's total is reached.
bool record_transaction(RunState& run, Worker& w, TimePoint intended, TimePoint sent, TimePoint done) {
  ++w.transactions_total;
  w.slot_free_at = done;
  if (w.pacer) {
    w.pacer->record_send(intended, sent);
  }
  if (intended < run.measure_start) {
    return false;  // warm-up
  }
  w.latency.record(intended, sent, done);
  w.series.record("rtt", done, (done - intended).count());
  w.live.record(done, done - intended);
  w.window_items.fetch_add(1, std::memory_order_relaxed);
  return run.count_measured(done);
}

}  // namespace

void note_send(const RunState& run, Worker& w, TimePoint intended, TimePoint sent) {
  if (!w.pacer || intended < run.measure_start) {
    return;
  }
  ++w.account.sent;
  // The connection was still busy with the previous transaction when this one was due: the wait is the
  // server's, and the corrected latency (from `intended`) already counts it.
  if (w.slot_free_at > intended) {
    ++w.account.queued_for_server;
  } else {
    w.account.own_lateness.record(std::max<std::int64_t>(0, (sent - intended).count()));
  }
}

void close_account(const RunState& run, Worker& w) {
  if (!w.pacer) {
    return;
  }
  // The window as it ran: a cancellation or a failure ends it early, and nothing after that was due.
  const TimePoint end = std::min(run.measure_end, std::max(run.measure_start, run.clock.now()));
  std::optional<TimePoint> first = w.unsent_from;
  if (first && *first >= run.measure_start) {
    --w.account.due;  // counted by next_send; counted again below, as due and unsent
  }
  std::uint64_t unsent = 0;
  TimePoint at = first ? *first : w.pacer->next();
  while (at < end) {
    if (at >= run.measure_start) {
      ++unsent;
    }
    at = w.pacer->next();
  }
  w.account.due += unsent;
  // Behind because the connection was busy (the last transaction ended after the first send left unmade):
  // the server's. Otherwise the client itself did not keep up.
  const TimePoint first_unsent = first.value_or(end);
  if (unsent > 0 && w.slot_free_at > first_unsent) {
    w.account.queued_for_server += unsent;
    w.account.unsent_for_server += unsent;
  }
}

void tcp_rr_worker(RunState& run, Worker& w, const TestSpec& spec) {
  const std::vector<char> request(spec.request_size, 'q');
  std::vector<char> response(spec.response_size);
  const int fd = w.fd.get();
  while (true) {
    const std::optional<TimePoint> intended = next_send(run, w);
    if (!intended) {
      return;
    }
    // Closed loop: the intended time is the send time (one clock read less per transaction).
    const TimePoint sent = w.pacer ? run.clock.now() : *intended;
    note_send(run, w, *intended, sent);
    const TimePoint deadline = sent + spec.response_timeout;
    IoResult io = send_all(fd, request.data(), request.size(), run, deadline);
    if (io.status == Io::ok) {
      w.bytes.fetch_add(request.size(), std::memory_order_relaxed);
      io = recv_exact(fd, response.data(), response.size(), run, deadline);
    }
    if (io.status != Io::ok) {
      report_io(run, w.index, io, "request/response", spec.response_timeout);
      return;
    }
    if (record_transaction(run, w, *intended, sent, run.clock.now())) {
      return;
    }
  }
}

void udp_rr_worker(RunState& run, Worker& w, const TestSpec& spec, std::uint32_t token) {
  std::vector<char> request(spec.request_size, 'q');
  std::vector<char> response(65536);
  const int fd = w.fd.get();
  std::uint64_t sequence = 0;
  while (true) {
    const std::optional<TimePoint> intended = next_send(run, w);
    if (!intended) {
      return;
    }
    encode_into(UdpHeader{token, static_cast<std::uint16_t>(w.index), 0, ++sequence}, request.data());
    // Closed loop: the intended time is the send time (one clock read less per transaction).
    const TimePoint sent = w.pacer ? run.clock.now() : *intended;
    const TimePoint deadline = sent + spec.response_timeout;
    if (::send(fd, request.data(), request.size(), 0) < 0) {
      if (transient(errno) || errno == ENOBUFS) {
        continue;
      }
      run.fail(errno == ECONNREFUSED
                   ? fmt::format("stream {}: the server's UDP port is unreachable (ICMP port unreachable)",
                                 w.index)
                   : fmt::format("stream {}: sending: {}", w.index, error_text(errno)));
      return;
    }
    note_send(run, w, *intended, sent);
    w.bytes.fetch_add(request.size(), std::memory_order_relaxed);
    bool answered = false;
    while (!answered) {
      const ssize_t n = ::recv(fd, response.data(), response.size(), 0);
      if (n >= 0) {
        Result<UdpHeader> header =
            decode_udp_header(std::string_view(response.data(), static_cast<std::size_t>(n)));
        // A late answer to an earlier request (counted as a timeout then) is dropped. A socket we shut down
        // returns 0 at once, forever: the stop check below ends that.
        answered = header && header->token == token && header->sequence == sequence;
        if (answered) {
          continue;
        }
      } else if (errno == ECONNREFUSED) {
        run.fail(
            fmt::format("stream {}: the server's UDP port is unreachable (ICMP port unreachable)", w.index));
        return;
      } else if (!transient(errno)) {
        run.fail(fmt::format("stream {}: receiving: {}", w.index, error_text(errno)));
        return;
      }
      if (run.stopped()) {
        return;
      }
      if (run.clock.now() >= deadline) {
        break;
      }
    }
    const TimePoint done = run.clock.now();
    if (!answered) {
      w.slot_free_at = done;
      ++w.transactions_total;
      if (*intended >= run.measure_start) {
        ++w.timeouts;
        w.live.record_error(done);
      }
      continue;
    }
    if (record_transaction(run, w, *intended, sent, done)) {
      return;
    }
  }
}

std::string unanswered_streams(const std::vector<std::unique_ptr<Worker>>& workers) {
  std::vector<int> silent;
  std::uint64_t unanswered = 0;
  for (const auto& worker : workers) {
    // Timeouts count only requests intended inside the window, like window_items.
    if (worker->timeouts > 0 && worker->window_items.load() == 0) {
      silent.push_back(worker->index);
      unanswered += worker->timeouts;
    }
  }
  if (silent.empty()) {
    return {};
  }
  return fmt::format(
      "{} {} of {} got no answer to any of {} requests in the window (their datagrams reached no server that "
      "knows the test, e.g. a Service in front of several servers, or were dropped)",
      silent.size() == 1 ? "stream" : "streams", fmt::join(silent, ", "), workers.size(), unanswered);
}

void tcp_crr_worker(RunState& run, Worker& w, const TestSpec& spec, const SocketAddress& server,
                    std::uint64_t session) {
  // The data header and the request go out in one write, as one segment right after the handshake.
  std::vector<char> message(kDataHeaderSize + spec.request_size, 'q');
  const auto header = encode(DataHeader{static_cast<std::uint32_t>(w.index), session});
  std::copy(header.begin(), header.end(), message.begin());
  std::vector<char> response(spec.response_size + 1);
  while (true) {
    const std::optional<TimePoint> intended = next_send(run, w);
    if (!intended) {
      return;
    }
    // Closed loop: the intended time is the send time (one clock read less per transaction).
    const TimePoint sent = w.pacer ? run.clock.now() : *intended;
    note_send(run, w, *intended, sent);
    const TimePoint deadline = sent + spec.response_timeout;
    Fd fd(::socket(server.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      run.fail(fmt::format("stream {}: socket(): {}", w.index, error_text(errno)));
      return;
    }
    // SO_SNDTIMEO bounds connect() too.
    set_timeouts(fd.get(), kWorkerWake, spec.response_timeout);
    set_nodelay(fd.get());
    if (::connect(fd.get(), server.get(), server.length) != 0) {
      const int error = errno;
      run.fail(
          error == EINPROGRESS || error == EAGAIN
              ? fmt::format("stream {}: connect to {}: no answer within {}", w.index, to_string(server),
                            format_duration(spec.response_timeout))
              : fmt::format("stream {}: connect to {}: {}", w.index, to_string(server), error_text(error)));
      return;
    }
    IoResult io = send_all(fd.get(), message.data(), message.size(), run, deadline);
    if (io.status == Io::ok) {
      w.bytes.fetch_add(spec.request_size, std::memory_order_relaxed);
      io = recv_exact(fd.get(), response.data(), spec.response_size, run, deadline);
    }
    if (io.status == Io::ok) {
      // The server closes first; its FIN ends the transaction.
      io = recv_exact(fd.get(), response.data(), 1, run, deadline);
      io.status = io.status == Io::closed ? Io::ok : io.status == Io::ok ? Io::error : io.status;
      if (io.status == Io::error && io.error == 0) {
        io.error = EPROTO;
      }
    }
    if (io.status != Io::ok) {
      report_io(run, w.index, io, "connect/request/response/close", spec.response_timeout);
      return;
    }
    fd.reset();
    const TimePoint done = run.clock.now();
    if (record_transaction(run, w, *intended, sent, done)) {
      return;
    }
  }
}

}  // namespace kp::drivers::net::detail
