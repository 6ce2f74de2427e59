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
#include "drivers/net/server_session.hpp"
#include "drivers/net/socket.hpp"
#include "drivers/net/test_spec.hpp"

namespace kp::drivers::net {
namespace {

using namespace detail;  // NOLINT: the server's own internals
constexpr Duration kBusyGrace = std::chrono::seconds(1);

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Duration kHeaderTimeout = seconds(2);  // a new connection says what it is within this
constexpr Duration kHelloTimeout = seconds(10);
// Beyond warm-up + duration + response timeout, before a silent client's session is dropped.
constexpr Duration kSessionGrace = seconds(60);
// After "done", how long data connections get to deliver their last bytes before they are cut.
constexpr Duration kDrainTimeout = seconds(2);
constexpr int kUdpReceiveBuffer = 8 << 20;

}  // namespace

struct Server::State {
  ServerOptions options;
  Clock& clock;
  Fd listener;
  Fd udp;
  SocketBufferGrant udp_buffer;
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
    // Without CAP_NET_ADMIN (a pod) the force is refused and rmem_max caps it: the listening line says so.
    state->udp_buffer = request_socket_buffer(udp->get(), true, kUdpReceiveBuffer);
    state->listener = std::move(*listener);
    state->udp = std::move(*udp);
    state->address = *bound;
    return std::unique_ptr<Server>(new Server(std::move(state)));
  }
  return fail(ErrorKind::network, fmt::format("cannot bind TCP and UDP to one port on {}", options.listen));
}

const SocketBufferGrant& Server::udp_receive_buffer() const {
  return state_->udp_buffer;
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
