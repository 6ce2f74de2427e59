#pragma once

// Time is injected: production code takes a Clock&, tests pass a FakeClock and advance it. Nothing outside
// this file calls steady_clock::now() or system_clock::now() directly.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "core/units.hpp"

namespace kp {

using TimePoint = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for intervals and schedules. Thread-safe.
  virtual TimePoint now() const = 0;
  // Wall-clock time, for report timestamps only. Thread-safe.
  virtual WallTime wall_now() const = 0;
  // Blocks until now() >= deadline (a fake clock returns at once after advancing to it).
  virtual void sleep_until(TimePoint deadline) = 0;
};

class RealClock final : public Clock {
 public:
  TimePoint now() const override;
  WallTime wall_now() const override;
  void sleep_until(TimePoint deadline) override;
};

// The process-wide real clock.
Clock& real_clock();

// A clock that moves only when told. sleep_until() jumps the clock forward to the deadline, so code that
// paces itself runs instantly and deterministically under test.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint{} + std::chrono::hours(1),
                     WallTime wall_start = WallTime{} + std::chrono::hours(24 * 365 * 56));
  TimePoint now() const override;
  WallTime wall_now() const override;
  void sleep_until(TimePoint deadline) override;
  void advance(Duration by);
  // For a background thread under test (the checkpoint ticker): blocks until another thread has moved the
  // clock to `deadline`, or until wake() finds `stop` true. Unlike sleep_until it never moves time itself,
  // so the thread that drives the test keeps sole control of the clock.
  void wait_reached(TimePoint deadline, const std::function<bool()>& stop);
  // Wakes wait_reached() to check its `stop` again.
  void wake();

 private:
  mutable std::mutex mutex_;
  std::condition_variable moved_;
  TimePoint now_;
  WallTime wall_start_;
  TimePoint start_;
};

}  // namespace kp
