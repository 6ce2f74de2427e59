#pragma once

// Cooperative cancellation. request() may be called from any thread (and from a signal-watching thread for
// SIGINT); drivers poll requested() on their loops and wait_until() instead of sleeping, so they wake at
// once.

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "core/clock.hpp"

namespace kp::engine {

class CancellationToken {
 public:
  void request();
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  // Waits until `deadline` on `clock` or until cancellation; returns true if cancelled.
  // With a FakeClock it advances the clock to the deadline (no real waiting).
  bool wait_until(Clock& clock, TimePoint deadline);

 private:
  std::atomic<bool> requested_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
};

}  // namespace kp::engine
