#pragma once

// Per metric: a whole-run histogram plus per-second snapshots (count, rate, P50, P99) for progress, live
// metrics and charts. One Recorder per worker thread (not thread-safe); merge() after the run combines them
// exactly, second by second.
//
// Memory: the whole-run histogram has full precision (0.1 %). Each finished second is kept as a sparse list
// of coarser buckets (above 1023 ns, 8 adjacent histogram buckets each, so per-second P50 and P99 are within
// 0.8 %): a few KiB at most, instead of 3600 dense 264 KiB histograms per metric for an hour-long run.
// Verdicts use the whole-run histogram; the per-second series is for progress and charts. Per-second
// percentiles follow Histogram's rule (highest value of the bucket holding the rank, clamped to that second's
// exact max).

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/histogram.hpp"

namespace kp {

struct SecondSnapshot {
  std::int64_t second = 0;  // seconds since the recorder's start
  std::uint64_t count = 0;
  double rate = 0;  // count per second over that second
  std::int64_t p50 = 0;
  std::int64_t p99 = 0;
};

class Recorder {
 public:
  explicit Recorder(TimePoint start);
  // Out of line because Series is defined in recorder.cpp.
  ~Recorder();
  Recorder(const Recorder& other);
  Recorder(Recorder&& other) noexcept;
  Recorder& operator=(const Recorder& other);
  Recorder& operator=(Recorder&& other) noexcept;

  // Records `value` (e.g. a latency in ns) for `metric`, observed at `at`.
  void record(std::string_view metric, TimePoint at, std::int64_t value);
  // Combines another recorder's data. Recorders to merge normally share their start; otherwise the other's
  // seconds are shifted by the whole seconds between the two starts.
  void merge(const Recorder& other);

  std::vector<std::string> metrics() const;
  // Whole-run histogram; empty if the metric was never recorded.
  const Histogram& histogram(std::string_view metric) const;
  // One snapshot per second from the first to the last second with data (seconds without data have count 0).
  std::vector<SecondSnapshot> series(std::string_view metric) const;
  TimePoint start() const { return start_; }

 private:
  struct Series;
  TimePoint start_;
  std::map<std::string, Series, std::less<>> series_;
};

}  // namespace kp
