#include "core/live.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kp {
namespace {

using namespace std::chrono_literals;

// Keeps every hand-over, as the exporter would receive them.
struct KeptDeltas final : LiveSink {
  struct Kept {
    Phase phase;
    std::string series;
    LiveDelta delta;
  };
  void add(const LiveDelta& delta) override {
    kept.push_back({delta.phase, std::string(delta.series), delta});
  }
  std::uint64_t ok() const {
    std::uint64_t sum = 0;
    for (const Kept& k : kept) {
      sum += k.delta.ok;
    }
    return sum;
  }
  std::vector<Kept> kept;
};

TEST(LiveSeries, BucketsFollowPrometheusLeIncludingTheBound) {
  EXPECT_EQ(LiveSeries::bucket_of(1ns), 0u);
  EXPECT_EQ(LiveSeries::bucket_of(100us), 0u);  // le="0.0001" holds 100 µs itself
  EXPECT_EQ(LiveSeries::bucket_of(100us + 1ns), 1u);
  EXPECT_EQ(LiveSeries::bucket_of(1s), 12u);
  EXPECT_EQ(LiveSeries::bucket_of(60s), kLiveBucketBounds.size() - 1);
  EXPECT_EQ(LiveSeries::bucket_of(61s), kLiveBuckets - 1);  // +Inf
}

TEST(LiveSeries, WithoutASinkNothingHappens) {
  LiveSeries series;
  series.record(TimePoint{} + 1s, 1ms);
  series.record_error(TimePoint{} + 2s);
  series.flush();  // no sink to reach: must simply return
  SUCCEED();
}

TEST(LiveSeries, HandsOverAtMostOncePerSecondOfItsClockAndTheRestAtTheEnd) {
  KeptDeltas sink;
  const TimePoint t0 = TimePoint{} + 100s;
  {
    LiveSeries series(&sink, Phase::dns, "query");
    series.record(t0, 2ms);  // the first completion shows the series at once
    ASSERT_EQ(sink.kept.size(), 1u);
    series.record(t0 + 300ms, 3ms);
    series.record_error(t0 + 900ms);
    EXPECT_EQ(sink.kept.size(), 1u);  // within the same second: held
    series.record(t0 + 1s, 70s);      // a second later: everything since the last hand-over
    ASSERT_EQ(sink.kept.size(), 2u);
    series.record(t0 + 1500ms, 50us);
    EXPECT_EQ(sink.kept.size(), 2u);
  }
  ASSERT_EQ(sink.kept.size(), 3u);  // the destructor handed over the last partial second
  EXPECT_EQ(sink.kept[0].series, "query");
  EXPECT_EQ(sink.kept[0].phase, Phase::dns);
  EXPECT_EQ(sink.kept[0].delta.ok, 1u);
  const LiveDelta& second = sink.kept[1].delta;
  EXPECT_EQ(second.ok, 2u);
  EXPECT_EQ(second.errors, 1u);
  EXPECT_EQ(second.buckets[LiveSeries::bucket_of(3ms)], 1u);
  EXPECT_EQ(second.buckets[kLiveBuckets - 1], 1u);  // 70 s: above the last bound
  EXPECT_EQ(second.latency_sum_ns, Duration(3ms + 70s).count());
  EXPECT_EQ(sink.kept[2].delta.ok, 1u);
  EXPECT_EQ(sink.kept[2].delta.buckets[0], 1u);
  EXPECT_EQ(sink.ok(), 4u);
}

TEST(LiveSeries, AMovedSeriesHandsOverOnceNotTwice) {
  KeptDeltas sink;
  {
    LiveSeries first(&sink, Phase::etcd, "put");
    first.record(TimePoint{} + 10s, 1ms);
    first.record(TimePoint{} + 10s + 1ms, 1ms);  // held
    LiveSeries second(std::move(first));
    LiveSeries third;
    third = std::move(second);
  }
  EXPECT_EQ(sink.ok(), 2u);
  EXPECT_EQ(sink.kept.size(), 2u);
}

}  // namespace
}  // namespace kp
