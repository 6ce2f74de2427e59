#include "drivers/net/server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "drivers/net/protocol.hpp"
#include "drivers/net/socket.hpp"
#include "drivers/net/test_spec.hpp"

namespace kp::drivers::net {
namespace {

constexpr Duration kBusyGrace = std::chrono::seconds(1);

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kHeaderTimeout = seconds(2);  // a new connection says what it is within this
constexpr Duration kHelloTimeout = seconds(10);
// Blocked calls wake this often to notice a stop; it bounds how long a stop takes, not any measurement.
constexpr Duration kWakeInterval = milliseconds(100);
// Beyond warm-up + duration + response timeout, before a silent client's session is dropped.
constexpr Duration kSessionGrace = seconds(60);
// After "done", how long data connections get to deliver their last bytes before they are cut.
constexpr Duration kDrainTimeout = seconds(2);
constexpr std::size_t kStreamBuffer = 256 * 1024;
constexpr int kUdpReceiveBuffer = 8 << 20;

// Holds until `deadline` to within about a microsecond: sleep most of the way, spin the last millisecond.
// Timer wake-ups are late by 50 µs typically and by 300-500 µs at P99 on a busy VM (measured here), which
// would be 1-10 % of a 5 ms hold; the spin absorbs that. (Spinning longer measured worse on a shared VM.)
// The spin is bounded, so a clock that does not move (a fake one) cannot hang it.
void hold_until(Clock& clock, TimePoint deadline) {
  constexpr Duration kSpin = std::chrono::milliseconds(1);
  constexpr int kMaxSpins = 100'000'000;
  if (deadline - clock.now() > kSpin) {
    clock.sleep_until(deadline - kSpin);
  }
  for (int spins = 0; clock.now() < deadline; ++spins) {
    if (spins == kMaxSpins) {
      clock.sleep_until(deadline);
      break;
    }
  }
}

bool transient(int error) {
  return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

bool send_all(int fd, const char* data, std::size_t size, const std::atomic<bool>& stop) {
  while (size > 0) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && transient(errno) && !stop.load(std::memory_order_relaxed)) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

// Reads exactly `size` bytes; false on end of stream, an error or a stop.
bool recv_exact(int fd, char* data, std::size_t size, const std::atomic<bool>& stop) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n > 0) {
      data += n;
      size -= static_cast<std::size_t>(n);
    } else if (n < 0 && transient(errno) && !stop.load(std::memory_order_relaxed)) {
      continue;
    } else {
      return false;
    }
  }
  return true;
}

bool send_line(int fd, const ControlMessage& message) {
  const std::atomic<bool> never{false};
  const std::string line = encode(message);
  return send_all(fd, line.data(), line.size(), never);
}

// One test, from "ready" to the report. The acceptor hands it data connections; its own threads serve them.
class Session {
 public:
  Session(TestSpec spec, std::uint64_t id, Duration hold, Clock& clock, int udp_fd, const LogFn& log)
      : spec_(spec), id_(id), hold_(hold), clock_(clock), udp_fd_(udp_fd), log_(log) {}

  ~Session() { finish(Duration::zero()); }

  std::uint64_t id() const { return id_; }

  void start_workers() {
    const std::lock_guard lock(mutex_);
    if (is_udp(spec_.scenario)) {
      set_timeouts(udp_fd_, kWakeInterval, kWakeInterval);
      threads_.emplace_back([this] { udp_worker(); });
    }
    if (spec_.scenario == Scenario::tcp_crr) {
      for (int i = 0; i < spec_.streams; ++i) {
        threads_.emplace_back([this] { crr_worker(); });
      }
    }
  }

