#include "load/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

namespace kp::load {
namespace {

PoolOptions workers(int count) {
  PoolOptions options;
  options.count = count;
  return options;
}

struct Count {
  std::uint64_t value = 0;
  void merge(const Count& other) { value += other.value; }
};

TEST(WorkerPool, SplitsTotalsSoTheySumExactly) {
  std::uint64_t sum = 0;
  for (int i = 0; i < 3; ++i) {
    sum += share_of(std::uint64_t{10}, i, 3);
  }
  EXPECT_EQ(sum, 10u);
  EXPECT_EQ(share_of(std::uint64_t{10}, 0, 3), 4u);
  EXPECT_EQ(share_of(std::uint64_t{10}, 2, 3), 3u);
  EXPECT_EQ(share_of(7, 6, 8), 1);
  EXPECT_EQ(share_of(7, 7, 8), 0);
  EXPECT_DOUBLE_EQ(share_of(Rate{900}, 3).per_second, 300);
  EXPECT_FALSE(share_of(std::optional<std::uint64_t>{}, 0, 2).has_value());
}

TEST(WorkerPool, EveryWorkerGetsTheSameStartAfterItsSetupAndResultsMergeInOrder) {
  FakeClock clock;
  const TimePoint before = clock.now();
  std::atomic<int> set_up{0};
  Result<std::pair<std::vector<Count>, TimePoint>> run =
      run_workers<Count>(workers(4), clock, [&](WorkerContext& context) {
        set_up.fetch_add(1);
        const TimePoint start = context.wait_for_start();
        // Every worker finished its setup before anyone got the start.
        EXPECT_EQ(set_up.load(), 4);
        return Count{.value = context.share(std::uint64_t{10}) * 100 +
                              static_cast<std::uint64_t>((start - TimePoint{}).count() > 0)};
      });
  ASSERT_TRUE(run.has_value());
  auto& [results, start] = *run;
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].value, 301u);
  EXPECT_EQ(results[3].value, 201u);
  EXPECT_EQ(start, before + kHeadStart);
  EXPECT_EQ(merge_all(results).value, 1004u);
}

TEST(WorkerPool, AThrowingWorkerBecomesAnErrorAndStopsTheOthers) {
  FakeClock clock;
  Result<std::pair<std::vector<Count>, TimePoint>> run =
      run_workers<Count>(workers(3), clock, [&](WorkerContext& context) {
        context.wait_for_start();
        if (context.index() == 1) {
          throw std::runtime_error("socket table corrupt");
        }
        // The others run until told to stop: bounded, so a broken pool fails the test instead of hanging.
        std::uint64_t turns = 0;
        while (!context.stop_requested() && turns < 2'000'000'000) {
          ++turns;
        }
        return Count{.value = turns};
      });
  ASSERT_FALSE(run.has_value());
  EXPECT_EQ(run.error().kind, ErrorKind::internal);
  EXPECT_EQ(run.error().message, "worker 2 of 3 failed: socket table corrupt");
}

TEST(WorkerPool, AWorkerThatThrowsInItsSetupDoesNotHoldTheOthersAtTheBarrier) {
  FakeClock clock;
  Result<std::pair<std::vector<Count>, TimePoint>> run =
      run_workers<Count>(workers(2), clock, [&](WorkerContext& context) {
        if (context.index() == 0) {
          throw std::runtime_error("cannot open socket");
        }
        context.wait_for_start();
        return Count{.value = 1};
      });
  ASSERT_FALSE(run.has_value());
  EXPECT_EQ(run.error().message, "worker 1 of 2 failed: cannot open socket");
}

TEST(WorkerPool, TheMonitorRunsOnTheCallingThreadUntilEveryWorkerReturned) {
  FakeClock clock;
  std::atomic<bool> release{false};
  int ticks = 0;
  const std::thread::id caller = std::this_thread::get_id();
  Result<std::pair<std::vector<Count>, TimePoint>> run =
      run_workers<Count>(PoolOptions{.count = 2,
                                     .monitor =
                                         [&](TimePoint) {
                                           EXPECT_EQ(std::this_thread::get_id(), caller);
                                           if (++ticks == 3) {
                                             release.store(true);
                                           }
                                         },
                                     .interval = std::chrono::milliseconds(1)},
                         clock, [&](WorkerContext& context) {
                           context.wait_for_start();
                           while (!release.load()) {
                             std::this_thread::yield();
                           }
                           return Count{.value = 1};
                         });
  ASSERT_TRUE(run.has_value());
  EXPECT_GE(ticks, 3);
}

}  // namespace
}  // namespace kp::load
