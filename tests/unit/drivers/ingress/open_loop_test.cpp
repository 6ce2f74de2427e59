#include "drivers/ingress/open_loop.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::ingress {
namespace {

using std::chrono::milliseconds;

TEST(OpenLoopQueue, NothingAtStartThenOnePerIntervalOnAFakeClock) {
  FakeClock clock;
  TimePoint start = clock.now() + milliseconds(1);
  OpenLoopQueue queue(Pacer(Rate{1000}, Arrival::constant, start), start + std::chrono::seconds(1),
                      std::nullopt, 1000);
  EXPECT_EQ(queue.advance(clock.now()), start);
  EXPECT_TRUE(queue.empty());
  clock.advance(milliseconds(1));
  EXPECT_EQ(queue.advance(clock.now()), start + milliseconds(1));
  EXPECT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue.pop(), start);
}

// The schedule does not depend on free connections: with nobody taking requests, intended times keep coming
// and keep their original times, so a request sent late is measured from when it should have gone.
TEST(OpenLoopQueue, ScheduleIsNotCappedWhenNothingIsSent) {
  FakeClock clock;
  TimePoint start = clock.now();
  OpenLoopQueue queue(Pacer(Rate{1000}, Arrival::constant, start), start + std::chrono::seconds(10),
                      std::nullopt, 100000);
  clock.advance(milliseconds(100));  // a 100 ms stall: no connection was free
  queue.advance(clock.now());
  EXPECT_EQ(queue.size(), 101u);  // t = 0, 1, ..., 100 ms
  EXPECT_EQ(queue.front(), start);
  // Sending them all now: each is late by its wait, and the pacer says so.
  Pacer& pacer = queue.pacer();
  while (!queue.empty()) {
    pacer.record_send(queue.pop(), clock.now());
  }
  EXPECT_EQ(pacer.stats().sends, 101u);
  EXPECT_EQ(pacer.stats().late_sends, 99u);  // waits of 2..100 ms exceed the 1 ms tolerance
  EXPECT_EQ(pacer.stats().max_lag, milliseconds(100));
}

TEST(OpenLoopQueue, StopsAtTheEndAndAtTheLimit) {
  FakeClock clock;
  TimePoint start = clock.now();
  OpenLoopQueue by_time(Pacer(Rate{100}, Arrival::constant, start), start + milliseconds(100), std::nullopt,
                        1000);
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(by_time.advance(clock.now()), TimePoint::max());
  EXPECT_TRUE(by_time.exhausted());
  EXPECT_EQ(by_time.issued(), 10u);  // 0, 10, ..., 90 ms: the one at 100 ms is past the end

  OpenLoopQueue by_count(Pacer(Rate{100}, Arrival::constant, start), TimePoint::max(), 7, 1000);
  by_count.advance(clock.now());
  EXPECT_TRUE(by_count.exhausted());
  EXPECT_EQ(by_count.issued(), 7u);
}

TEST(OpenLoopQueue, BoundedQueueCountsOverflow) {
  FakeClock clock;
  TimePoint start = clock.now();
  OpenLoopQueue queue(Pacer(Rate{1000}, Arrival::constant, start), TimePoint::max(), std::nullopt, 10);
  clock.advance(milliseconds(49));
  queue.advance(clock.now());
  EXPECT_EQ(queue.size(), 10u);
  EXPECT_EQ(queue.overflow(), 40u);
  EXPECT_EQ(queue.issued(), 50u);
}

TEST(OpenLoopQueue, PoissonKeepsTheMeanRate) {
  FakeClock clock;
  TimePoint start = clock.now();
  OpenLoopQueue queue(Pacer(Rate{10000}, Arrival::poisson, start, 42), start + std::chrono::seconds(10),
                      std::nullopt, 1'000'000);
  clock.advance(std::chrono::seconds(10));
  queue.advance(clock.now());
  EXPECT_NEAR(static_cast<double>(queue.issued()), 100000.0, 1500.0);
}

}  // namespace
}  // namespace kp::drivers::ingress
