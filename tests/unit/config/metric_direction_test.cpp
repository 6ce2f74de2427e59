#include "config/metric_direction.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "config/criteria.hpp"
#include "config/metric_catalog.hpp"

namespace kp::config {
namespace {

// The direction `compare` uses must agree with every row of the shipped criteria that judges the metric.
TEST(MetricDirection, AgreesWithEveryRowOfTheDefaultCriteria) {
  Result<Criteria> criteria = load_criteria(std::filesystem::path(KP_SOURCE_DIR) / "criteria/default.yaml");
  ASSERT_TRUE(criteria.has_value()) << criteria.error().message;
  ASSERT_FALSE(criteria->rows.empty());
  for (const CriteriaRow& row : criteria->rows) {
    const bool higher = row.comparison == Comparison::greater || row.comparison == Comparison::greater_equal;
    EXPECT_EQ(higher_is_better(row.metric), higher) << row.metric << " [" << row.table << "]";
  }
}

TEST(MetricDirection, InformationalMetricsNoRowJudges) {
  EXPECT_TRUE(higher_is_better("etcd.write.throughput"));
  EXPECT_TRUE(higher_is_better("dns.cache_hit_ratio"));
  EXPECT_TRUE(higher_is_better("dns.breaking_rate"));
  EXPECT_TRUE(higher_is_better("storage.rand_4k.breaking_iodepth"));
  EXPECT_TRUE(higher_is_better("net.pod_to_pod.breaking_streams"));
  EXPECT_TRUE(higher_is_better("etcd.has_leader"));
  EXPECT_FALSE(higher_is_better("etcd.leader_changes"));
  EXPECT_FALSE(higher_is_better("dns.loss_rate"));
  EXPECT_FALSE(higher_is_better("etcd.backend_commit.p99"));
  EXPECT_FALSE(higher_is_better("no.such.metric"));
}

}  // namespace
}  // namespace kp::config
