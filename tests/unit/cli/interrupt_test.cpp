// Ctrl-C handling in process: the first SIGINT cancels the run's token, the second ends the process.

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <optional>

#include "cli/interrupt.hpp"
#include "core/clock.hpp"
#include "engine/exit_deferral.hpp"

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

// A second Ctrl-C during a step of cleanup that must not be cut in half (fio's scratch files, the report set)
// ends the process as soon as that step is done, not in its middle.
TEST(InterruptWatcherDeathTest, SecondInterruptWaitsForTheCleanupUnderWay) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        engine::CancellationToken token;
        InterruptWatcher watcher(token);
        std::optional<engine::ExitDeferral> outer(std::in_place);
        std::optional<engine::ExitDeferral> inner(std::in_place);
        std::raise(SIGINT);
        std::raise(SIGINT);
        std::fputs("inner step done\n", stderr);
        inner.reset();
        std::fputs("outer step done\n", stderr);
        std::fflush(stderr);
        outer.reset();
        // Not reached: the last deferral's end kills the process with the deferred SIGINT.
        std::_Exit(0);
      },
      ::testing::KilledBySignal(SIGINT), "inner step done\nouter step done");
}

}  // namespace
}  // namespace kp::cli