  // From the acceptor's thread.
  void add_connection(Fd fd, std::uint32_t stream) {
    if (stop_.load()) {
      return;
    }
    connections_.fetch_add(1, std::memory_order_relaxed);
    if (spec_.scenario == Scenario::tcp_crr) {
      set_timeouts(fd.get(), spec_.response_timeout, spec_.response_timeout);
      {
        const std::lock_guard lock(mutex_);
        crr_queue_.push_back(std::move(fd));
      }
      crr_ready_.notify_one();
      return;
    }
    if (is_udp(spec_.scenario) || stream >= static_cast<std::uint32_t>(spec_.streams)) {
      log_(fmt::format("test {}: data connection for stream {} refused ({} has {} stream(s))", id_, stream,
                       to_string(spec_.scenario), spec_.streams));
      return;
    }
    const int raw = fd.get();
    set_timeouts(raw, kWakeInterval, kWakeInterval);
    if (spec_.scenario == Scenario::tcp_rr) {
      set_nodelay(raw);
    }
    const std::lock_guard lock(mutex_);
    fds_.push_back(std::move(fd));
    live_data_workers_ += 1;
    threads_.emplace_back([this, raw] {
      if (spec_.scenario == Scenario::tcp_stream) {
        stream_worker(raw);
      } else {
        rr_worker(raw);
      }
      // Our half-close tells the client we read everything it sent (it waits for this before "done").
      ::shutdown(raw, SHUT_WR);
      {
        const std::lock_guard done(mutex_);
        live_data_workers_ -= 1;
      }
      data_idle_.notify_all();
    });
  }

  void mark(MarkName name) {
    const TimePoint now = clock_.now();
    const CpuTimes cpu = process_cpu_times();
    const std::uint64_t bytes = bytes_.load();
    if (name == MarkName::measure_start) {
      window_start_ = now;
      cpu_start_ = cpu;
      bytes_start_ = bytes;
      started_ = true;
      return;
    }
    if (!started_) {
      window_start_ = now;
      cpu_start_ = cpu;
      bytes_start_ = bytes;
    }
    window_ = now - window_start_;
    cpu_user_ = cpu.user - cpu_start_.user;
    cpu_system_ = cpu.system - cpu_start_.system;
    window_bytes_ = bytes - bytes_start_;
  }

  // Lets data connections finish for up to `drain` (the client closed its side before "done"), then stops
  // everything and joins. Idempotent.
  void finish(Duration drain) {
    {
      std::unique_lock lock(mutex_);
      data_idle_.wait_for(lock, drain, [this] { return live_data_workers_ == 0; });
      stop_.store(true);
      for (const Fd& fd : fds_) {
        ::shutdown(fd.get(), SHUT_RDWR);
      }
    }
    crr_ready_.notify_all();
    std::vector<std::thread> threads;
    {
      const std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) {
      thread.join();
    }
  }

  // Stops at once (a cancelled server or a lost client).
  void abort() { finish(Duration::zero()); }

  ServerReport report() const {
    ServerReport report;
    report.bytes_received = bytes_.load();
    report.window_bytes_received = window_bytes_;
    report.window = window_;
    report.packets_received = packets_.load();
    report.window_packets_received = window_packets_.load();
    report.transactions = transactions_.load();
    report.connections = connections_.load();
    report.cpu_user = cpu_user_;
    report.cpu_system = cpu_system_;
    if (spec_.scenario == Scenario::udp_stream) {
      // Datagrams say which second of the client's window they belong to: count by that, not by the marks.
      report.per_second_bytes = per_second_bytes_;
      report.window_bytes_received = 0;
      for (std::uint64_t bytes : per_second_bytes_) {
        report.window_bytes_received += bytes;
      }
    }
    return report;
  }

 private:
  // Holding threads sleep precisely and, where allowed, wake at real-time priority: on a busy host a normal
  // thread's wake-up after a 5 ms sleep can be late by milliseconds, which would be counted as network time.
  // Only while the holding threads (each spinning up to 1 ms per response) cannot fill every CPU.
  void prepare_hold_thread() const {
    use_precise_timers_on_this_thread();
    if (static_cast<unsigned>(spec_.streams) < std::max(1u, std::thread::hardware_concurrency())) {
      use_realtime_scheduling_on_this_thread();
    }
  }

