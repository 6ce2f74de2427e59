#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "drivers/net/client_run.hpp"
#include "load/worker_pool.hpp"

// The pieces every worker loop shares: the run's shared state, bounded socket I/O, pacing, and the pool that
// runs the loops.

namespace kp::drivers::net::detail {

void RunState::signal() {
  if (!wake.valid()) {
    return;
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake.get(), &one, sizeof one);
}

void RunState::fail(std::string message) {
  {
    const std::lock_guard lock(mutex);
    if (first_error.empty() && !closing.load()) {
      first_error = std::move(message);
    }
  }
  stop.store(true);
  signal();
}

std::string RunState::error() {
  const std::lock_guard lock(mutex);
  return first_error;
}

bool RunState::count_measured(TimePoint at) {
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

Result<void> run_stream_workers(RunState& run, std::vector<std::unique_ptr<Worker>>& workers,
                                const std::function<void(Worker&)>& body) {
  load::PoolOptions options;
  options.count = static_cast<int>(workers.size());
  Result<std::pair<std::vector<bool>, TimePoint>> ran =
      load::run_workers<bool>(options, run.clock, [&](load::WorkerContext& context) {
        Worker& w = *workers[static_cast<std::size_t>(context.index())];
        try {
          body(w);
        } catch (...) {
          // The others stop now, not at the end of the window; the pool turns this into the run's error.
          run.stop.store(true);
          run.signal();
          throw;
        }
        return true;
      });
  if (!ran) {
    return std::unexpected(ran.error());
  }
  return {};
}

}  // namespace kp::drivers::net::detail
