#include "core/pacer.hpp"

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace kp {
namespace {

using namespace std::chrono_literals;

TEST(FakeClock, MovesOnlyWhenTold) {
  FakeClock clock;
  const TimePoint start = clock.now();
  const WallTime wall_start = clock.wall_now();
  EXPECT_EQ(clock.now(), start);
  clock.advance(5ms);
  EXPECT_EQ(clock.now(), start + 5ms);
  EXPECT_EQ(clock.wall_now(), wall_start + 5ms);
  clock.sleep_until(start + 1s);
  EXPECT_EQ(clock.now(), start + 1s);
  clock.sleep_until(start);  // a deadline in the past returns at once; time never runs backwards
  EXPECT_EQ(clock.now(), start + 1s);
  clock.advance(-1s);
  EXPECT_EQ(clock.now(), start + 1s);
}

TEST(FakeClock, IsThreadSafe) {
  FakeClock clock;
  const TimePoint start = clock.now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 10'000; ++i) {
        clock.advance(1us);
        (void)clock.now();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(clock.now(), start + 40ms);
}

TEST(RealClock, IsMonotonic) {
  Clock& clock = real_clock();
  EXPECT_EQ(&clock, &real_clock());
  const TimePoint a = clock.now();
  const TimePoint b = clock.now();
  EXPECT_LE(a, b);
  clock.sleep_until(a);  // already past: returns at once
}

TEST(Pacer, ConstantRateGivesExactSpacing) {
  FakeClock clock;
  const TimePoint start = clock.now();
  Pacer pacer(Rate{1000}, Arrival::constant, start);
  for (int k = 0; k < 10'000; ++k) {
    ASSERT_EQ(pacer.next(), start + std::chrono::milliseconds(k)) << k;
  }
  EXPECT_EQ(pacer.issued(), 10'000u);
}

TEST(Pacer, ConstantRateDoesNotDrift) {
  const TimePoint start{};
  Pacer pacer(Rate{3}, Arrival::constant, start);  // 333333333.33 ns: a rounded running sum would drift
  TimePoint last{};
  for (int k = 0; k <= 3'000'000; ++k) {
    last = pacer.next();
  }
  EXPECT_EQ(last, start + 1'000'000s);
}

TEST(Pacer, SenderLoopWithFakeClockSendsEveryMillisecond) {
  FakeClock clock;
  Pacer pacer(Rate{1000}, Arrival::constant, clock.now());
  LatencyRecorder latency;
  TimePoint previous_sent{};
  for (int k = 0; k < 1000; ++k) {
    const TimePoint intended = pacer.next();
    clock.sleep_until(intended);
    const TimePoint sent = clock.now();
    if (k > 0) {
      ASSERT_EQ(sent - previous_sent, 1ms);
    }
    previous_sent = sent;
    pacer.record_send(intended, sent);
    clock.advance(200us);
    latency.record(intended, sent, clock.now());
  }
  EXPECT_EQ(pacer.stats().sends, 1000u);
  EXPECT_EQ(pacer.stats().late_sends, 0u);
  EXPECT_EQ(pacer.stats().max_lag, 0ns);
  EXPECT_EQ(latency.corrected.max(), 200'000);
  EXPECT_EQ(latency.uncorrected.max(), 200'000);
}

TEST(Pacer, PoissonGapsHaveTheRightMeanAndAreSeeded) {
  const TimePoint start{};
  Pacer pacer(Rate{1000}, Arrival::poisson, start, 42);
  Pacer twin(Rate{1000}, Arrival::poisson, start, 42);
  Pacer other(Rate{1000}, Arrival::poisson, start, 43);
  constexpr int kDraws = 100'000;
  TimePoint previous = start;
  double sum = 0;
  double sum_squares = 0;
  bool differs = false;
  for (int k = 0; k < kDraws; ++k) {
    const TimePoint next = pacer.next();
    ASSERT_EQ(next, twin.next());
    differs = differs || next != other.next();
    ASSERT_GE(next, previous);
    const auto gap = static_cast<double>((next - previous).count());
    sum += gap;
    sum_squares += gap * gap;
    previous = next;
  }
  EXPECT_TRUE(differs);
  const double mean = sum / kDraws;
  const double stddev = std::sqrt(sum_squares / kDraws - mean * mean);
  EXPECT_NEAR(mean, 1e6, 0.02e6);
  EXPECT_NEAR(stddev / mean, 1.0, 0.03);  // exponential: stddev equals the mean
}

TEST(Pacer, ZeroRateNeverSends) {
  Pacer pacer(Rate{0}, Arrival::constant, TimePoint{});
  EXPECT_EQ(pacer.next(), TimePoint::max());
  EXPECT_EQ(pacer.next(), TimePoint::max());
  Pacer poisson(Rate{0}, Arrival::poisson, TimePoint{});
  EXPECT_EQ(poisson.next(), TimePoint::max());
}

// The sender stalls for 100 ms while sending request 1000 (the fake clock advances during the send). The
// requests scheduled during the stall go out late; latency from their intended time shows the stall, while
// the service time of every request stays 100 us.
TEST(Pacer, StallShowsInCorrectedLatencyAndLateSends) {
  FakeClock clock;
  Pacer pacer(Rate{1000}, Arrival::constant, clock.now());
  LatencyRecorder latency;
  for (int k = 0; k < 2000; ++k) {
    const TimePoint intended = pacer.next();
    clock.sleep_until(intended);
    if (k == 1000) {
      clock.advance(100ms);
    }
    const TimePoint sent = clock.now();
    pacer.record_send(intended, sent);
    clock.advance(100us);
    latency.record(intended, sent, clock.now());
  }
  const PacerStats& stats = pacer.stats();
  EXPECT_EQ(stats.sends, 2000u);
  // Request 1000 is 100 ms late and each later one 0.9 ms less, until the sender catches up.
  EXPECT_EQ(stats.max_lag, 100ms);
  EXPECT_GE(stats.late_sends, 100u);
  EXPECT_LE(stats.late_sends, 115u);
  EXPECT_NEAR(stats.late_fraction(), 0.055, 0.005);
  EXPECT_EQ(stats.lag.max(), 100'000'000);

  EXPECT_GE(latency.corrected.value_at_percentile(99), 80'000'000);
  EXPECT_GE(latency.corrected.value_at_percentile(99.9), 95'000'000);
  EXPECT_EQ(latency.corrected.max(), 100'100'000);
  EXPECT_EQ(latency.uncorrected.value_at_percentile(99), 100'000);
  EXPECT_EQ(latency.uncorrected.max(), 100'000);
}

TEST(Pacer, EarlySendIsOnTime) {
  Pacer pacer(Rate{1000}, Arrival::constant, TimePoint{});
  const TimePoint intended = pacer.next();
  pacer.record_send(intended, intended - 5ms);
  EXPECT_EQ(pacer.stats().late_sends, 0u);
  EXPECT_EQ(pacer.stats().max_lag, 0ns);
}

TEST(Pacer, ToleranceDecidesLateness) {
  Pacer pacer(Rate{1000}, Arrival::constant, TimePoint{}, 1, 2ms);
  pacer.record_send(TimePoint{}, TimePoint{} + 2ms);
  EXPECT_EQ(pacer.stats().late_sends, 0u);
  pacer.record_send(TimePoint{}, TimePoint{} + 2ms + 1ns);
  EXPECT_EQ(pacer.stats().late_sends, 1u);
}

TEST(PacerStats, MergeAddsAndKeepsTheWorst) {
  Pacer a(Rate{1000}, Arrival::constant, TimePoint{});
  Pacer b(Rate{1000}, Arrival::constant, TimePoint{});
  a.record_send(TimePoint{}, TimePoint{} + 5ms);
  a.record_send(TimePoint{}, TimePoint{});
  b.record_send(TimePoint{}, TimePoint{} + 9ms);
  PacerStats merged = a.stats();
  merged.merge(b.stats());
  EXPECT_EQ(merged.sends, 3u);
  EXPECT_EQ(merged.late_sends, 2u);
  EXPECT_EQ(merged.max_lag, 9ms);
  EXPECT_EQ(merged.lag.count(), 3u);
  EXPECT_EQ(merged.lag.max(), 9'000'000);
}

TEST(LatencyRecorder, MergeIsExact) {
  LatencyRecorder a;
  LatencyRecorder b;
  LatencyRecorder all;
  const TimePoint t0{};
  for (int i = 0; i < 100; ++i) {
    LatencyRecorder& part = i % 2 == 0 ? a : b;
    const TimePoint sent = t0 + std::chrono::microseconds(i);
    const TimePoint done = sent + std::chrono::microseconds(50 + i);
    part.record(t0, sent, done);
    all.record(t0, sent, done);
  }
  a.merge(b);
  EXPECT_EQ(a.corrected, all.corrected);
  EXPECT_EQ(a.uncorrected, all.uncorrected);
}

}  // namespace
}  // namespace kp