  void stream_worker(int fd) {
    std::vector<char> buffer(kStreamBuffer);
    while (true) {
      const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
      if (n > 0) {
        bytes_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      } else if (n < 0 && transient(errno) && !stop_.load(std::memory_order_relaxed)) {
        continue;
      } else {
        return;  // end of stream, an error, or a stop
      }
    }
  }

  void rr_worker(int fd) {
    if (hold_ > Duration::zero()) {
      prepare_hold_thread();
    }
    std::vector<char> request(spec_.request_size);
    const std::vector<char> response(spec_.response_size, 'r');
    while (recv_exact(fd, request.data(), request.size(), stop_)) {
      bytes_.fetch_add(request.size(), std::memory_order_relaxed);
      if (hold_ > Duration::zero()) {
        hold_until(clock_, clock_.now() + hold_);
      }
      if (!send_all(fd, response.data(), response.size(), stop_)) {
        return;
      }
      transactions_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void crr_worker() {
    if (hold_ > Duration::zero()) {
      prepare_hold_thread();
    }
    std::vector<char> request(spec_.request_size);
    const std::vector<char> response(spec_.response_size, 'r');
    while (true) {
      Fd fd;
      {
        std::unique_lock lock(mutex_);
        crr_ready_.wait(lock, [this] { return stop_.load() || !crr_queue_.empty(); });
        if (stop_.load()) {
          return;
        }
        fd = std::move(crr_queue_.front());
        crr_queue_.pop_front();
      }
      if (!recv_exact(fd.get(), request.data(), request.size(), stop_)) {
        continue;
      }
      bytes_.fetch_add(request.size(), std::memory_order_relaxed);
      if (hold_ > Duration::zero()) {
        hold_until(clock_, clock_.now() + hold_);
      }
      if (send_all(fd.get(), response.data(), response.size(), stop_)) {
        transactions_.fetch_add(1, std::memory_order_relaxed);
      }
      // The server closes first (as an HTTP/1.0 server does): TIME_WAIT stays here, so the client's
      // ephemeral ports are free again at once and a long CRR run does not exhaust them.
    }
  }

  void udp_worker() {
    if (hold_ > Duration::zero()) {
      prepare_hold_thread();
    }
    const std::uint32_t token = static_cast<std::uint32_t>(id_);
    const bool rr = spec_.scenario == Scenario::udp_rr;
    const std::size_t max_seconds =
        static_cast<std::size_t>(std::chrono::ceil<seconds>(spec_.duration).count()) + 1;
    std::vector<char> buffer(65536);
    std::vector<char> response(std::max<std::uint64_t>(spec_.response_size, kUdpHeaderSize), 'r');
    auto handle = [&](ssize_t n, const sockaddr_storage& peer, socklen_t peer_length) {
      Result<UdpHeader> header =
          decode_udp_header(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
      if (!header || header->token != token) {
        return;  // not this test's (a late datagram of the previous one, or a stranger)
      }
      packets_.fetch_add(1, std::memory_order_relaxed);
      bytes_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
      if (!rr) {
        if (header->second != kWarmupSecond && header->second < max_seconds) {
          if (per_second_bytes_.size() <= header->second) {
            per_second_bytes_.resize(header->second + 1, 0);
          }
          per_second_bytes_[header->second] += static_cast<std::uint64_t>(n);
          window_packets_.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      if (hold_ > Duration::zero()) {
        hold_until(clock_, clock_.now() + hold_);
      }
      std::memcpy(response.data(), buffer.data(), kUdpHeaderSize);
      if (::sendto(udp_fd_, response.data(), spec_.response_size, 0, reinterpret_cast<const sockaddr*>(&peer),
                   peer_length) > 0) {
        transactions_.fetch_add(1, std::memory_order_relaxed);
      }
    };
    while (!stop_.load(std::memory_order_relaxed)) {
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      const ssize_t n = ::recvfrom(udp_fd_, buffer.data(), buffer.size(), 0,
                                   reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n >= 0) {
        handle(n, peer, peer_length);
      } else if (!transient(errno) && errno != ECONNREFUSED) {
        log_(fmt::format("test {}: UDP receive failed: {}", id_, error_text(errno)));
        return;
      }
    }
    // "done" came after the client's last datagram: take what is already queued.
    for (int i = 0; i < 1'000'000; ++i) {
      sockaddr_storage peer{};
      socklen_t peer_length = sizeof peer;
      const ssize_t n = ::recvfrom(udp_fd_, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&peer), &peer_length);
      if (n < 0) {
        break;
      }
      handle(n, peer, peer_length);
    }
  }

  const TestSpec spec_;
  const std::uint64_t id_;
  const Duration hold_;
  Clock& clock_;
  const int udp_fd_;
  const LogFn& log_;

  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> bytes_{0};
  std::atomic<std::uint64_t> packets_{0};
  std::atomic<std::uint64_t> window_packets_{0};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> connections_{0};

  std::mutex mutex_;
  std::condition_variable data_idle_;
  std::condition_variable crr_ready_;
  std::vector<std::thread> threads_;
  std::vector<Fd> fds_;  // owned here, so a shutdown() never hits a number the kernel gave to another socket
  int live_data_workers_ = 0;
  std::deque<Fd> crr_queue_;
  std::vector<std::uint64_t> per_second_bytes_;  // UDP worker only; read after it is joined

  // Touched by the session thread only (marks, then report after finish).
  bool started_ = false;
  TimePoint window_start_{};
  CpuTimes cpu_start_;
  std::uint64_t bytes_start_ = 0;
  Duration window_{0};
  Duration cpu_user_{0};
  Duration cpu_system_{0};
  std::uint64_t window_bytes_ = 0;
};

}  // namespace

struct Server::State {
  ServerOptions options;
  Clock& clock;
  Fd listener;
  Fd udp;
  SocketAddress address;
  std::mutex mutex;
  std::shared_ptr<Session> active;  // the running test, for the acceptor to route data connections
  std::atomic<bool> session_running{false};
  std::atomic<std::uint64_t> sessions_ended{0};
  std::condition_variable session_ended;  // notified (under `mutex`) when a session thread finishes

  State(ServerOptions o, Clock& c) : options(std::move(o)), clock(c) {}

  void run_session(Fd control, std::string initial, engine::CancellationToken& cancel, const LogFn& log,
                   std::atomic<std::uint64_t>& tests_served);
};

namespace {

// Reads the next control message, waking every kWakeInterval to honour cancellation and the deadline.
Result<ControlMessage> read_message(int fd, LineReader& reader, Clock& clock, TimePoint deadline,
                                    engine::CancellationToken& cancel) {
  while (true) {
    Result<std::optional<std::string>> line = reader.next_line();
    if (!line) {
      return std::unexpected(line.error());
    }
    if (*line) {
      return decode(**line);
    }
    if (cancel.requested()) {
      return fail(ErrorKind::cancelled, "the server is stopping");
    }
    const TimePoint now = clock.now();
    if (now >= deadline) {
      return fail(ErrorKind::timeout, "no control message from the client in time");
    }
    if (!wait_readable(fd, std::min<Duration>(deadline - now, kWakeInterval))) {
      continue;
    }
    char buffer[4096];
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) {
      return fail(ErrorKind::network, "the client closed the control connection");
    }
    if (n < 0) {
      if (transient(errno)) {
        continue;
      }
      return fail(ErrorKind::network, fmt::format("control connection: {}", error_text(errno)));
    }
    reader.append(std::string_view(buffer, static_cast<std::size_t>(n)));
  }
}

std::string peer_of(int fd) {
  SocketAddress peer;
  peer.length = sizeof peer.storage;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length) != 0) {
    return "?";
  }
  return to_string(peer);
}

}  // namespace

