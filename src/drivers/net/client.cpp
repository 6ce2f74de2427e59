#include "drivers/net/client.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "drivers/net/protocol.hpp"
#include "drivers/net/socket.hpp"

namespace kp::drivers::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The control thread looks at the clock, the workers and the server this often; it bounds how late a mark
// or a reaction to a dead server can be, not what is measured.
constexpr Duration kControlSlice = milliseconds(20);
// Blocked data-socket calls wake this often, so a stop is seen even when the peer is silent.
constexpr Duration kWorkerWake = milliseconds(200);
constexpr Duration kDrainTimeout = seconds(3);
constexpr Duration kReportTimeout = seconds(10);

double to_seconds(Duration d) {
  return std::chrono::duration<double>(d).count();
}

bool transient(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

// What the workers and the control thread share. Workers own everything else they touch.
struct RunState {
  explicit RunState(Clock& c) : clock(c) {}

  Clock& clock;
  TimePoint start{};
  TimePoint measure_start{};
  TimePoint measure_end{};
  std::optional<std::uint64_t> total;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> measured{0};         // items counted towards `total`, all streams
  std::atomic<std::int64_t> total_reached_at{0};  // ns since the clock's epoch; 0 while not reached
  Fd wake;                                        // eventfd: a worker finished early or failed

  std::atomic<bool> closing{false};  // we are cutting the connections ourselves: what breaks now is our doing

  std::mutex mutex;
  std::string first_error;

  bool stopped() const { return stop.load(std::memory_order_relaxed); }

  void signal() {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(wake.get(), &one, sizeof one);
  }

  void fail(std::string message) {
    {
      const std::lock_guard lock(mutex);
      if (first_error.empty() && !closing.load()) {
        first_error = std::move(message);
      }
    }
    stop.store(true);
    signal();
  }

  // Counts one measured item; true once `total` is reached (then everyone stops).
  bool count_measured(TimePoint at) {
    if (!total) {
      return false;
    }
    const std::uint64_t n = measured.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == *total) {
      total_reached_at.store(at.time_since_epoch().count());
      stop.store(true);
      signal();
    }
    return n >= *total;
  }
};

struct Worker {
  Worker(int i, TimePoint window_start) : index(i), series(window_start) {}

  int index;
  Fd fd;
  std::atomic<std::uint64_t> bytes{0};         // payload written or sent, whole test
  std::atomic<std::uint64_t> window_items{0};  // messages, datagrams or transactions in the window
  std::atomic<std::uint64_t> window_bytes{0};
  // Below: the worker's own until it is joined.
  std::uint64_t transactions_total = 0;
  std::uint64_t timeouts = 0;
  LatencyRecorder latency;
  Recorder series;
  std::optional<Pacer> pacer;
  TcpCounters at_start;
  TcpCounters at_end;
  std::thread thread;
};

enum class Io { ok, closed, stopped, timeout, error };

struct IoResult {
  Io status = Io::ok;
  int error = 0;
};

IoResult send_all(int fd, const char* data, std::size_t size, const RunState& run, TimePoint deadline) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && transient(errno)) {
      if (run.stopped()) {
        return {Io::stopped};
      }
      if (run.clock.now() >= deadline) {
        return {Io::timeout};
      }
      continue;
    }
    return {Io::error, errno};
  }
  return {};
}

IoResult recv_exact(int fd, char* data, std::size_t size, const RunState& run, TimePoint deadline) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) {
      return {Io::closed};
    }
    if (transient(errno)) {
      if (run.stopped()) {
        return {Io::stopped};
      }
      if (run.clock.now() >= deadline) {
        return {Io::timeout};
      }
      continue;
    }
    return {Io::error, errno};
  }
  return {};
}

void report_io(RunState& run, int stream, IoResult io, std::string_view doing, Duration timeout) {
  switch (io.status) {
    case Io::ok:
    case Io::stopped:
      return;
    case Io::closed:
      run.fail(fmt::format("stream {}: the server closed the connection", stream));
      return;
    case Io::timeout:
      run.fail(fmt::format("stream {}: no response within {}", stream, format_duration(timeout)));
      return;
    case Io::error:
      if (io.error == ECONNRESET || io.error == EPIPE) {
        run.fail(
            fmt::format("stream {}: the server reset the connection ({})", stream, error_text(io.error)));
      } else {
        run.fail(fmt::format("stream {}: {}: {}", stream, doing, error_text(io.error)));
      }
      return;
  }
}

