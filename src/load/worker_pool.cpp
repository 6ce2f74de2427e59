#include "load/worker_pool.hpp"

#include <algorithm>

namespace kp::load {

std::uint64_t share_of(std::uint64_t total, int index, int workers) {
  const auto n = static_cast<std::uint64_t>(std::max(1, workers));
  const auto i = static_cast<std::uint64_t>(std::max(0, index));
  return total / n + (i < total % n ? 1 : 0);
}

int share_of(int total, int index, int workers) {
  return static_cast<int>(share_of(static_cast<std::uint64_t>(std::max(0, total)), index, workers));
}

Rate share_of(Rate total, int workers) {
  return Rate{total.per_second / static_cast<double>(std::max(1, workers))};
}

std::optional<std::uint64_t> share_of(const std::optional<std::uint64_t>& total, int index, int workers) {
  if (!total) {
    return std::nullopt;
  }
  return share_of(*total, index, workers);
}

TimePoint WorkerContext::wait_for_start() {
  arrive_if_not_yet();
  state_.go.wait();
  return state_.start;
}

void WorkerContext::arrive_if_not_yet() {
  if (!arrived_) {
    arrived_ = true;
    state_.ready.count_down();
  }
}

namespace detail {

TimePoint run_threads(const PoolOptions& options, Clock& clock, PoolState& state,
                      const std::function<void(WorkerContext&)>& body, std::vector<std::string>& failures) {
  const int count = options.count;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(count));
  int started = 0;
  for (int i = 0; i < count; ++i) {
    try {
      threads.emplace_back([&, i] {
        WorkerContext context(i, count, state);
        try {
          body(context);
        } catch (const std::exception& error) {
          failures[static_cast<std::size_t>(i)] = error.what()[0] != '\0' ? error.what() : "unknown error";
          state.stop.store(true, std::memory_order_relaxed);
        } catch (...) {
          failures[static_cast<std::size_t>(i)] = "unknown exception";
          state.stop.store(true, std::memory_order_relaxed);
        }
        // A worker that failed in its setup, or never waited, must not hold the others at the barrier.
        context.arrive_if_not_yet();
        std::lock_guard lock(state.mutex);
        ++state.finished;
        state.changed.notify_all();
      });
      ++started;
    } catch (const std::system_error& error) {
      failures[static_cast<std::size_t>(i)] = fmt::format("cannot start a thread: {}", error.what());
      state.stop.store(true, std::memory_order_relaxed);
      break;
    }
  }
  // Threads that could not start count as arrived and finished, so the barrier and the wait below end.
  for (int i = started; i < count; ++i) {
    state.ready.count_down();
  }
  state.ready.wait();
  state.start = clock.now() + kHeadStart;
  state.go.count_down();

  if (options.monitor) {
    while (true) {
      {
        std::unique_lock lock(state.mutex);
        // A bounded wait for the workers to finish, not a timing: the monitor's cadence needs no precision.
        if (state.changed.wait_for(lock, options.interval, [&] { return state.finished >= started; })) {
          break;
        }
      }
      options.monitor(state.start);
    }
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  return state.start;
}

}  // namespace detail
}  // namespace kp::load
