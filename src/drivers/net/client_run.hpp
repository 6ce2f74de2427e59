#pragma once

// Inside the net client (client.hpp): what its stream workers and its control thread share, and the worker
// loops themselves, one per scenario. Internal to the agent; in a header so unit tests can drive a loop over
// a socketpair with a FakeClock (tests/unit/drivers/net/rr_loop_test.cpp).
//
// Threads: the workers run on load::run_workers threads (one per stream); RunState's atomics and its mutex
// are what they share with the control thread. A Worker's non-atomic fields are its own until the pool has
// joined it.
//
// Open-loop accounting (load/validity.hpp): a worker counts the intended sends of the window (due), the sends
// it made, the sends whose intended time found its connection still waiting for the previous response
// (queued for the server: the server's latency, never the generator's), and the lateness of the other sends
// (its own: only that can make a run INVALID).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/live.hpp"
#include "core/pacer.hpp"
#include "core/recorder.hpp"
#include "drivers/net/result.hpp"
#include "drivers/net/socket.hpp"
#include "drivers/net/test_spec.hpp"

namespace kp::drivers::net::detail {

// Blocked data-socket calls wake this often, so a stop is seen even when the peer is silent.
inline constexpr Duration kWorkerWake = std::chrono::milliseconds(200);

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
  Fd wake;                                        // eventfd: a worker finished early or failed (may be unset)

  std::atomic<bool> closing{false};  // we are cutting the connections ourselves: what breaks now is our doing

  std::mutex mutex;
  std::string first_error;

  bool stopped() const { return stop.load(std::memory_order_relaxed); }
  void signal();
  void fail(std::string message);
  std::string error();
  // Counts one measured item; true once `total` is reached (then everyone stops).
  bool count_measured(TimePoint at);
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
  LiveSeries live;  // the window's transactions, for watching (null sink: off)
  std::optional<Pacer> pacer;
  SendAccount account;       // open loop only
  TimePoint slot_free_at{};  // when the previous transaction ended: the connection was busy until then
  std::optional<TimePoint> unsent_from;  // the intended send a stop interrupted (open loop)
  TcpCounters at_start;
  TcpCounters at_end;
};

enum class Io { ok, closed, stopped, timeout, error };

struct IoResult {
  Io status = Io::ok;
  int error = 0;
};

IoResult send_all(int fd, const char* data, std::size_t size, const RunState& run, TimePoint deadline);
IoResult recv_exact(int fd, char* data, std::size_t size, const RunState& run, TimePoint deadline);
void report_io(RunState& run, int stream, IoResult io, std::string_view doing, Duration timeout);
// Sleeps until `deadline` in slices, so a stop is seen within kWorkerWake. False when stopped.
bool pace_until(const RunState& run, TimePoint deadline);

// The worker loops. Each returns at the end of the window, on a stop, or after run.fail().
void tcp_stream_worker(RunState& run, Worker& w, const TestSpec& spec);
void udp_stream_worker(RunState& run, Worker& w, const TestSpec& spec, std::uint32_t token);
void tcp_rr_worker(RunState& run, Worker& w, const TestSpec& spec);
void udp_rr_worker(RunState& run, Worker& w, const TestSpec& spec, std::uint32_t token);
void tcp_crr_worker(RunState& run, Worker& w, const TestSpec& spec, const SocketAddress& server,
                    std::uint64_t session);
// Open loop: accounts one send of the window, as queued for the server (the connection was still busy at its
// intended time) or with its own lateness (sent - intended).
void note_send(const RunState& run, Worker& w, TimePoint intended, TimePoint sent);
// After an open-loop worker's loop: the window's intended sends it never made, as the server's (its
// connection was still busy) or its own.
void close_account(const RunState& run, Worker& w);

// UDP_RR: the streams that sent requests in the window and got no answer to any of them, as the test's error
// ("" when every stream was answered at least once). Such a stream measured nothing: its datagrams went where
// no server knew the test (a Service spreading them over two server pods) or were dropped, and a result that
// averaged over the answered streams alone would pass a data path that is broken for some flows.
std::string unanswered_streams(const std::vector<std::unique_ptr<Worker>>& workers);

// Runs `body` for every worker on load::run_workers threads and joins them. A worker that throws stops the
// others at once (run.stop, run.wake) and the result is the pool's error ("worker 2 of 4 failed: ..."), never
// std::terminate. Blocks: the client's control thread runs beside it (client.cpp).
Result<void> run_stream_workers(RunState& run, std::vector<std::unique_ptr<Worker>>& workers,
                                const std::function<void(Worker&)>& body);

}  // namespace kp::drivers::net::detail
