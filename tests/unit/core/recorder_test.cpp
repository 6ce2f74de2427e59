#include "core/recorder.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace kp {
namespace {

using namespace std::chrono_literals;

void expect_same_series(const std::vector<SecondSnapshot>& a, const std::vector<SecondSnapshot>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].second, b[i].second) << i;
    EXPECT_EQ(a[i].count, b[i].count) << i;
    EXPECT_EQ(a[i].rate, b[i].rate) << i;
    EXPECT_EQ(a[i].p50, b[i].p50) << i;
    EXPECT_EQ(a[i].p99, b[i].p99) << i;
  }
}

TEST(Recorder, CountsAndRatesPerSecondWithTheFakeClock) {
  FakeClock clock;
  Recorder recorder(clock.now());
  // 1000/s for two seconds, then 250/s for one second, each value 1 ms.
  for (int i = 0; i < 2000; ++i) {
    recorder.record("etcd.write", clock.now(), 1'000'000);
    clock.advance(1ms);
  }
  for (int i = 0; i < 250; ++i) {
    recorder.record("etcd.write", clock.now(), 1'000'000);
    clock.advance(4ms);
  }
  const std::vector<SecondSnapshot> series = recorder.series("etcd.write");
  ASSERT_EQ(series.size(), 3u);
  EXPECT_EQ(series[0].second, 0);
  EXPECT_EQ(series[0].count, 1000u);
  EXPECT_EQ(series[0].rate, 1000.0);
  EXPECT_EQ(series[1].count, 1000u);
  EXPECT_EQ(series[2].second, 2);
  EXPECT_EQ(series[2].count, 250u);
  EXPECT_EQ(series[2].rate, 250.0);
  for (const SecondSnapshot& snapshot : series) {
    EXPECT_EQ(snapshot.p50, 1'000'000);  // clamped to the second's exact max
    EXPECT_EQ(snapshot.p99, 1'000'000);
  }
  EXPECT_EQ(recorder.histogram("etcd.write").count(), 2250u);
}