// Sleeps until `deadline` in slices, so a stop is seen within kWorkerWake. False when stopped.
bool pace_until(const RunState& run, TimePoint deadline) {
  while (true) {
    const TimePoint now = run.clock.now();
    if (now >= deadline) {
      return true;
    }
    if (run.stopped()) {
      return false;
    }
    run.clock.sleep_until(std::min<TimePoint>(deadline, now + kWorkerWake));
  }
}

// The intended send time of the next request: the pacer's (open loop) or now (closed loop). Nullopt when the
// window is over or the run stopped.
std::optional<TimePoint> next_send(RunState& run, Worker& w) {
  if (w.pacer) {
    const TimePoint intended = w.pacer->next();
    if (intended >= run.measure_end || !pace_until(run, intended)) {
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
  if (w.pacer) {
    w.pacer->record_send(intended, sent);
  }
  if (intended < run.measure_start) {
    return false;  // warm-up
  }
  w.latency.record(intended, sent, done);
  w.series.record("rtt", done, (done - intended).count());
  w.window_items.fetch_add(1, std::memory_order_relaxed);
  return run.count_measured(done);
}

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
      ++w.transactions_total;
      if (*intended >= run.measure_start) {
        ++w.timeouts;
      }
      continue;
    }
    if (record_transaction(run, w, *intended, sent, done)) {
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
      if (intended >= run.measure_end || !pace_until(run, intended)) {
        return;
      }
      w.pacer->record_send(intended, run.clock.now());
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

// Reads control messages from the server. During the test any message (or the end of the connection) is
// bad news; at the end the report is expected.
class Control {
 public:
  Control(Fd fd, Clock& clock) : fd_(std::move(fd)), clock_(clock) {}

  int fd() const { return fd_.get(); }
  bool alive() const { return alive_; }

  bool send(const ControlMessage& message) {
    if (!alive_) {
      return false;
    }
    const std::string line = encode(message);
    std::size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = ::send(fd_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        alive_ = false;
        return false;
      }
    }
    return true;
  }

  // The next message within `deadline`; the connection is marked dead on any failure but a timeout.
  Result<ControlMessage> read(TimePoint deadline) {
    while (true) {
      Result<std::optional<std::string>> line = reader_.next_line();
      if (!line) {
        alive_ = false;
        return std::unexpected(line.error());
      }
      if (*line) {
        return decode(**line);
      }
      if (!alive_) {
        return fail(ErrorKind::network, "the control connection is closed");
      }
      const TimePoint now = clock_.now();
      if (now >= deadline) {
        return fail(ErrorKind::timeout, "no answer from the server on the control connection in time");
      }
      if (!wait_readable(fd_.get(), std::min<Duration>(deadline - now, kControlSlice))) {
        continue;
      }
      if (Result<void> got = receive(); !got) {
        return std::unexpected(got.error());
      }
    }
  }

  // Takes what is readable now, without waiting (the control thread calls it when poll says so).
  Result<void> receive() {
    char buffer[4096];
    const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
    if (n > 0) {
      reader_.append(std::string_view(buffer, static_cast<std::size_t>(n)));
      return {};
    }
    if (n < 0 && transient(errno)) {
      return {};
    }
    const int error = errno;
    alive_ = false;
    if (n == 0) {
      return fail(ErrorKind::network, "the server closed the control connection");
    }
    if (error == ECONNRESET) {
      return fail(ErrorKind::network,
                  fmt::format("the server reset the control connection ({})", error_text(error)));
    }
    return fail(ErrorKind::network, fmt::format("control connection to the server: {}", error_text(error)));
  }

  // A complete message already received, if any.
  Result<std::optional<ControlMessage>> pending() {
    Result<std::optional<std::string>> line = reader_.next_line();
    if (!line) {
      return std::unexpected(line.error());
    }
    if (!*line) {
      return std::optional<ControlMessage>{};
    }
    Result<ControlMessage> message = decode(**line);
    if (!message) {
      return std::unexpected(message.error());
    }
    return std::optional<ControlMessage>(std::move(*message));
  }

 private:
  Fd fd_;
  Clock& clock_;
  LineReader reader_;
  bool alive_ = true;
};

// Why the control thread woke up.
enum class Wake { time, worker, control, cancelled };

Wake wait_for(Control& control, RunState& run, engine::CancellationToken& cancel, TimePoint deadline) {
  while (true) {
    if (cancel.requested()) {
      return Wake::cancelled;
    }
    if (run.stopped()) {
      return Wake::worker;
    }
    const TimePoint now = run.clock.now();
    if (now >= deadline) {
      return Wake::time;
    }
    pollfd fds[2] = {{run.wake.get(), POLLIN, 0}, {control.fd(), POLLIN, 0}};
    const Duration slice = std::min<Duration>(deadline - now, kControlSlice);
    const int timeout_ms = static_cast<int>(std::chrono::ceil<milliseconds>(slice).count());
    const int ready = ::poll(fds, control.alive() ? 2 : 1, timeout_ms);
    if (ready <= 0) {
      continue;
    }
    if (fds[0].revents != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = ::read(run.wake.get(), &count, sizeof count);
      return Wake::worker;
    }
    if (fds[1].revents != 0) {
      return Wake::control;
    }
  }
}

// What came on the control connection during the test: the server's error, its departure, or nonsense.
std::string control_failure(Control& control) {
  if (Result<void> got = control.receive(); !got) {
    return got.error().message;
  }
  Result<std::optional<ControlMessage>> message = control.pending();
  if (!message) {
    return message.error().message;
  }
  if (!*message) {
    return "";  // part of a line; more to come
  }
  if (const auto* error = std::get_if<ErrorMessage>(&**message)) {
    return error->message;
  }
  return fmt::format("unexpected \"{}\" from the server during the test", type_name(**message));
}

// Opens the data side: one connection or socket per stream (CRR connects per transaction).
Result<void> open_data(std::vector<std::unique_ptr<Worker>>& workers, const ClientOptions& options,
                       const SocketAddress& server, std::uint64_t session) {
  const TestSpec& spec = options.spec;
  for (auto& worker : workers) {
    if (spec.scenario == Scenario::tcp_crr) {
      continue;
    }
    if (is_udp(spec.scenario)) {
      Fd fd(::socket(server.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
      if (!fd.valid() || ::connect(fd.get(), server.get(), server.length) != 0) {
        return fail(ErrorKind::network,
                    fmt::format("UDP socket to {}: {}", options.server, error_text(errno)));
      }
      set_timeouts(fd.get(), std::min(kWorkerWake, spec.response_timeout), kWorkerWake);
      worker->fd = std::move(fd);
      continue;
    }
    Result<Fd> fd = connect_tcp(server, options.connect_timeout);
    if (!fd) {
      return fail(fd.error().kind, fmt::format("data connection {}: {}", worker->index, fd.error().message));
    }
    if (spec.scenario == Scenario::tcp_rr) {
      set_nodelay(fd->get());
    }
    set_timeouts(fd->get(), kWorkerWake, kWorkerWake);
    const auto header = encode(DataHeader{static_cast<std::uint32_t>(worker->index), session});
    if (::send(fd->get(), header.data(), header.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(header.size())) {
      return fail(ErrorKind::network,
                  fmt::format("data connection {}: {}", worker->index, error_text(errno)));
    }
    worker->fd = std::move(*fd);
  }
  return {};
}

// Closes our side of each TCP data connection and waits (bounded) until the server has read everything and
// closed its side: then its byte counts are final.
void drain(std::vector<std::unique_ptr<Worker>>& workers, Clock& clock) {
  const TimePoint deadline = clock.now() + kDrainTimeout;
  char buffer[65536];
  for (auto& worker : workers) {
    if (!worker->fd.valid()) {
      continue;
    }
    ::shutdown(worker->fd.get(), SHUT_WR);
    while (clock.now() < deadline) {
      const ssize_t n = ::recv(worker->fd.get(), buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && !transient(errno))) {
        break;
      }
    }
  }
}

}  // namespace

Result<ClientResult> run_client(const ClientOptions& options, Clock& clock, engine::CancellationToken& cancel,
                                const ClientProgressFn& progress) {
  const TestSpec& spec = options.spec;
  if (Result<void> valid = validate(spec, FieldStyle::flag); !valid) {
    return std::unexpected(valid.error());
  }
  Result<SocketAddress> server = resolve(options.server);
  if (!server) {
    return std::unexpected(with_context(server.error(), "--server: "));
  }
  Result<Fd> control_fd = connect_tcp(*server, options.connect_timeout);
  if (!control_fd) {
    return std::unexpected(control_fd.error());
  }
  set_nodelay(control_fd->get());
  Control control(std::move(*control_fd), clock);
  if (!control.send(HelloMessage{spec})) {
    return fail(ErrorKind::network, fmt::format("{}: the server closed the connection", options.server));
  }
  Result<ControlMessage> reply = control.read(clock.now() + options.connect_timeout + seconds(5));
  if (!reply) {
    return fail(reply.error().kind, fmt::format("{}: {}", options.server, reply.error().message));
  }
  if (const auto* refused = std::get_if<ErrorMessage>(&*reply)) {
    return fail(ErrorKind::protocol,
                fmt::format("{}: the server refused the test: {}", options.server, refused->message));
  }
  const auto* ready = std::get_if<ReadyMessage>(&*reply);
  if (ready == nullptr) {
    return fail(ErrorKind::protocol,
                fmt::format("{}: expected \"ready\", got \"{}\"", options.server, type_name(*reply)));
  }
  const std::uint64_t session = ready->session;
  const auto token = static_cast<std::uint32_t>(session);

  RunState run(clock);
  run.total = spec.total;
  run.wake = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  std::vector<std::unique_ptr<Worker>> workers;
  // The window's times are known before any worker starts; set them after the data side is open.
  for (int i = 0; i < spec.streams; ++i) {
    workers.push_back(std::make_unique<Worker>(i, TimePoint{}));
  }
  if (Result<void> opened = open_data(workers, options, *server, session); !opened) {
    return std::unexpected(opened.error());
  }
  run.start = clock.now();
  run.measure_start = run.start + spec.warmup;
  run.measure_end = run.measure_start + spec.duration;
  for (auto& worker : workers) {
    worker->series = Recorder(run.measure_start);
    if (spec.rate) {
      const Rate per_stream{spec.rate->per_second / spec.streams};
      worker->pacer.emplace(per_stream, spec.arrival, run.start,
                            1 + static_cast<std::uint64_t>(worker->index));
    } else if (spec.bandwidth) {
      const double packets =
          spec.bandwidth->bits_per_second / (8.0 * double(spec.message_size)) / spec.streams;
      worker->pacer.emplace(Rate{packets}, spec.arrival, run.start,
                            1 + static_cast<std::uint64_t>(worker->index));
    }
  }
  for (auto& worker : workers) {
    Worker& w = *worker;
    w.thread = std::thread([&run, &w, &spec, &server, session, token] {
      try {
        if (w.pacer) {
          use_precise_timers_on_this_thread();
        }
        switch (spec.scenario) {
          case Scenario::tcp_stream:
            tcp_stream_worker(run, w, spec);
            break;
          case Scenario::udp_stream:
            udp_stream_worker(run, w, spec, token);
            break;
          case Scenario::tcp_rr:
            tcp_rr_worker(run, w, spec);
            break;
          case Scenario::udp_rr:
            udp_rr_worker(run, w, spec, token);
            break;
          case Scenario::tcp_crr:
            tcp_crr_worker(run, w, spec, *server, session);
            break;
        }
      } catch (const std::exception& e) {
        run.fail(fmt::format("stream {}: {}", w.index, e.what()));
      }
    });
  }

  // The control thread: marks, per-second samples, and watching for the server's death.
  std::string failure;
  bool cancelled = false;
  // Waits until `deadline` unless something ends the test first; a partial control line is not an end.
  auto wait_through = [&](TimePoint deadline) {
    while (true) {
      const Wake wake = wait_for(control, run, cancel, deadline);
      if (wake == Wake::control) {
        failure = control_failure(control);
        if (failure.empty() && control.alive()) {
          continue;
        }
      }
      cancelled = cancelled || wake == Wake::cancelled;
      return wake;
    }
  };
  const bool window_started = wait_through(run.measure_start) == Wake::time;
  CpuTimes cpu_start;
  std::vector<double> per_second;
  if (window_started) {
    control.send(MarkMessage{MarkName::measure_start});
    cpu_start = process_cpu_times();
    for (auto& worker : workers) {
      if (worker->fd.valid() && !is_udp(spec.scenario)) {
        worker->at_start = read_tcp_counters(worker->fd.get());
      }
    }
    auto sample = [&] {
      std::uint64_t value = 0;
      for (const auto& worker : workers) {
        value += is_stream(spec.scenario) ? worker->window_bytes.load() : worker->window_items.load();
      }
      return value;
    };
    std::uint64_t previous = sample();
    TimePoint previous_at = run.measure_start;
    TimePoint next_tick = run.measure_start + seconds(1);
    while (wait_through(std::min(next_tick, run.measure_end)) == Wake::time) {
      const TimePoint now = clock.now();
      if (now >= next_tick) {
        const std::uint64_t value = sample();
        const double elapsed = to_seconds(now - previous_at);
        const double per = elapsed > 0 ? double(value - previous) / elapsed : 0;
        per_second.push_back(is_stream(spec.scenario) ? per * 8 : per);
        if (progress) {
          progress(ProgressSample{static_cast<int>(per_second.size()), is_stream(spec.scenario) ? per * 8 : 0,
                                  is_stream(spec.scenario) ? 0 : per});
        }
        previous = value;
        previous_at = now;
        next_tick += seconds(1);
      }
      if (now >= run.measure_end) {
        break;
      }
    }
  }
  TimePoint window_end = std::min(clock.now(), run.measure_end);
  if (const std::int64_t reached = run.total_reached_at.load(); reached != 0) {
    window_end = std::min(window_end, TimePoint(TimePoint::duration(reached)));
  }
  if (window_started && control.alive()) {
    control.send(MarkMessage{MarkName::measure_end});
  }
  const CpuTimes cpu_end = process_cpu_times();
  for (auto& worker : workers) {
    if (worker->fd.valid() && !is_udp(spec.scenario)) {
      worker->at_end = read_tcp_counters(worker->fd.get());
    }
  }
  std::string worker_error;
  {
    const std::lock_guard lock(run.mutex);
    worker_error = run.first_error;
  }
  if (!worker_error.empty() && failure.empty() && control.alive() &&
      wait_readable(control.fd(), std::chrono::milliseconds(100))) {
    // A broken data connection often means the server stopped the test: its own words explain it better.
    failure = control_failure(control);
  }
  const bool broken = !failure.empty() || !worker_error.empty();
  run.stop.store(true);
  if (broken) {
    // The server is gone: wake every blocked call now. (A cancellation lets each worker finish the
    // transaction in flight, bounded by the response timeout, so both ends' counts still agree.)
    run.closing.store(true);
    for (auto& worker : workers) {
      if (worker->fd.valid()) {
        ::shutdown(worker->fd.get(), SHUT_RDWR);
      }
    }
  }
  for (auto& worker : workers) {
    worker->thread.join();
  }
  {
    const std::lock_guard lock(run.mutex);
    worker_error = run.first_error;
  }

  ClientResult result;
  result.spec = spec;
  result.server = options.server;
  result.server_hold = ready->hold;
  result.measured =
      window_started && window_end > run.measure_start ? window_end - run.measure_start : Duration{0};
  if (!broken && !is_udp(spec.scenario) && spec.scenario != Scenario::tcp_crr) {
    drain(workers, clock);
  }
  if (control.alive() && failure.empty()) {
    control.send(DoneMessage{});
    Result<ControlMessage> answer = control.read(clock.now() + kReportTimeout);
    if (!answer) {
      failure = answer.error().message;
    } else if (const auto* report = std::get_if<ResultMessage>(&*answer)) {
      result.server_report = report->report;
    } else if (const auto* error = std::get_if<ErrorMessage>(&*answer)) {
      failure = error->message;
    } else {
      failure = fmt::format("expected the server's \"result\", got \"{}\"", type_name(*answer));
    }
  }

  // Compose. Everything below is arithmetic over what the workers and the server counted.
  const double window_s = to_seconds(result.measured);
  std::uint64_t window_bytes = 0;
  std::uint64_t acked = 0;
  for (auto& worker : workers) {
    result.bytes_sent += worker->bytes.load();
    window_bytes += worker->window_bytes.load();
    result.transactions_total += worker->transactions_total;
    result.timeouts += worker->timeouts;
    result.latency.merge(worker->latency);
    if (worker->pacer) {
      if (!result.pacer) {
        result.pacer = PacerStats{};
      }
      result.pacer->merge(worker->pacer->stats());
    }
    if (!is_udp(spec.scenario) && worker->fd.valid()) {
      result.retransmits +=
          worker->at_end.retransmits - std::min(worker->at_end.retransmits, worker->at_start.retransmits);
      acked +=
          worker->at_end.bytes_acked - std::min(worker->at_end.bytes_acked, worker->at_start.bytes_acked);
    }
  }
  if (!is_stream(spec.scenario)) {
    Recorder merged(run.measure_start);
    for (auto& worker : workers) {
      merged.merge(worker->series);
      result.transactions += worker->window_items.load();
    }
    result.latency_series = merged.series("rtt");
    result.transaction_rate = window_s > 0 ? double(result.transactions) / window_s : 0;
    result.per_second_tps = per_second;
  }
  if (spec.scenario == Scenario::tcp_stream) {
    result.sender_bps = window_s > 0 ? double(acked) * 8 / window_s : 0;
    result.per_second_bps = per_second;
    if (result.server_report && result.server_report->window > Duration::zero()) {
      result.throughput_bps =
          double(result.server_report->window_bytes_received) * 8 / to_seconds(result.server_report->window);
      result.throughput_source = "receiver";
    } else if (window_s > 0) {
      result.throughput_bps = result.sender_bps;
      result.throughput_source = "sender (acked)";
    }
  }
  if (spec.scenario == Scenario::udp_stream) {
    result.sender_bps = window_s > 0 ? double(window_bytes) * 8 / window_s : 0;
    for (auto& worker : workers) {
      result.datagrams_sent += worker->window_items.load();
    }
    result.per_second_bps = per_second;
    if (result.server_report) {
      result.datagrams_received = result.server_report->window_packets_received;
      result.throughput_bps =
          window_s > 0 ? double(result.server_report->window_bytes_received) * 8 / window_s : 0;
      result.throughput_source = "receiver";
      result.per_second_bps.clear();
      for (std::uint64_t bytes : result.server_report->per_second_bytes) {
        result.per_second_bps.push_back(double(bytes) * 8);
      }
      result.loss_ratio =
          result.datagrams_sent > 0
              ? std::max(0.0, 1.0 - double(result.datagrams_received) / double(result.datagrams_sent))
              : 0.0;
    }
  }
  result.client_cpu =
      CpuUse{cpu_end.user - cpu_start.user, cpu_end.system - cpu_start.system, result.measured};
  if (!window_started) {
    result.client_cpu = CpuUse{};
  }
  if (result.server_report) {
    result.server_cpu = CpuUse{result.server_report->cpu_user, result.server_report->cpu_system,
                               result.server_report->window};
  }

  const std::string when = window_started
                               ? fmt::format("{} into the {} window", format_duration(result.measured),
                                             format_duration(spec.duration))
                               : std::string("during the warm-up");
  if (!failure.empty()) {
    result.error = fmt::format("{} ({})", failure, when);
  } else if (!worker_error.empty()) {
    result.error = fmt::format("{} ({})", worker_error, when);
  } else if (cancelled) {
    result.cancelled = true;
    result.error = fmt::format("cancelled ({})", when);
  } else if (!result.server_report) {
    result.error = "the server's report is missing";
  }
  result.complete = result.error.empty();
  return result;
}

}  // namespace kp::drivers::net
