#include "drivers/net/client_control.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

namespace kp::drivers::net::detail {
namespace {

constexpr Duration kDrainTimeout = std::chrono::seconds(3);

}  // namespace

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
    const int timeout_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count());
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

}  // namespace kp::drivers::net::detail
