#include "drivers/dns/send_schedule.hpp"

#include <algorithm>

namespace kp::drivers::dns {

SendSchedule::SendSchedule(std::optional<Rate> rate, Arrival arrival, TimePoint start, TimePoint end,
                           std::uint64_t seed, Duration late_tolerance)
    : end_(end) {
  if (rate) {
    pacer_.emplace(*rate, arrival, start, seed, late_tolerance);
    next_ = pacer_->next();
  }
}

std::optional<TimePoint> SendSchedule::due(TimePoint now) const {
  if (!pacer_) {
    return now;
  }
  if (next_ > now || next_ >= end_) {
    return std::nullopt;
  }
  return next_;
}

std::optional<TimePoint> SendSchedule::next_intended() const {
  if (!pacer_ || next_ >= end_) {
    return std::nullopt;
  }
  return next_;
}

void SendSchedule::window_full(TimePoint now) {
  if (!pacer_) {
    return;
  }
  blocked_ = true;
  horizon_ = now;
}

bool SendSchedule::start(TimePoint now) {
  if (!pacer_) {
    return false;
  }
  if (blocked_) {
    // A slot is free again: every lookup due by now became due while the server held them all.
    blocked_ = false;
    horizon_ = now;
  }
  const bool queued = horizon_ && next_ <= *horizon_;
  if (queued) {
    ++queued_for_server_;
  }
  next_ = pacer_->next();
  return queued;
}

void SendSchedule::sent(TimePoint intended, TimePoint actual, bool queued) {
  if (!pacer_) {
    return;
  }
  pacer_->record_send(intended, actual);
  if (!queued) {
    own_lateness_.record(std::max(Duration::zero(), actual - intended));
  }
}

void SendSchedule::stop(TimePoint at, std::uint64_t started, std::uint64_t cap) {
  if (!pacer_) {
    return;
  }
  while (next_ < at && started + unsent_due_ < cap) {
    ++unsent_due_;
    if (blocked_) {
      ++unsent_for_server_;
      ++queued_for_server_;
    }
    next_ = pacer_->next();
  }
}

}  // namespace kp::drivers::dns
