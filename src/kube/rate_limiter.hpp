#pragma once

// Client-side QPS/burst limiting with client-go's and kube-burner's meaning (flowcontrol's token bucket,
// golang.org/x/time/rate underneath): tokens accrue at `qps` per second up to `burst`; the bucket starts
// full, so the first `burst` requests go at once and the rest at `qps`. qps <= 0 means unlimited.
//
// Reservations rather than blocking: reserve() says when a request may start, and the transport starts it
// then. The intended start time is also what latency is measured from, so waiting in the limiter is not
// charged to the server and a slow server is not hidden by it (no coordinated omission).

#include <mutex>

#include "core/clock.hpp"

namespace kp::kube {

class TokenBucket {
 public:
  TokenBucket(double qps, int burst, TimePoint start);
  // Takes one token and returns when the request may start (`now` or later). Thread-safe.
  TimePoint reserve(TimePoint now);
  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  double qps_;
  int burst_;
  std::mutex mutex_;
  double tokens_;
  TimePoint last_;
};

}  // namespace kp::kube
