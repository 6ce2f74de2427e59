#include "core/cpu_budget.hpp"

#include <gtest/gtest.h>

namespace kp {
namespace {

std::filesystem::path fixture(std::string_view name) {
  return std::filesystem::path(KP_SOURCE_DIR) / "tests/fixtures/cgroup" / name;
}

TEST(CpuMax, MaxIsNoQuotaAndAFractionIsCpus) {
  EXPECT_EQ(parse_cpu_max("max 100000\n"), std::nullopt);
  EXPECT_DOUBLE_EQ(parse_cpu_max("50000 100000\n").value(), 0.5);
  EXPECT_DOUBLE_EQ(parse_cpu_max("250000 100000").value(), 2.5);
  EXPECT_EQ(parse_cpu_max(""), std::nullopt);
  EXPECT_EQ(parse_cpu_max("50000"), std::nullopt);
  EXPECT_EQ(parse_cpu_max("50000 0"), std::nullopt);
  EXPECT_EQ(parse_cpu_max("lots 100000"), std::nullopt);
}

TEST(CpuMax, CfsQuotaMinusOneIsNoQuota) {
  EXPECT_EQ(parse_cfs_quota("-1\n", "100000\n"), std::nullopt);
  EXPECT_DOUBLE_EQ(parse_cfs_quota("50000\n", "100000\n").value(), 0.5);
  EXPECT_EQ(parse_cfs_quota("50000", "x"), std::nullopt);
}

TEST(CpuStat, ReadsV2AndV1Counters) {
  std::optional<CpuStat> v2 = parse_cpu_stat(
      "usage_usec 8000000\nuser_usec 6000000\nnr_periods 120\nnr_throttled 30\nthrottled_usec 2500000\n");
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->periods, 120u);
  EXPECT_EQ(v2->throttled, 30u);
  EXPECT_EQ(v2->throttled_time, std::chrono::milliseconds(2500));
  std::optional<CpuStat> v1 = parse_cpu_stat("nr_periods 50\nnr_throttled 5\nthrottled_time 400000000\n");
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->throttled_time, std::chrono::milliseconds(400));
  // A cgroup without the cpu controller's quota accounting has usage only.
  EXPECT_EQ(parse_cpu_stat("usage_usec 10\nuser_usec 5\n"), std::nullopt);
}

TEST(CpuStat, ThrottlingIsTheDifferenceAndItsShare) {
  CpuThrottling t = throttling_between(CpuStat{100, 10, std::chrono::milliseconds(200)},
                                       CpuStat{300, 60, std::chrono::milliseconds(1200)});
  EXPECT_EQ(t.periods, 200u);
  EXPECT_EQ(t.throttled, 50u);
  EXPECT_EQ(t.throttled_time, std::chrono::seconds(1));
  EXPECT_DOUBLE_EQ(t.share(), 0.25);
  // Counters from another cgroup (smaller) count nothing rather than wrap around.
  EXPECT_EQ(throttling_between(CpuStat{100, 10, {}}, CpuStat{5, 1, {}}).periods, 0u);
  EXPECT_DOUBLE_EQ(CpuThrottling{}.share(), 0.0);
}

TEST(CpuBudget, V2TheTightestQuotaUpTheTreeWins) {
  CpuBudget budget = read_cpu_budget(fixture("v2-pod-limit"), 8);
  EXPECT_EQ(budget.cgroup_version, 2);
  ASSERT_TRUE(budget.quota_cpus);
  EXPECT_DOUBLE_EQ(*budget.quota_cpus, 0.5);  // the pod's, not the container's "max"
  EXPECT_EQ(budget.cgroup, "/sys/fs/cgroup/kubepods/pod1");
  EXPECT_EQ(budget.usable_cpus(), 1);
  std::optional<CpuStat> stat = read_cpu_stat(budget, fixture("v2-pod-limit"));
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->throttled, 30u);  // the pod cgroup's, where the quota is enforced
}

TEST(CpuBudget, V2InsideANamespaceWithoutLimitUsesEveryThread) {
  CpuBudget budget = read_cpu_budget(fixture("v2-namespace-unlimited"), 4);
  EXPECT_EQ(budget.cgroup_version, 2);
  EXPECT_EQ(budget.quota_cpus, std::nullopt);
  EXPECT_EQ(budget.cgroup, "/sys/fs/cgroup");
  EXPECT_EQ(budget.usable_cpus(), 4);
  EXPECT_TRUE(read_cpu_stat(budget, fixture("v2-namespace-unlimited")));
}

TEST(CpuBudget, V2WithoutANamespaceTheMountIsTheContainersCgroup) {
  CpuBudget budget = read_cpu_budget(fixture("v2-no-namespace"), 16);
  ASSERT_TRUE(budget.quota_cpus);
  EXPECT_DOUBLE_EQ(*budget.quota_cpus, 2.5);
  EXPECT_EQ(budget.usable_cpus(), 3);  // a fraction of a CPU still runs a thread
}

TEST(CpuBudget, V1CfsQuotaOnTheCpuHierarchy) {
  CpuBudget budget = read_cpu_budget(fixture("v1"), 4);
  EXPECT_EQ(budget.cgroup_version, 1);
  ASSERT_TRUE(budget.quota_cpus);
  EXPECT_DOUBLE_EQ(*budget.quota_cpus, 1.5);
  EXPECT_EQ(budget.cgroup, "/sys/fs/cgroup/cpu,cpuacct/kubepods/pod2/ctr");
  EXPECT_EQ(budget.usable_cpus(), 2);
  std::optional<CpuStat> stat = read_cpu_stat(budget, fixture("v1"));
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->throttled_time, std::chrono::milliseconds(400));
}

TEST(CpuBudget, NoControllerFoundMeansNoQuotaAndTheHardware) {
  CpuBudget budget = read_cpu_budget(fixture("none"), 2);
  EXPECT_EQ(budget.cgroup_version, 0);
  EXPECT_EQ(budget.quota_cpus, std::nullopt);
  EXPECT_EQ(budget.usable_cpus(), 2);
  EXPECT_EQ(read_cpu_stat(budget, fixture("none")), std::nullopt);
  EXPECT_EQ(read_cpu_budget(fixture("does-not-exist"), 3).usable_cpus(), 3);
}

TEST(CpuBudget, ThisProcessHasABudgetOfAtLeastOneCpu) {
  EXPECT_GE(usable_cpus(), 1);
}

}  // namespace
}  // namespace kp
