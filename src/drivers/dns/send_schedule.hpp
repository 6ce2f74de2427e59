#pragma once

// One DNS worker's send schedule. Open loop: intended send times from a Pacer (a lookup's latency counts from
// its intended time, so a stall shows as latency, not as fewer queries), up to the end of sending. Closed
// loop (rate max): a lookup is due whenever a slot is free; nothing is ever late.
//
// It also makes the validity rule's split (load/validity.hpp): a lookup that became due while every in-flight
// slot was held by the server waited for the server ("queued for a connection"); its lateness is the
// server's, already in the corrected latency, and never the generator's. Only the lateness of the other
// lookups (the worker's own loop or CPU falling behind) goes into own_lateness.
//
// Pure logic: the worker passes the time in. Not thread-safe (one per worker).

#include <cstdint>
#include <optional>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/pacer.hpp"

namespace kp::drivers::dns {

class SendSchedule {
 public:
  // `rate` unset: closed loop. Sending ends at `end`.
  SendSchedule(std::optional<Rate> rate, Arrival arrival, TimePoint start, TimePoint end, std::uint64_t seed,
               Duration late_tolerance);

  bool open_loop() const { return pacer_.has_value(); }
  // The intended time of the next lookup when it is due at `now` (before the end); closed loop: `now`.
  std::optional<TimePoint> due(TimePoint now) const;
  // When the next lookup becomes due (open loop; closed loop: never on its own).
  std::optional<TimePoint> next_intended() const;

  // Every in-flight slot is held by the server at `now`: lookups due from now until a slot frees wait for it.
  void window_full(TimePoint now);
  // The due lookup starts at `now`; returns whether it waited for the server (it became due while the
  // window was full).
  bool start(TimePoint now);
  // The lookup intended for `intended` went out at `actual`; `queued`: it waited for the server.
  void sent(TimePoint intended, TimePoint actual, bool queued);
  // Sending stopped at `at`: the lookups due before it that never went out are counted (at most `cap` lookups
  // in all with `started`), as the server's when the window was full at the end.
  void stop(TimePoint at, std::uint64_t started, std::uint64_t cap);

  std::uint64_t unsent_due() const { return unsent_due_; }
  std::uint64_t unsent_for_server() const { return unsent_for_server_; }
  std::uint64_t queued_for_server() const { return queued_for_server_; }
  const Histogram& own_lateness() const { return own_lateness_; }
  PacerStats pacer_stats() const { return pacer_ ? pacer_->stats() : PacerStats{}; }

 private:
  std::optional<Pacer> pacer_;
  TimePoint next_{};
  TimePoint end_{};
  // The window was full when a lookup was last due; lookups intended up to `horizon_` waited for the server.
  bool blocked_ = false;
  std::optional<TimePoint> horizon_;
  std::uint64_t unsent_due_ = 0;
  std::uint64_t unsent_for_server_ = 0;
  std::uint64_t queued_for_server_ = 0;
  Histogram own_lateness_;
};

}  // namespace kp::drivers::dns
