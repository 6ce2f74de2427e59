#pragma once

// One worker pool for every engine. It starts `count` threads, lets each set itself up (connect, open
// sockets), then gives all of them one common start time a small head start ahead, so every worker is back
// from the barrier before its first intended send. Each worker owns everything it touches and returns its own
// result; the pool joins them all and hands the results back in index order for an exact merge.
//
// Errors: a worker that throws asks the others to stop (WorkerContext::stop_requested()), every thread is
// joined, and run_workers returns ErrorKind::internal "worker 2 of 4 failed: <what()>": a phase error, never
// std::terminate. The pool itself never throws.
//
// Threads: run_workers blocks the calling thread; the optional monitor runs on it about every `interval`
// until every worker has returned (progress lines, live counts).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <latch>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::load {

// Between the start signal and the first intended send time.
inline constexpr Duration kHeadStart = std::chrono::milliseconds(2);

// `total` split over `workers`: the first (total % workers) get one more. workers >= 1.
std::uint64_t share_of(std::uint64_t total, int index, int workers);
int share_of(int total, int index, int workers);
// An equal share of a rate.
Rate share_of(Rate total, int workers);
// An equal share of an optional count (unset stays unset).
std::optional<std::uint64_t> share_of(const std::optional<std::uint64_t>& total, int index, int workers);

class WorkerContext;

namespace detail {
struct PoolState {
  explicit PoolState(int count) : ready(count), go(1) {}
  std::latch ready;
  std::latch go;
  TimePoint start{};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable changed;
  int finished = 0;  // guarded by mutex
};
}  // namespace detail

// What a worker gets from the pool. Not copyable; lives on the worker's own thread.
class WorkerContext {
 public:
  WorkerContext(int index, int count, detail::PoolState& state)
      : index_(index), count_(count), state_(state) {}
  WorkerContext(const WorkerContext&) = delete;
  WorkerContext& operator=(const WorkerContext&) = delete;

  int index() const { return index_; }
  int count() const { return count_; }
  // Waits until every worker has called it (or failed), then returns the common start time: the first
  // intended send. Call it once, after the worker's own setup. A worker that never calls it is counted as
  // ready when it returns.
  TimePoint wait_for_start();
  // Another worker failed: stop as on cancellation.
  bool stop_requested() const { return state_.stop.load(std::memory_order_relaxed); }
  bool started() const { return arrived_; }

  std::uint64_t share(std::uint64_t total) const { return share_of(total, index_, count_); }
  int share(int total) const { return share_of(total, index_, count_); }
  Rate share(Rate total) const { return share_of(total, count_); }
  std::optional<std::uint64_t> share(const std::optional<std::uint64_t>& total) const {
    return share_of(total, index_, count_);
  }

  void arrive_if_not_yet();

 private:
  int index_;
  int count_;
  detail::PoolState& state_;
  bool arrived_ = false;
};

struct PoolOptions {
  int count = 1;
  // Called on the calling thread about every `interval` after the start until every worker returned, with the
  // start time. It may read what workers publish (atomics, LiveSeries), never their results.
  std::function<void(TimePoint start)> monitor;
  Duration interval = std::chrono::milliseconds(100);
};

namespace detail {
// Runs the threads; failures[i] is set when worker i threw. Returns the common start.
TimePoint run_threads(const PoolOptions& options, Clock& clock, PoolState& state,
                      const std::function<void(WorkerContext&)>& body, std::vector<std::string>& failures);
}  // namespace detail

// Runs body(context) on options.count threads; returns their results in index order (and the start time).
template <typename R>
Result<std::pair<std::vector<R>, TimePoint>> run_workers(const PoolOptions& options, Clock& clock,
                                                         const std::function<R(WorkerContext&)>& body) {
  const int count = std::max(1, options.count);
  detail::PoolState state(count);
  std::vector<std::optional<R>> results(static_cast<std::size_t>(count));
  std::vector<std::string> failures(static_cast<std::size_t>(count));
  const TimePoint start = detail::run_threads(
      PoolOptions{.count = count, .monitor = options.monitor, .interval = options.interval}, clock, state,
      [&](WorkerContext& context) {
        results[static_cast<std::size_t>(context.index())].emplace(body(context));
      },
      failures);
  for (int i = 0; i < count; ++i) {
    if (!failures[static_cast<std::size_t>(i)].empty()) {
      return fail(ErrorKind::internal, fmt::format("worker {} of {} failed: {}", i + 1, count,
                                                   failures[static_cast<std::size_t>(i)]));
    }
  }
  std::vector<R> out;
  out.reserve(results.size());
  for (std::optional<R>& result : results) {
    out.push_back(std::move(*result));
  }
  return std::pair{std::move(out), start};
}

// Merges results in index order with R::merge(const R&) (exact for histograms: bucket sums).
template <typename R>
R merge_all(std::vector<R>& results) {
  R merged = std::move(results.front());
  for (std::size_t i = 1; i < results.size(); ++i) {
    merged.merge(results[i]);
  }
  return merged;
}

}  // namespace kp::load
