#include "engine/cancellation.hpp"

namespace kp::engine {

void CancellationToken::request() {
  {
    std::lock_guard lock(mutex_);
    requested_.store(true, std::memory_order_release);
  }
  changed_.notify_all();
}

bool CancellationToken::wait_until(Clock& clock, TimePoint deadline) {
  if (dynamic_cast<FakeClock*>(&clock) != nullptr) {
    if (!requested()) {
      clock.sleep_until(deadline);
    }
    return requested();
  }
  // The real clock is steady_clock, so the condition variable can wait on the same time base.
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, deadline, [this] { return requested(); });
  return requested();
}

}  // namespace kp::engine
