#pragma once

// Per metric: a whole-run histogram plus per-second snapshots (count, rate, P50, P99) for progress, live
// metrics and charts. One Recorder per worker thread (not thread-safe); merge() after the run combines them
// exactly, second by second.

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
  double rate = 0;          // count per second over that second
  std::int64_t p50 = 0;
  std::int64_t p99 = 0;
};

class Recorder {
 public:
  explicit Recorder(TimePoint start);

  // Records `value` (e.g. a latency in ns) for `metric`, observed at `at`.
  void record(std::string_view metric, TimePoint at, std::int64_t value);
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
