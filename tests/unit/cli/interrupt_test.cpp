// Ctrl-C handling in process: the first SIGINT cancels the run's token, the second ends the process.

#include <gtest/gtest.h>

#include <csignal>

#include "cli/interrupt.hpp"
#include "core/clock.hpp"

namespace kp::cli {
namespace {

TEST(InterruptWatcher, FirstInterruptRequestsCancellation) {
  engine::CancellationToken token;
  {
    InterruptWatcher watcher(token);
    ASSERT_TRUE(watcher.active());
    EXPECT_FALSE(token.requested());
    std::raise(SIGINT);
    // Wakes as soon as the watcher thread requests cancellation; the deadline only bounds a broken build.
    EXPECT_TRUE(token.wait_until(real_clock(), real_clock().now() + std::chrono::seconds(30)));
  }
  // The previous disposition is back once the watcher is gone.
  struct sigaction current {};
  ::sigaction(SIGINT, nullptr, &current);
  EXPECT_EQ(current.sa_handler, SIG_DFL);
}

TEST(InterruptWatcher, SigtermCancelsToo) {
  engine::CancellationToken token;
  InterruptWatcher watcher(token);
  std::raise(SIGTERM);
  EXPECT_TRUE(token.wait_until(real_clock(), real_clock().now() + std::chrono::seconds(30)));
}

TEST(InterruptWatcher, OnlyOneAtATime) {
  engine::CancellationToken first_token;
  engine::CancellationToken second_token;
  InterruptWatcher first(first_token);
  InterruptWatcher second(second_token);
  EXPECT_TRUE(first.active());
  EXPECT_FALSE(second.active());
}

TEST(InterruptWatcherDeathTest, SecondInterruptEndsTheProcessAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        engine::CancellationToken token;
        InterruptWatcher watcher(token);
        std::raise(SIGINT);
        std::raise(SIGINT);
        // Not reached: the second interrupt kills the process with SIGINT.
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

}  // namespace
}  // namespace kp::cli
