#include "drivers/api/load_runner.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::api {
namespace {

LoadStats job(std::uint64_t ok, std::uint64_t failed, double qps) {
  LoadStats stats;
  stats.ok = ok;
  stats.failed = failed;
  stats.paced_seconds = static_cast<double>(ok + failed) / qps;
  return stats;
}

TEST(LoadStats, OfferedRateIsTheJobsPace) {
  EXPECT_DOUBLE_EQ(*job(1000, 0, 100).offered_rate(), 100);
  // Failed requests were offered too (api.qps counts only the successful ones).
  EXPECT_DOUBLE_EQ(*job(990, 10, 100).offered_rate(), 100);
}

TEST(LoadStats, MergedJobsOfferTheirCombinedPace) {
  // 1000 requests at 100/s (10 s) and 1000 at 50/s (20 s): 2000 requests in 30 s had both kept pace.
  LoadStats total = job(1000, 0, 100);
  total.merge(job(1000, 0, 50));
  EXPECT_DOUBLE_EQ(*total.offered_rate(), 2000.0 / 30.0);
}

TEST(LoadStats, NoOfferedRateWhenAJobWasUnpacedOrNothingRan) {
  EXPECT_FALSE(LoadStats{}.offered_rate().has_value());
  LoadStats total = job(1000, 0, 100);
  LoadStats max;
  max.ok = 500;
  max.unpaced = true;
  total.merge(max);
  EXPECT_FALSE(total.offered_rate().has_value());
}

}  // namespace
}  // namespace kp::drivers::api
