#pragma once

// The open-loop schedule of one worker: intended send times from a kp::Pacer, queued until a connection is
// free. The queue is what makes the schedule independent of the connection count: when every connection is
// busy, intended times keep being issued and wait here with their original time, so their latency includes
// the wait (wrk2's correction for coordinated omission).
//
// It also tells who a late send belongs to. An intended time still waiting after a dispatch found no free
// connection has waited for the server (every connection was busy with it): its lateness is the server's
// latency, not the generator's (load/validity.hpp). mark_waiting() stamps everything queued at that moment;
// pop_entry() says whether the entry it returns was stamped.
//
// Pure logic on a Clock's time points (no sockets), so tests drive it with a FakeClock.

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>

#include "core/clock.hpp"
#include "core/pacer.hpp"

namespace kp::drivers::ingress {

class OpenLoopQueue {
 public:
  struct Entry {
    TimePoint intended;
    bool waited = false;  // it was queued when a dispatch found no free connection
  };

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
  // The oldest waiting intended time, and whether it waited for a connection.
  Entry pop_entry();
  // Every intended time queued now found no free connection: it waits for the server.
  void mark_waiting() { waited_through_ = pushed_; }
  // Of the queued entries, how many are stamped as waiting for the server.
  std::size_t waiting_for_server() const {
    if (waited_through_ <= popped_) {
      return 0;
    }
    return static_cast<std::size_t>(std::min<std::uint64_t>(waited_through_ - popped_, pending_.size()));
  }
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
  std::uint64_t pushed_ = 0;          // entries ever queued (their sequence numbers are 0..pushed_-1)
  std::uint64_t popped_ = 0;          // entries ever taken off the queue, in order
  std::uint64_t waited_through_ = 0;  // entries with a sequence number below this waited for the server
};

}  // namespace kp::drivers::ingress
