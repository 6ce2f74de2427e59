#pragma once

// A log-linear (HDR-style) histogram of non-negative integer values, normally nanoseconds.
// Range 1 ns .. 1 h at 3 significant digits: every recorded value is represented by a bucket whose width is at
// most 1/1000 of the value, so any percentile is within 0.1 % of the exact one. Memory is fixed at construction.
// Values below 1 (i.e. 0) are counted in underflow and values above 1 h in overflow: both still count towards
// count() and percentiles (as lowest/highest) and min()/max() keep their exact values, so nothing is lost.
//
// Not thread-safe: each worker owns its histograms and merges them after the run (merge is exact:
// merging per-thread histograms equals recording everything into one).

#include <cstdint>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "core/units.hpp"

namespace kp {

class Histogram {
 public:
  static constexpr std::int64_t kLowest = 1;                         // 1 ns
  static constexpr std::int64_t kHighest = 3'600'000'000'000;        // 1 h in ns
  static constexpr int kSignificantDigits = 3;

  Histogram();

  void record(std::int64_t value, std::uint64_t times = 1);
  void record(Duration value) { record(value.count()); }
  void merge(const Histogram& other);
  void reset();

  std::uint64_t count() const { return total_count_; }
  std::uint64_t underflow_count() const { return underflow_count_; }
  std::uint64_t overflow_count() const { return overflow_count_; }
  // Exact extremes of what was recorded (0 when empty).
  std::int64_t min() const;
  std::int64_t max() const;
  // Exact mean (from an exact integer sum); stddev from the buckets.
  double mean() const;
  double stddev() const;
  // The value at or below which `percentile` % of the recorded values fall; percentile in [0, 100].
  // Returns a value equivalent (same bucket) to the exact order statistic; 0 when empty.
  std::int64_t value_at_percentile(double percentile) const;

  // Lossless JSON: {"version":1,"unit":"ns","count":..,"min":..,"max":..,"sum":..,"underflow":..,"overflow":..,
  // "buckets":[[index,count],...]} with only non-empty buckets. from_json(to_json(h)) == h.
  nlohmann::json to_json() const;
  static Result<Histogram> from_json(const nlohmann::json& json);

  friend bool operator==(const Histogram& a, const Histogram& b);

 private:
  std::size_t index_of(std::int64_t value) const;
  std::int64_t lowest_equivalent(std::size_t index) const;
  std::int64_t highest_equivalent(std::size_t index) const;

  std::vector<std::uint64_t> counts_;
  std::uint64_t total_count_ = 0;
  std::uint64_t underflow_count_ = 0;
  std::uint64_t overflow_count_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  // Exact sum of recorded values; __int128 so an hour of nanosecond values at millions per second cannot wrap.
  __int128 sum_ = 0;
};

}  // namespace kp
