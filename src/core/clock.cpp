#include "core/clock.hpp"

#include <thread>

namespace kp {

// The only calls to now() in the program: everything else asks a Clock.
TimePoint RealClock::now() const {
  return std::chrono::steady_clock::now();
}

WallTime RealClock::wall_now() const {
  return std::chrono::system_clock::now();
}

void RealClock::sleep_until(TimePoint deadline) {
  std::this_thread::sleep_until(deadline);
}

Clock& real_clock() {
  static RealClock clock;
  return clock;
}

FakeClock::FakeClock(TimePoint start, WallTime wall_start)
    : now_(start), wall_start_(wall_start), start_(start) {}

TimePoint FakeClock::now() const {
  const std::lock_guard lock(mutex_);
  return now_;
}

WallTime FakeClock::wall_now() const {
  const std::lock_guard lock(mutex_);
  return wall_start_ + std::chrono::duration_cast<WallTime::duration>(now_ - start_);
}

void FakeClock::sleep_until(TimePoint deadline) {
  {
    const std::lock_guard lock(mutex_);
    // Time never runs backwards: a deadline in the past returns at once, as a real sleep would.
    if (deadline > now_) {
      now_ = deadline;
    }
  }
  moved_.notify_all();
}

void FakeClock::advance(Duration by) {
  {
    const std::lock_guard lock(mutex_);
    if (by > Duration::zero()) {
      now_ += by;
    }
  }
  moved_.notify_all();
}

void FakeClock::wait_reached(TimePoint deadline, const std::function<bool()>& stop) {
  std::unique_lock lock(mutex_);
  moved_.wait(lock, [&] { return now_ >= deadline || stop(); });
}

void FakeClock::wake() {
  { const std::lock_guard lock(mutex_); }  // a waiter between its check and its wait sees the notify
  moved_.notify_all();
}

}  // namespace kp
