#pragma once

// Inside the net server (server.hpp): one test, from "ready" to the report. The acceptor hands it data
// connections; its own threads serve them. Internal to the agent.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "drivers/net/protocol.hpp"
#include "drivers/net/server.hpp"
#include "drivers/net/socket.hpp"
#include "drivers/net/test_spec.hpp"

namespace kp::drivers::net::detail {

// Blocked calls wake this often to notice a stop; it bounds how long a stop takes, not any measurement.
inline constexpr Duration kWakeInterval = std::chrono::milliseconds(100);

// Reads exactly `size` bytes; false on end of stream, an error or a stop.
bool recv_exact(int fd, char* data, std::size_t size, const std::atomic<bool>& stop);
bool send_line(int fd, const ControlMessage& message);

class Session {
 public:
  Session(TestSpec spec, std::uint64_t id, Duration hold, Clock& clock, int udp_fd, const LogFn& log)
      : spec_(spec), id_(id), hold_(hold), clock_(clock), udp_fd_(udp_fd), log_(log) {}

  ~Session() { finish(Duration::zero()); }

  std::uint64_t id() const { return id_; }

  void start_workers();

  // From the acceptor's thread.
  void add_connection(Fd fd, std::uint32_t stream);

  void mark(MarkName name);

  // Lets data connections finish for up to `drain` (the client closed its side before "done"), then stops
  // everything and joins. Idempotent.
  void finish(Duration drain);

  // Stops at once (a cancelled server or a lost client).
  void abort() { finish(Duration::zero()); }

  ServerReport report() const;

 private:
  // Holding threads sleep precisely and, where allowed, wake at real-time priority: on a busy host a normal
  // thread's wake-up after a 5 ms sleep can be late by milliseconds, which would be counted as network time.
  // Only while the holding threads (each spinning up to 1 ms per response) cannot fill every CPU.
  void prepare_hold_thread() const;

  void stream_worker(int fd);

  void rr_worker(int fd);

  void crr_worker();

  void udp_worker();

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

}  // namespace kp::drivers::net::detail
