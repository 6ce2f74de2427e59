#pragma once

// The open-loop schedule of one worker: intended send times from a kp::Pacer, queued until a connection is
// free. The queue is what makes the schedule independent of the connection count: when every connection is
// busy, intended times keep being issued and wait here with their original time, so their latency includes
// the wait (wrk2's correction for coordinated omission).
//
// Pure logic on a Clock's time points (no sockets), so tests drive it with a FakeClock.

#include <cstdint>
#include <deque>
#include <optional>

#include "core/clock.hpp"
#include "core/pacer.hpp"

namespace kp::drivers::ingress {

class OpenLoopQueue {
 public:
  // Intended times are issued while they are before `end` and fewer than `limit` (when set). At most
  // `max_pending` wait; beyond that they are counted in overflow() instead (a dead server must not grow
  // memory without bound).
  OpenLoopQueue(Pacer pacer, TimePoint end, std::optional<std::uint64_t> limit, std::size_t max_pending);

  // Queues every intended time <= now. Returns the next intended time still in the future, or
  // TimePoint::max() when the schedule is exhausted.
  TimePoint advance(TimePoint now);
  bool empty() const { return pending_.empty(); }
  std::size_t size() const { return pending_.size(); }
  // The oldest waiting intended time (queue must not be empty).
  TimePoint front() const { return pending_.front(); }
  TimePoint pop();
  // No intended time will be issued any more.
  bool exhausted() const { return exhausted_; }
  // Intended times issued (queued or overflowed).
  std::uint64_t issued() const { return issued_; }
  std::uint64_t overflow() const { return overflow_; }
  // Stops issuing (end of run or cancellation); what is queued stays.
  void stop() { exhausted_ = true; }

  Pacer& pacer() { return pacer_; }

 private:
  Pacer pacer_;
  TimePoint end_;
  std::optional<std::uint64_t> limit_;
  std::size_t max_pending_;
  std::deque<TimePoint> pending_;
  TimePoint next_;
  std::uint64_t issued_ = 0;
  std::uint64_t overflow_ = 0;
  bool exhausted_ = false;
};

}  // namespace kp::drivers::ingress
