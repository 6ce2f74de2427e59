#include "engine/checkpoint.hpp"

#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace kp::engine {
namespace {

using namespace std::chrono_literals;

TEST(CheckpointCadence, DueEveryIntervalFromTheStart) {
  FakeClock clock;
  CheckpointCadence cadence(60s, clock.now());
  EXPECT_FALSE(cadence.due(clock.now()));
  clock.advance(59s);
  EXPECT_FALSE(cadence.due(clock.now()));
  clock.advance(1s);
  EXPECT_TRUE(cadence.due(clock.now()));
  cadence.taken(clock.now());
  EXPECT_EQ(cadence.next() - clock.now(), 60s);
}

TEST(CheckpointCadence, TicksMissedBySlowWritesAreSkippedNotBunched) {
  FakeClock clock;
  const TimePoint start = clock.now();
  CheckpointCadence cadence(60s, start);
  clock.advance(185s);  // three ticks passed while a write was slow
  ASSERT_TRUE(cadence.due(clock.now()));
  cadence.taken(clock.now());
  EXPECT_EQ(cadence.next(), start + 240s);  // the grid of the start, the first tick after now
  EXPECT_FALSE(cadence.due(clock.now()));
}

TEST(Checkpointer, PollTakesOnlyDueCheckpoints) {
  FakeClock clock;
  int taken = 0;
  Checkpointer checkpointer(clock, 1s, [&] { ++taken; });
  EXPECT_FALSE(checkpointer.poll());
  clock.advance(1s);
  EXPECT_TRUE(checkpointer.poll());
  EXPECT_FALSE(checkpointer.poll());
  clock.advance(999ms);
  EXPECT_FALSE(checkpointer.poll());
  clock.advance(1ms);
  EXPECT_TRUE(checkpointer.poll());
  EXPECT_EQ(taken, 2);
}

// The ticker waits for the test to move the fake clock, and never moves it itself.
TEST(Checkpointer, TheTickerFollowsTheFakeClock) {
  FakeClock clock;
  const TimePoint start = clock.now();
  std::promise<TimePoint> first;
  std::future<TimePoint> at = first.get_future();
  int calls = 0;
  Checkpointer checkpointer(clock, 60s, [&] {
    if (++calls == 1) {
      first.set_value(clock.now());
    }
  });
  checkpointer.start();
  EXPECT_EQ(clock.now(), start);
  clock.advance(60s);
  ASSERT_EQ(at.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(at.get(), start + 60s);
  checkpointer.stop();
  EXPECT_EQ(checkpointer.taken(), 1);
  EXPECT_EQ(clock.now(), start + 60s);  // the ticker did not move time
}

TEST(Checkpointer, StopWakesAWaitingTickerOnTheRealClock) {
  int calls = 0;
  Checkpointer checkpointer(real_clock(), std::chrono::hours(1), [&] { ++calls; });
  checkpointer.start();
  checkpointer.stop();  // returns at once, not in an hour
  EXPECT_EQ(calls, 0);
}

TEST(Checkpointer, AThrowingWriterDoesNotStopTheCadence) {
  FakeClock clock;
  Checkpointer checkpointer(clock, 1s, [] { throw std::runtime_error("disk full"); });
  clock.advance(1s);
  EXPECT_TRUE(checkpointer.poll());
  clock.advance(1s);
  EXPECT_TRUE(checkpointer.poll());
  EXPECT_EQ(checkpointer.taken(), 2);
}

}  // namespace
}  // namespace kp::engine
