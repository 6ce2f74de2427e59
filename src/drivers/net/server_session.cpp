#include "drivers/net/server_session.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include <fmt/format.h>

#include "core/cpu_budget.hpp"

namespace kp::drivers::net::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::size_t kStreamBuffer = 256 * 1024;

}  // namespace

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

void Session::start_workers() {
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

void Session::add_connection(Fd fd, std::uint32_t stream) {
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

void Session::mark(MarkName name) {
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

void Session::finish(Duration drain) {
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

ServerReport Session::report() const {
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

void Session::prepare_hold_thread() const {
  use_precise_timers_on_this_thread();
  // CPUs of the container's quota, not the host's: a pod limited to one CPU has none to spare.
  if (spec_.streams < usable_cpus()) {
    use_realtime_scheduling_on_this_thread();
  }
}

void Session::stream_worker(int fd) {
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

void Session::rr_worker(int fd) {
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

void Session::crr_worker() {
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

void Session::udp_worker() {
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
    const ssize_t n = ::recvfrom(udp_fd_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                                 &peer_length);
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

}  // namespace kp::drivers::net::detail