void Server::State::run_session(Fd control, std::string initial, engine::CancellationToken& cancel,
                                const LogFn& log, std::atomic<std::uint64_t>& tests_served) {
  const std::string peer = peer_of(control.get());
  LineReader reader;
  reader.append(initial);
  Result<ControlMessage> hello =
      read_message(control.get(), reader, clock, clock.now() + kHelloTimeout, cancel);
  if (!hello) {
    log(fmt::format("client {}: {}", peer, hello.error().message));
    send_line(control.get(), ErrorMessage{hello.error().message});
    return;
  }
  const auto* request = std::get_if<HelloMessage>(&*hello);
  if (request == nullptr) {
    const std::string message = fmt::format("expected \"hello\" first, got \"{}\"", type_name(*hello));
    log(fmt::format("client {}: {}", peer, message));
    send_line(control.get(), ErrorMessage{message});
    return;
  }
  const TestSpec spec = request->spec;
  std::random_device random;
  const std::uint64_t id = (std::uint64_t{random()} << 32) | random();
  auto session = std::make_shared<Session>(spec, id, options.hold, clock, udp.get(), log);
  session->start_workers();
  {
    const std::lock_guard lock(mutex);
    active = session;
  }
  auto unregister = [&] {
    const std::lock_guard lock(mutex);
    active.reset();
  };
  if (!send_line(control.get(), ReadyMessage{id, options.hold})) {
    session->abort();
    unregister();
    log(fmt::format("client {}: gone before the test started", peer));
    return;
  }
  log(fmt::format("test {:016x} from {}: {}", id, peer, describe(spec)));
  const TimePoint deadline =
      clock.now() + spec.warmup + spec.duration + spec.response_timeout + kSessionGrace;
  std::string failure;
  bool done = false;
  while (!done && failure.empty()) {
    Result<ControlMessage> message = read_message(control.get(), reader, clock, deadline, cancel);
    if (!message) {
      failure = message.error().message;
    } else if (const auto* mark = std::get_if<MarkMessage>(&*message)) {
      session->mark(mark->name);
    } else if (std::holds_alternative<DoneMessage>(*message)) {
      done = true;
    } else {
      failure = fmt::format("unexpected \"{}\" during the test", type_name(*message));
    }
  }
  if (!done) {
    // The reason goes out before the data connections are cut, so the client reports it rather than a
    // broken pipe.
    send_line(control.get(), ErrorMessage{fmt::format("server: {}", failure)});
    session->finish(Duration::zero());
    unregister();
    log(fmt::format("test {:016x}: ended early: {}", id, failure));
    return;
  }
  session->finish(kDrainTimeout);
  unregister();
  const ServerReport report = session->report();
  send_line(control.get(), ResultMessage{report});
  tests_served.fetch_add(1);
  log(fmt::format("test {:016x}: done, {} bytes, {} transactions, {} connections", id, report.bytes_received,
                  report.transactions, report.connections));
}

