#include "kube/rate_limiter.hpp"

#include <algorithm>

namespace kp::kube {

TokenBucket::TokenBucket(double qps, int burst, TimePoint start)
    : qps_(qps), burst_(std::max(burst, 1)), tokens_(std::max(burst, 1)), last_(start) {}

TimePoint TokenBucket::reserve(TimePoint now) {
  if (qps_ <= 0) {
    return now;
  }
  std::lock_guard lock(mutex_);
  // Reservations may lie in the future (last_ > now); tokens accrue only for time that has passed since.
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  tokens_ -= 1;
  if (tokens_ >= 0) {
    return std::max(now, last_);
  }
  // Wait until the deficit has accrued, counted from last_ (the point the bucket's state refers to).
  auto wait = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / qps_));
  return last_ + wait;
}

}  // namespace kp::kube
