#include "core/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kp {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr double kPercentiles[] = {0, 1, 50, 90, 99, 99.9, 99.99, 100};

Histogram record_all(const std::vector<std::int64_t>& values) {
  Histogram histogram;
  for (std::int64_t value : values) {
    histogram.record(value);
  }
  return histogram;
}

// The exact order statistic for `percentile`, by the same rank rule the histogram documents.
std::int64_t exact_percentile(const std::vector<std::int64_t>& sorted, double percentile) {
  return sorted[percentile_rank(percentile, sorted.size()) - 1];
}

// A histogram percentile must be the highest value of the bucket holding the exact order statistic, clamped
// to max(): never below the exact value and at most 0.1 % above it. Values outside 1 ns .. 1 h are reported
// as the edge of their region (0 for underflow, max() for overflow).
void expect_percentiles_accurate(const std::vector<std::int64_t>& values, const std::string& name) {
  std::vector<std::int64_t> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  const Histogram histogram = record_all(values);
  for (double p : kPercentiles) {
    const std::int64_t exact = exact_percentile(sorted, p);
    const std::int64_t got = histogram.value_at_percentile(p);
    if (exact < Histogram::kLowest) {
      EXPECT_EQ(got, std::min<std::int64_t>(0, sorted.back())) << name << " p" << p;
    } else if (exact > Histogram::kHighest) {
      EXPECT_EQ(got, sorted.back()) << name << " p" << p;
    } else {
      EXPECT_GE(got, exact) << name << " p" << p;
      EXPECT_LE(static_cast<double>(got - exact), static_cast<double>(exact) * 0.001)
          << name << " p" << p << " exact " << exact << " got " << got;
    }
  }
}

std::vector<std::int64_t> uniform_values(std::uint64_t seed, std::size_t n, std::int64_t low,
                                         std::int64_t high) {
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<std::int64_t> distribution(low, high);
  std::vector<std::int64_t> values(n);
  for (auto& value : values) {
    value = distribution(random);
  }
  return values;
}

std::vector<std::int64_t> log_uniform_values(std::uint64_t seed, std::size_t n) {
  std::mt19937_64 random(seed);
  std::uniform_real_distribution<double> exponent(0, std::log(static_cast<double>(Histogram::kHighest)));
  std::vector<std::int64_t> values(n);
  for (auto& value : values) {
    value = std::clamp<std::int64_t>(std::llround(std::exp(exponent(random))), 1, Histogram::kHighest);
  }
  return values;
}

std::vector<std::int64_t> exponential_values(std::uint64_t seed, std::size_t n, double mean) {
  std::mt19937_64 random(seed);
  std::exponential_distribution<double> distribution(1 / mean);
  std::vector<std::int64_t> values(n);
  for (auto& value : values) {
    value = std::llround(distribution(random));
  }
  return values;
}

// Powers of two and their neighbours, every bucket's first and last value, 0, the range edges and beyond.
std::vector<std::int64_t> adversarial_values() {
  std::vector<std::int64_t> values = {
      0, 1, 2, 1023, 1024, 2047, 2048, 2049, Histogram::kHighest - 1, Histogram::kHighest};
  for (int bit = 1; bit < 42; ++bit) {
    const std::int64_t power = std::int64_t{1} << bit;
    values.insert(values.end(), {power - 1, power, power + 1});
  }
  for (std::size_t index = 0; index <= Histogram::index_of(Histogram::kHighest); index += 97) {
    values.push_back(Histogram::lowest_equivalent(index));
    values.push_back(std::min(Histogram::highest_equivalent(index), Histogram::kHighest));
  }
  return values;
}

double exact_mean(const std::vector<std::int64_t>& values) {
  Int128 sum = 0;
  for (std::int64_t value : values) {
    sum += value;
  }
  return static_cast<double>(static_cast<long double>(sum) / static_cast<long double>(values.size()));
}

double exact_stddev(const std::vector<std::int64_t>& values) {
  const long double mean = exact_mean(values);
  long double squares = 0;
  for (std::int64_t value : values) {
    squares += (value - mean) * (value - mean);
  }
  return static_cast<double>(std::sqrt(squares / static_cast<long double>(values.size())));
}

