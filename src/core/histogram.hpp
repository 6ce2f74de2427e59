#pragma once

// A log-linear (HDR-style) histogram of non-negative integer values, normally nanoseconds.
// Range 1 ns .. 1 h at 3 significant digits: every recorded value is represented by a bucket whose width is
// at most 1/1000 of the value, so any percentile is within 0.1 % of the exact one. Memory is fixed at
// construction. Values below 1 (0, or a negative one from a caller's bug) are counted in underflow and values
// above 1 h in overflow: both still count towards count() and percentiles (as lowest/highest) and min()/max()
// keep their exact values, so nothing is lost.
//
// Not thread-safe: each worker owns its histograms and merges them after the run (merge is exact:
// merging per-thread histograms equals recording everything into one).
// A moved-from histogram may only be destroyed, assigned to or reset().

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "core/units.hpp"

namespace kp {

// -Wpedantic rejects the __int128 keyword; __extension__ on the typedef is GCC's sanctioned way to use it.
__extension__ typedef __int128 Int128;
__extension__ typedef unsigned __int128 UInt128;

// The 1-based rank of the value at `percentile` among `count` sorted values: ceil(percentile/100 * count),
// clamped to [1, count] (0 when count is 0). A product that lands within floating-point noise of an integer
// counts as that integer, so 99.9 % of 1000 is rank 999, not 1000.
std::uint64_t percentile_rank(double percentile, std::uint64_t count);

class Histogram {
 public:
  static constexpr std::int64_t kLowest = 1;                   // 1 ns
  static constexpr std::int64_t kHighest = 3'600'000'000'000;  // 1 h in ns
  static constexpr int kSignificantDigits = 3;

  // Bucket layout (HdrHistogram's, with unit 1 ns): 2048 sub-buckets, i.e. a bucket width of at most 1/1024
  // of its values, doubling 32 times to reach kHighest. (kBucketCount + 1) * 1024 counters, about 264 KiB.
  static constexpr int kSubBucketHalfCountMagnitude = 10;
  static constexpr std::int64_t kSubBucketHalfCount = std::int64_t{1} << kSubBucketHalfCountMagnitude;
  static constexpr std::int64_t kSubBucketMask = 2 * kSubBucketHalfCount - 1;
  static constexpr int kBucketCount = 32;
  static constexpr std::size_t kCountsLength = std::size_t{kBucketCount + 1} << kSubBucketHalfCountMagnitude;

  Histogram();
  Histogram(const Histogram&) = default;
  Histogram& operator=(const Histogram&) = default;
  // Moves leave the source empty (count 0, no counters), so a stray merge() of it adds nothing.
  Histogram(Histogram&& other) noexcept { *this = std::move(other); }
  Histogram& operator=(Histogram&& other) noexcept {
    if (this == &other) {
      return *this;
    }
    counts_ = std::move(other.counts_);
    other.counts_.clear();
    total_count_ = std::exchange(other.total_count_, 0);
    underflow_count_ = std::exchange(other.underflow_count_, 0);
    overflow_count_ = std::exchange(other.overflow_count_, 0);
    min_ = std::exchange(other.min_, std::numeric_limits<std::int64_t>::max());
    max_ = std::exchange(other.max_, std::numeric_limits<std::int64_t>::min());
    sum_ = std::exchange(other.sum_, 0);
    return *this;
  }

  // Inline and branch-light: it runs on every request of every hot path. A value of 0 or below counts in
  // underflow, above kHighest in overflow.
  void record(std::int64_t value, std::uint64_t times = 1) {
    if (times == 0) [[unlikely]] {
      return;  // would otherwise move min/max without a value behind them
    }
    min_ = value < min_ ? value : min_;
    max_ = value > max_ ? value : max_;
    sum_ += static_cast<Int128>(value) * static_cast<Int128>(times);
    total_count_ += times;
    if (static_cast<std::uint64_t>(value) - std::uint64_t{kLowest} < std::uint64_t{kHighest}) [[likely]] {
      counts_[index_of(value)] += times;
    } else if (value < kLowest) {
      underflow_count_ += times;
    } else {
      overflow_count_ += times;
    }
  }
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
  // Returns a value equivalent (same bucket) to the exact order statistic; 0 when empty. Precisely
  // (HdrHistogram's rule): the highest value of the bucket holding rank percentile_rank(percentile, count()),
  // clamped to max(); a rank in underflow gives min(0, max()), a rank in overflow gives max().
  std::int64_t value_at_percentile(double percentile) const;

  // Lossless JSON:
  // {"version":1,"unit":"ns","count":..,"min":..,"max":..,"sum":..,"underflow":..,"overflow":..,
  // "buckets":[[index,count],...]} with only non-empty buckets. from_json(to_json(h)) == h.
  nlohmann::json to_json() const;
  static Result<Histogram> from_json(const nlohmann::json& json);

  friend bool operator==(const Histogram& a, const Histogram& b);

  // The bucket of a value in [kLowest, kHighest] (an index into the counters, < kCountsLength), and the range
  // of values that share it. Public so compact copies (Recorder's per-second data) use the same layout.
  static std::size_t index_of(std::int64_t value) {
    const auto bits = static_cast<std::uint64_t>(value) | static_cast<std::uint64_t>(kSubBucketMask);
    const int bucket = 63 - std::countl_zero(bits) - kSubBucketHalfCountMagnitude;
    return (static_cast<std::size_t>(bucket) << kSubBucketHalfCountMagnitude) +
           static_cast<std::size_t>(value >> bucket);
  }
  static std::int64_t lowest_equivalent(std::size_t index);
  static std::int64_t highest_equivalent(std::size_t index);
  // The value reported for a bucket by stddev(): its middle, as HdrHistogram does.
  static std::int64_t median_equivalent(std::size_t index);

 private:
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_count_ = 0;
  std::uint64_t underflow_count_ = 0;
  std::uint64_t overflow_count_ = 0;
  // Sentinels while empty (so record() needs no first-value branch); min()/max() report 0 then.
  std::int64_t min_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ = std::numeric_limits<std::int64_t>::min();
  // Exact sum of recorded values; __int128 so an hour of nanosecond values at millions per second cannot
  // wrap.
  Int128 sum_ = 0;
};

}  // namespace kp