TEST(Recorder, PerSecondPercentilesAreCloseToExact) {
  const TimePoint start{};
  Recorder recorder(start);
  std::mt19937_64 random(7);
  std::uniform_int_distribution<std::int64_t> latency(10'000, 50'000'000);
  std::vector<std::int64_t> values;
  for (int i = 0; i < 10'000; ++i) {
    values.push_back(latency(random));
    recorder.record("m", start + std::chrono::microseconds(i * 100), values.back());
  }
  std::sort(values.begin(), values.end());
  const std::vector<SecondSnapshot> series = recorder.series("m");
  ASSERT_EQ(series.size(), 1u);
  const auto exact = [&](double p) { return values[percentile_rank(p, values.size()) - 1]; };
  EXPECT_GE(series[0].p50, exact(50));
  EXPECT_LE(static_cast<double>(series[0].p50), static_cast<double>(exact(50)) * 1.008);
  EXPECT_GE(series[0].p99, exact(99));
  EXPECT_LE(static_cast<double>(series[0].p99), static_cast<double>(exact(99)) * 1.008);
}

TEST(Recorder, PerSecondResolutionHoldsAcrossTheRange) {
  const TimePoint start{};
  Recorder recorder(start);
  std::vector<std::int64_t> values;
  for (double value = 1; value < static_cast<double>(Histogram::kHighest); value *= 1.37) {
    values.push_back(static_cast<std::int64_t>(value));
  }
  // One second per value, each with a larger companion so the P50 is not clamped to the second's max.
  for (std::size_t i = 0; i < values.size(); ++i) {
    const TimePoint at = start + std::chrono::seconds(static_cast<std::int64_t>(i));
    recorder.record("m", at, values[i]);
    recorder.record("m", at, Histogram::kHighest);
  }
  const std::vector<SecondSnapshot> series = recorder.series("m");
  ASSERT_EQ(series.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_GE(series[i].p50, values[i]);
    EXPECT_LE(static_cast<double>(series[i].p50 - values[i]), static_cast<double>(values[i]) * 0.008)
        << values[i];
    if (values[i] < 1024) {
      EXPECT_EQ(series[i].p50, values[i]);
    }
  }
}

TEST(Recorder, GapsAreFilledWithZeroCounts) {
  const TimePoint start{};
  Recorder recorder(start);
  recorder.record("dns", start + 100ms, 5'000);
  recorder.record("dns", start + 3s + 1ms, 7'000);
  recorder.record("dns", start + 5s, 9'000);
  const std::vector<SecondSnapshot> series = recorder.series("dns");
  ASSERT_EQ(series.size(), 6u);
  const std::uint64_t counts[] = {1, 0, 0, 1, 0, 1};
  for (std::size_t i = 0; i < series.size(); ++i) {
    EXPECT_EQ(series[i].second, static_cast<std::int64_t>(i));
    EXPECT_EQ(series[i].count, counts[i]) << i;
  }
  EXPECT_EQ(series[1].rate, 0);
  EXPECT_EQ(series[1].p50, 0);
  EXPECT_EQ(series[1].p99, 0);
  EXPECT_EQ(series[3].p99, 7'000);
}

TEST(Recorder, LateAndEarlyValuesLandInTheirSecond) {
  const TimePoint start = TimePoint{} + 1h;
  Recorder recorder(start);
  recorder.record("m", start + 5s, 10);
  recorder.record("m", start + 2s, 20);     // reported after its second was left behind
  recorder.record("m", start - 500ms, 30);  // before the start: second -1
  recorder.record("m", start + 5s + 900ms, 40);
  recorder.record("m", start + 2s + 1ms, 50);
  const std::vector<SecondSnapshot> series = recorder.series("m");
  ASSERT_EQ(series.size(), 7u);
  EXPECT_EQ(series.front().second, -1);
  EXPECT_EQ(series.front().count, 1u);
  EXPECT_EQ(series[3].second, 2);
  EXPECT_EQ(series[3].count, 2u);
  EXPECT_EQ(series[3].p99, 50);
  EXPECT_EQ(series.back().second, 5);
  EXPECT_EQ(series.back().count, 2u);
}

TEST(Recorder, MergeEqualsRecordingEverythingInOne) {
  const TimePoint start{};
  Recorder all(start);
  std::vector<Recorder> workers(4, Recorder(start));
  std::mt19937_64 random(11);
  std::lognormal_distribution<double> latency(13, 1.5);  // around 0.5 ms with a long tail
  std::uniform_int_distribution<std::int64_t> when(0, 30'000'000'000);
  for (int i = 0; i < 100'000; ++i) {
    const TimePoint at = start + Duration(when(random));
    const auto value = static_cast<std::int64_t>(latency(random));
    const char* metric = i % 3 == 0 ? "api.list" : "api.get";
    workers[static_cast<std::size_t>(i) % workers.size()].record(metric, at, value);
    all.record(metric, at, value);
  }
  Recorder merged(start);
  for (const Recorder& worker : workers) {
    merged.merge(worker);
  }
  EXPECT_EQ(merged.metrics(), all.metrics());
  for (const std::string& metric : all.metrics()) {
    EXPECT_EQ(merged.histogram(metric), all.histogram(metric)) << metric;
    expect_same_series(merged.series(metric), all.series(metric));
  }
}

TEST(Recorder, MergeIntoARecorderThatIsStillRecording) {
  const TimePoint start{};
  Recorder a(start);
  Recorder b(start);
  Recorder all(start);
  // b's open second (4) is a's open second too, and b has seconds a never saw.
  for (int s : {1, 4}) {
    a.record("m", start + std::chrono::seconds(s), 1000 + s);
    all.record("m", start + std::chrono::seconds(s), 1000 + s);
  }
  for (int s : {0, 2, 4, 4, 6}) {
    b.record("m", start + std::chrono::seconds(s), 3000 + s);
    all.record("m", start + std::chrono::seconds(s), 3000 + s);
  }
  a.merge(b);
  expect_same_series(a.series("m"), all.series("m"));
  // And it keeps recording correctly afterwards.
  a.record("m", start + 4s, 5);
  all.record("m", start + 4s, 5);
  a.record("m", start + 7s, 6);
  all.record("m", start + 7s, 6);
  expect_same_series(a.series("m"), all.series("m"));
  EXPECT_EQ(a.histogram("m"), all.histogram("m"));
}

TEST(Recorder, MergeShiftsByTheDifferenceOfStarts) {
  const TimePoint start{};
  Recorder early(start);
  Recorder late(start + 10s);
  late.record("m", start + 12s, 1);
  early.merge(late);
  const std::vector<SecondSnapshot> series = early.series("m");
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].second, 12);
}

TEST(Recorder, UnknownMetricIsEmpty) {
  Recorder recorder(TimePoint{});
  EXPECT_TRUE(recorder.metrics().empty());
  EXPECT_EQ(recorder.histogram("nope").count(), 0u);
  EXPECT_TRUE(recorder.series("nope").empty());
  recorder.record("b", TimePoint{}, 1);
  recorder.record("a", TimePoint{}, 1);
  EXPECT_EQ(recorder.metrics(), (std::vector<std::string>{"a", "b"}));
}

TEST(Recorder, OutOfRangeValuesCount) {
  const TimePoint start{};
  Recorder recorder(start);
  recorder.record("m", start, 0);
  recorder.record("m", start, Histogram::kHighest + 5);
  recorder.record("m", start + 1s, -1);
  recorder.record("m", start, 42);
  const std::vector<SecondSnapshot> series = recorder.series("m");
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].count, 3u);
  EXPECT_EQ(series[0].p50, 42);
  EXPECT_EQ(series[0].p99, Histogram::kHighest + 5);
  EXPECT_EQ(series[1].p50, -1);
  EXPECT_EQ(recorder.histogram("m").underflow_count(), 2u);
}

TEST(Recorder, CopiesAndMovesKeepTheData) {
  Recorder recorder(TimePoint{});
  recorder.record("m", TimePoint{} + 1s, 7);
  Recorder copy = recorder;
  Recorder moved = std::move(recorder);
  expect_same_series(copy.series("m"), moved.series("m"));
  EXPECT_EQ(copy.histogram("m"), moved.histogram("m"));
  EXPECT_EQ(copy.start(), TimePoint{});
}

}  // namespace
}  // namespace kp
