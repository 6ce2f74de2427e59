#pragma once

// Open-loop pacing. The Pacer hands out the *intended* send time of each request; a request's latency is
// measured from that time (so a stalled server or sender shows up as latency: no coordinated omission), and
// the uncorrected service time (from the actual send) is kept beside it. The pacer also tracks how far the
// sender fell behind its schedule, so a run that could not reach its rate is marked INVALID rather than
// reported as if it had.
//
// Not thread-safe: one Pacer per worker; each worker gets rate / workers.

#include <cstdint>
#include <random>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/units.hpp"

namespace kp {

enum class Arrival {
  constant,  // exactly 1/rate apart
  poisson,   // exponential gaps with mean 1/rate
};

struct PacerStats {
  std::uint64_t sends = 0;       // requests whose send was reported
  std::uint64_t late_sends = 0;  // a subset of sends: sent more than the tolerance after their intended time
  Duration max_lag{0};           // the worst (actual - intended) seen
  Histogram lag;                 // actual - intended per send, ns

  void merge(const PacerStats& other);
  double late_fraction() const { return sends == 0 ? 0.0 : double(late_sends) / double(sends); }
};

class Pacer {
 public:
  // The first intended time is `start` (constant) or start + one random gap (poisson).
  // A send later than `tolerance` after its intended time counts as late; an early send counts as on time.
  // The rate must be > 0 (callers validate it); otherwise every intended time is TimePoint::max(), i.e.
  // never.
  Pacer(Rate rate, Arrival arrival, TimePoint start, std::uint64_t seed = 1,
        Duration tolerance = std::chrono::milliseconds(1));

  // Intended send time of the next request. Never depends on when previous requests completed.
  TimePoint next();
  // Number of intended times handed out so far.
  std::uint64_t issued() const { return issued_; }
  // Report that the request intended for `intended` actually went out at `actual`.
  void record_send(TimePoint intended, TimePoint actual);
  const PacerStats& stats() const { return stats_; }

 private:
  double interval_ns_;
  Arrival arrival_;
  TimePoint start_;
  Duration tolerance_;
  std::mt19937_64 random_;
  std::exponential_distribution<double> gap_;
  double poisson_offset_ns_ = 0;
  std::uint64_t issued_ = 0;
  PacerStats stats_;
};

// One open-loop request's two latencies: corrected (from the intended time; the truthful one) and
// uncorrected (service time from the actual send).
struct LatencyRecorder {
  Histogram corrected;
  Histogram uncorrected;

  void record(TimePoint intended, TimePoint sent, TimePoint completed);
  void merge(const LatencyRecorder& other);
};

}  // namespace kp
