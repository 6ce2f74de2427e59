#include "engine/checkpoint.hpp"

#include <utility>

namespace kp::engine {

CheckpointCadence::CheckpointCadence(Duration interval, TimePoint start)
    : interval_(interval), start_(start), next_(start + interval) {}

void CheckpointCadence::taken(TimePoint now) {
  if (interval_ <= Duration::zero()) {
    return;
  }
  // Whole ticks since the start, then the one after `now`: the cadence stays on the start's grid.
  const auto ticks = (now - start_) / interval_;
  next_ = start_ + (ticks + 1) * interval_;
}

Checkpointer::Checkpointer(Clock& clock, Duration interval, std::function<void()> checkpoint)
    : clock_(clock),
      interval_(interval),
      checkpoint_(std::move(checkpoint)),
      cadence_(interval, clock.now()) {}

Checkpointer::~Checkpointer() {
  stop();
}

void Checkpointer::start() {
  {
    const std::lock_guard lock(mutex_);
    cadence_ = CheckpointCadence(interval_, clock_.now());
  }
  stopping_ = false;
  ticker_ = std::thread([this] { tick_loop(); });
}

void Checkpointer::stop() {
  {
    const std::lock_guard lock(wait_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (auto* fake = dynamic_cast<FakeClock*>(&clock_); fake != nullptr) {
    fake->wake();
  }
  if (ticker_.joinable()) {
    ticker_.join();
  }
}

bool Checkpointer::poll() {
  const std::lock_guard lock(mutex_);
  const TimePoint now = clock_.now();
  if (!cadence_.due(now) || stopping_) {
    return false;
  }
  try {
    checkpoint_();
  } catch (...) {
    // Dropped on purpose (header): the run goes on, and the next checkpoint tries again.
  }
  cadence_.taken(now);
  ++taken_;
  return true;
}

bool Checkpointer::wait(TimePoint deadline) {
  if (auto* fake = dynamic_cast<FakeClock*>(&clock_); fake != nullptr) {
    fake->wait_reached(deadline, [this] { return stopping_.load(); });
    return stopping_;
  }
  // The real clock is steady_clock, so the condition variable waits on the same time base.
  std::unique_lock lock(wait_mutex_);
  wake_.wait_until(lock, deadline, [this] { return stopping_.load(); });
  return stopping_;
}

void Checkpointer::tick_loop() {
  while (true) {
    TimePoint next;
    {
      const std::lock_guard lock(mutex_);
      next = cadence_.next();
    }
    if (wait(next)) {
      return;
    }
    poll();
  }
}

}  // namespace kp::engine