Server::Server(std::unique_ptr<State> state) : state_(std::move(state)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::open(const ServerOptions& options, Clock& clock) {
  Result<SocketAddress> address = resolve_listen(options.listen);
  if (!address) {
    return std::unexpected(with_context(address.error(), "--listen: "));
  }
  auto state = std::make_unique<State>(options, clock);
  // With port 0 the TCP port is the kernel's choice; UDP must get the same number, which another program
  // may hold: try a few.
  for (int attempt = 0; attempt < 20; ++attempt) {
    Result<Fd> listener = listen_tcp(*address, 1024);
    if (!listener) {
      return std::unexpected(listener.error());
    }
    Result<SocketAddress> bound = local_address(listener->get());
    if (!bound) {
      return std::unexpected(bound.error());
    }
    Result<Fd> udp = bind_udp(*bound);
    if (!udp) {
      if (address->port() != 0) {
        return std::unexpected(udp.error());
      }
      continue;
    }
    // Bulk UDP needs room while the receiving thread is descheduled; as root the cap does not apply.
    int size = kUdpReceiveBuffer;
    if (::setsockopt(udp->get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
      ::setsockopt(udp->get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    state->listener = std::move(*listener);
    state->udp = std::move(*udp);
    state->address = *bound;
    return std::unique_ptr<Server>(new Server(std::move(state)));
  }
  return fail(ErrorKind::network, fmt::format("cannot bind TCP and UDP to one port on {}", options.listen));
}

std::string Server::address() const {
  return to_string(state_->address);
}

std::uint16_t Server::port() const {
  return state_->address.port();
}

Result<void> Server::serve(engine::CancellationToken& cancel, const LogFn& log) {
  State& s = *state_;
  std::thread session_thread;
  Result<void> outcome;
  while (!cancel.requested()) {
    if (s.options.once && s.sessions_ended.load() > 0 && !s.session_running.load()) {
      break;
    }
    if (!wait_readable(s.listener.get(), kWakeInterval)) {
      continue;
    }
    Fd connection(::accept4(s.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!connection.valid()) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE ||
          errno == ENOBUFS || errno == ENOMEM) {
        continue;
      }
      outcome = fail(ErrorKind::network, fmt::format("accept on {}: {}", address(), error_text(errno)));
      break;
    }
    // The acceptor reads the first bytes itself; the timeout keeps a silent connection from holding it.
    set_timeouts(connection.get(), kHeaderTimeout, kHeaderTimeout);
    const std::atomic<bool> never{false};
    std::array<char, kDataHeaderSize> header{};
    if (!recv_exact(connection.get(), header.data(), kDataMagic.size(), never)) {
      continue;
    }
    if (std::memcmp(header.data(), kDataMagic.data(), kDataMagic.size()) == 0) {
      if (!recv_exact(connection.get(), header.data() + 4, kDataHeaderSize - 4, never)) {
        continue;
      }
      Result<DataHeader> data = decode_data_header(std::string_view(header.data(), header.size()));
      std::shared_ptr<Session> session;
      {
        const std::lock_guard lock(s.mutex);
        session = s.active;
      }
      if (data && session && session->id() == data->session) {
        session->add_connection(std::move(connection), data->stream);
      }
      continue;  // a connection of no running test is closed
    }
    if (header[0] != '{') {
      log(fmt::format("connection from {} is neither a control nor a data connection; closed",
                      peer_of(connection.get())));
      continue;
    }
    if (s.session_running.load()) {
      // A session that has just answered its client (e.g. rejected a bad hello) may still be winding down; a
      // client that connects right after it must not be told "busy" for that. A real test runs far longer.
      std::unique_lock lock(s.mutex);
      s.session_ended.wait_for(lock, kBusyGrace, [&s] { return !s.session_running.load(); });
    }
    if (s.session_running.load()) {
      send_line(connection.get(), ErrorMessage{"server busy: another test is running (one at a time)"});
      continue;
    }
    if (session_thread.joinable()) {
      session_thread.join();
    }
    s.session_running.store(true);
    session_thread = std::thread([&s, &cancel, &log, this, control = std::move(connection),
                                  initial = std::string(header.data(), 4)]() mutable {
      set_timeouts(control.get(), Duration::zero(), std::chrono::seconds(5));
      s.run_session(std::move(control), std::move(initial), cancel, log, tests_served_);
      s.sessions_ended.fetch_add(1);
      {
        const std::lock_guard lock(s.mutex);
        s.session_running.store(false);
      }
      s.session_ended.notify_all();
    });
  }
  // A running test sees the cancellation within kWakeInterval, tells its client and stops.
  if (session_thread.joinable()) {
    session_thread.join();
  }
  return outcome;
}

}  // namespace kp::drivers::net