TEST(HistogramLayout, EveryBucketIsNarrowAndContiguous) {
  const std::size_t last = Histogram::index_of(Histogram::kHighest);
  ASSERT_LT(last, Histogram::kCountsLength);
  EXPECT_EQ(Histogram::index_of(1), 1u);
  for (std::size_t index = 1; index <= last; ++index) {
    const std::int64_t low = Histogram::lowest_equivalent(index);
    const std::int64_t high = Histogram::highest_equivalent(index);
    ASSERT_EQ(Histogram::index_of(low), index);
    ASSERT_EQ(Histogram::index_of(high), index);
    ASSERT_EQ(Histogram::highest_equivalent(index - 1) + 1, low) << index;
    // Width at most 1/1000 of every value in the bucket: three significant digits.
    ASSERT_LE(static_cast<double>(high - low), static_cast<double>(low) / 1000) << index;
  }
}

TEST(HistogramAccuracy, UniformData) {
  expect_percentiles_accurate(uniform_values(1, 100'000, 1, 1'000'000'000), "uniform 1ns..1s");
  expect_percentiles_accurate(uniform_values(2, 100'000, 1, 5'000), "uniform 1ns..5us");
  expect_percentiles_accurate(uniform_values(3, 100'000, 1, Histogram::kHighest), "uniform 1ns..1h");
}

TEST(HistogramAccuracy, LogUniformData) {
  expect_percentiles_accurate(log_uniform_values(4, 200'000), "log-uniform 1ns..1h");
}

TEST(HistogramAccuracy, ExponentialData) {
  expect_percentiles_accurate(exponential_values(5, 200'000, 1e6), "exponential mean 1ms");
  expect_percentiles_accurate(exponential_values(6, 200'000, 3e3), "exponential mean 3us");
}

TEST(HistogramAccuracy, AllEqualValues) {
  for (std::int64_t value :
       {std::int64_t{0}, std::int64_t{1}, std::int64_t{1000}, std::int64_t{2047}, std::int64_t{2048},
        std::int64_t{123'456'789}, Histogram::kHighest, Histogram::kHighest + 1, kMaxInt64}) {
    const std::vector<std::int64_t> values(1000, value);
    expect_percentiles_accurate(values, "all " + std::to_string(value));
    const Histogram histogram = record_all(values);
    // Clamping to max() makes a constant distribution exact at every percentile.
    for (double p : kPercentiles) {
      EXPECT_EQ(histogram.value_at_percentile(p), value) << value << " p" << p;
    }
    EXPECT_EQ(histogram.stddev(), 0) << value;
  }
}

TEST(HistogramAccuracy, AdversarialValues) {
  const std::vector<std::int64_t> values = adversarial_values();
  expect_percentiles_accurate(values, "adversarial");
  // Every single one of them, as the only value, is within 0.1 % (or exact, being max()).
  for (std::int64_t value : values) {
    Histogram histogram;
    histogram.record(value);
    histogram.record(Histogram::kLowest);
    const std::int64_t p100 = histogram.value_at_percentile(100);
    ASSERT_EQ(p100, std::max(value, Histogram::kLowest)) << value;
    const std::int64_t p50 = histogram.value_at_percentile(50);
    ASSERT_EQ(p50, std::min<std::int64_t>(value, 1)) << value;
  }
}

TEST(HistogramAccuracy, OutOfRangeValuesAreCountedNotLost) {
  const std::vector<std::int64_t> values = {
      0, 0, -5, 7, 2'000'000, Histogram::kHighest, Histogram::kHighest + 1, kMaxInt64};
  const Histogram histogram = record_all(values);
  EXPECT_EQ(histogram.count(), values.size());
  EXPECT_EQ(histogram.underflow_count(), 3u);
  EXPECT_EQ(histogram.overflow_count(), 2u);
  EXPECT_EQ(histogram.min(), -5);
  EXPECT_EQ(histogram.max(), kMaxInt64);
  EXPECT_EQ(histogram.value_at_percentile(0), 0);
  EXPECT_EQ(histogram.value_at_percentile(100), kMaxInt64);
  expect_percentiles_accurate(values, "out of range");
}

TEST(HistogramAccuracy, PercentileRankIsRobustToFloatingPoint) {
  EXPECT_EQ(percentile_rank(99.9, 1000), 999u);
  EXPECT_EQ(percentile_rank(99.99, 10'000), 9999u);
  EXPECT_EQ(percentile_rank(90, 10), 9u);
  EXPECT_EQ(percentile_rank(50, 3), 2u);
  EXPECT_EQ(percentile_rank(0, 3), 1u);
  EXPECT_EQ(percentile_rank(100, 3), 3u);
  EXPECT_EQ(percentile_rank(250, 3), 3u);
  EXPECT_EQ(percentile_rank(-1, 3), 1u);
  EXPECT_EQ(percentile_rank(std::nan(""), 3), 1u);
  EXPECT_EQ(percentile_rank(50, 0), 0u);
}

TEST(HistogramStatistics, MinMaxMeanAreExact) {
  for (const auto& values : {uniform_values(7, 50'000, 1, 1'000'000'000), log_uniform_values(8, 50'000),
                             exponential_values(9, 50'000, 1e6), adversarial_values()}) {
    const Histogram histogram = record_all(values);
    EXPECT_EQ(histogram.count(), values.size());
    EXPECT_EQ(histogram.min(), *std::min_element(values.begin(), values.end()));
    EXPECT_EQ(histogram.max(), *std::max_element(values.begin(), values.end()));
    EXPECT_EQ(histogram.mean(), exact_mean(values));
  }
}

TEST(HistogramStatistics, MeanDoesNotWrap) {
  Histogram histogram;
  histogram.record(kMaxInt64, 1000);
  histogram.record(kMaxInt64 - 1, 1000);
  EXPECT_DOUBLE_EQ(histogram.mean(), static_cast<double>(kMaxInt64));
}

TEST(HistogramStatistics, StddevWithinPointTwoPercent) {
  for (const auto& values : {uniform_values(10, 100'000, 1, 1'000'000'000), log_uniform_values(11, 100'000),
                             exponential_values(12, 100'000, 1e6), uniform_values(13, 100'000, 1, 3000)}) {
    const Histogram histogram = record_all(values);
    const double exact = exact_stddev(values);
    EXPECT_NEAR(histogram.stddev(), exact, exact * 0.002);
  }
}

TEST(HistogramStatistics, EmptyHistogram) {
  const Histogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.min(), 0);
  EXPECT_EQ(histogram.max(), 0);
  EXPECT_EQ(histogram.mean(), 0);
  EXPECT_EQ(histogram.stddev(), 0);
  EXPECT_EQ(histogram.value_at_percentile(99), 0);
  EXPECT_EQ(histogram, Histogram());
}

TEST(HistogramStatistics, RecordTimesAndDuration) {
  Histogram many;
  many.record(5'000, 2);
  many.record(std::chrono::microseconds(5));
  Histogram single;
  for (int i = 0; i < 3; ++i) {
    single.record(5'000);
  }
  EXPECT_EQ(many, single);
  EXPECT_EQ(many.count(), 3u);
  many.record(7, 0);  // recording nothing changes nothing, min and max included
  EXPECT_EQ(many, single);
}

TEST(HistogramStatistics, ResetEmpties) {
  Histogram histogram = record_all(uniform_values(14, 1000, 1, 1'000'000));
  histogram.reset();
  EXPECT_EQ(histogram, Histogram());
  histogram.record(42);
  EXPECT_EQ(histogram.min(), 42);
  EXPECT_EQ(histogram.max(), 42);
}

TEST(HistogramStatistics, MovedFromCanBeReset) {
  Histogram source = record_all({1, 2, 3});
  Histogram target = std::move(source);
  Histogram merged;
  merged.merge(source);  // NOLINT(bugprone-use-after-move): must not read out of bounds
  EXPECT_EQ(merged, Histogram());
  source.reset();
  source.record(9);
  EXPECT_EQ(source.value_at_percentile(50), 9);
  EXPECT_EQ(target.count(), 3u);
}

TEST(HistogramMerge, EqualsRecordingEverythingInOne) {
  std::vector<std::int64_t> values = log_uniform_values(15, 100'000);
  const std::vector<std::int64_t> adversarial = adversarial_values();
  values.insert(values.end(), adversarial.begin(), adversarial.end());
  values.insert(values.end(), {0, -3, Histogram::kHighest + 1, kMaxInt64});
  std::shuffle(values.begin(), values.end(), std::mt19937_64(16));

  Histogram parts[4];
  for (std::size_t i = 0; i < values.size(); ++i) {
    parts[i % 4].record(values[i]);
  }
  Histogram merged;
  for (const Histogram& part : parts) {
    merged.merge(part);
  }
  const Histogram whole = record_all(values);
  EXPECT_EQ(merged, whole);
  for (double p : kPercentiles) {
    EXPECT_EQ(merged.value_at_percentile(p), whole.value_at_percentile(p)) << p;
  }
  EXPECT_EQ(merged.min(), whole.min());
  EXPECT_EQ(merged.max(), whole.max());
  EXPECT_EQ(merged.mean(), whole.mean());
  EXPECT_EQ(merged.stddev(), whole.stddev());
  EXPECT_EQ(merged.underflow_count(),
            std::count_if(values.begin(), values.end(), [](auto v) { return v < 1; }));
  EXPECT_EQ(merged.overflow_count(),
            std::count_if(values.begin(), values.end(), [](auto v) { return v > Histogram::kHighest; }));
  EXPECT_GT(merged.underflow_count(), 0u);
  EXPECT_GT(merged.overflow_count(), 0u);
}

TEST(HistogramMerge, WithEmptyIsIdentity) {
  const Histogram histogram = record_all({5, 10, 15});
  Histogram merged = histogram;
  merged.merge(Histogram());
  EXPECT_EQ(merged, histogram);
  Histogram empty;
  empty.merge(histogram);
  EXPECT_EQ(empty, histogram);
}

// Histograms from outside (agents' lines, report.json) can hold sums near the Int128 limit; merging two such
// sums overflowed (undefined). It saturates instead, so the mean stays "enormous", never wraps negative.
TEST(HistogramMerge, SumsPastTheInt128LimitSaturate) {
  Histogram a;
  a.record(kMaxInt64, std::numeric_limits<std::uint64_t>::max() / 2);
  Histogram b = a;
  a.merge(b);
  a.merge(b);
  EXPECT_GT(a.mean(), 1e18);
}

TEST(HistogramJson, RoundTripsExactly) {
  std::vector<Histogram> cases = {Histogram(), record_all(log_uniform_values(17, 10'000)),
                                  record_all(adversarial_values()),
                                  record_all({0, -5, Histogram::kHighest + 1}), record_all({kMaxInt64})};
  Histogram huge_sum;
  huge_sum.record(kMaxInt64, 1000);  // the sum needs more than 64 bits and travels as a string
  cases.push_back(huge_sum);
  Histogram negative_sum;
  negative_sum.record(std::numeric_limits<std::int64_t>::min(), 10);
  cases.push_back(negative_sum);
  for (const Histogram& histogram : cases) {
    const json serialised = histogram.to_json();
    auto back = Histogram::from_json(serialised);
    ASSERT_TRUE(back.has_value()) << back.error().message << "\n" << serialised.dump();
    EXPECT_EQ(*back, histogram);
    // And through text, as it travels between an agent pod and the runner.
    auto reparsed = Histogram::from_json(json::parse(serialised.dump()));
    ASSERT_TRUE(reparsed.has_value()) << reparsed.error().message;
    EXPECT_EQ(*reparsed, histogram);
    EXPECT_EQ(reparsed->value_at_percentile(99), histogram.value_at_percentile(99));
  }
  EXPECT_TRUE(huge_sum.to_json()["sum"].is_string());
}

TEST(HistogramJson, IsSparseAndDocumented) {
  const json serialised = record_all({0, 5, 5, 3000}).to_json();
  EXPECT_EQ(serialised.dump(),
            R"({"buckets":[[5,2],[2524,1]],"count":4,"max":3000,"min":0,"overflow":0,"sum":3010,)"
            R"("underflow":1,"unit":"ns","version":1})");
}

std::string rejection(const std::string& text) {
  auto result = Histogram::from_json(json::parse(text));
  EXPECT_FALSE(result.has_value()) << text;
  if (result.has_value()) {
    return "<accepted>";
  }
  EXPECT_EQ(result.error().kind, ErrorKind::input);
  return result.error().message;
}

TEST(HistogramJson, RejectsMalformedInputWithClearMessages) {
  const std::string good_tail = R"("unit":"ns","min":5,"max":5,"sum":10,"underflow":0,"overflow":0)";
  EXPECT_EQ(rejection(R"([1,2])"), "histogram: expected an object, got array");
  EXPECT_EQ(rejection(R"({"version":2,"count":0,"buckets":[]})"),
            "histogram: unsupported version 2 (expected 1)");
  EXPECT_EQ(rejection(R"({"count":0})"), R"(histogram: missing "version")");
  EXPECT_EQ(rejection(R"({"version":1,"count":-2,)" + good_tail + R"(,"buckets":[]})"),
            R"(histogram: "count" must be a non-negative integer, got -2)");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,)" + good_tail + R"(,"buckets":[[5,-2]]})"),
            "histogram: buckets[0]: count must be a non-negative integer, got -2");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,)" + good_tail + R"(,"buckets":[[40000,2]]})"),
            "histogram: buckets[0]: index 40000 out of range (1..33420)");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,"min":0,"max":0,"sum":0,"underflow":0,"overflow":0,)"
                      R"("buckets":[[0,2]]})"),
            "histogram: buckets[0]: index 0 out of range (1..33420)");
  EXPECT_EQ(rejection(R"({"version":1,"count":3,)" + good_tail + R"(,"buckets":[[5,2]]})"),
            R"(histogram: bucket counts with underflow and overflow sum to 2 but "count" is 3)");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,)" + good_tail + R"(,"buckets":[[5,1],[5,1]]})"),
            "histogram: buckets[1]: index 5 out of order (indices must be strictly increasing)");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,)" + good_tail + R"(,"buckets":[[5]]})"),
            "histogram: buckets[0] must be [index, count], got [5]");
  EXPECT_EQ(
      rejection(R"({"version":1,"count":2,"unit":"us","min":5,"max":5,"sum":10,"underflow":0,"overflow":0,)"
                R"("buckets":[[5,2]]})"),
      R"(histogram: unsupported unit "us" (expected "ns"))");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,"min":9,"max":9,"sum":18,"underflow":0,"overflow":0,)"
                      R"("buckets":[[5,2]]})"),
            R"(histogram: "min" 9 does not lie in the lowest non-empty bucket)");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,"min":5,"max":5,"sum":"12x","underflow":0,"overflow":0,)"
                      R"("buckets":[[5,2]]})"),
            R"(histogram: "sum" must be an integer or a decimal string, got "12x")");
  EXPECT_EQ(rejection(R"({"version":1,"count":2,"min":5,"max":5,"sum":11,"underflow":0,"overflow":0,)"
                      R"("buckets":[[5,2]]})"),
            R"(histogram: "sum" 11 is not between count * min and count * max)");
  EXPECT_EQ(
      rejection(R"({"version":1,"count":0,"min":5,"max":0,"sum":0,"underflow":0,"overflow":0,"buckets":[]})"),
      "histogram: an empty histogram must have min, max and sum 0, got 5, 0 and 0");
  // Odd shapes and types never throw out.
  for (
      const char* text :
      {R"(null)", R"("x")", R"({"version":"1"})", R"({"version":1.0})",
       R"({"version":1,"count":1,"min":1,"max":1,"sum":1,"underflow":0,"overflow":0,"buckets":{}})",
       R"({"version":1,"count":1.5,"min":1,"max":1,"sum":1,"underflow":0,"overflow":0,"buckets":[]})",
       R"({"version":1,"count":1,"min":1,"max":1e30,"sum":1,"underflow":0,"overflow":0,"buckets":[]})",
       R"({"version":1,"count":18446744073709551615,"min":1,"max":1,"sum":1,"underflow":18446744073709551615,"overflow":2,"buckets":[]})"}) {
    rejection(text);
  }
}

}  // namespace
}  // namespace kp
