// `kubeproof criteria` shows every threshold of the seed, written as the seed writes it.

#include <gtest/gtest.h>

#include <sstream>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using testing::Ran;
using testing::Sandbox;

// A line of the table that contains every one of `parts`.
bool has_line_with(const std::string& text, std::initializer_list<std::string_view> parts) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    bool all = true;
    for (std::string_view part : parts) {
      all = all && line.find(part) != std::string::npos;
    }
    if (all) {
      return true;
    }
  }
  return false;
}

struct Threshold {
  std::string_view metric;
  std::string_view which;  // table or tier, to tell rows of one metric apart
  std::string_view target;
  std::string_view critical;
};

// Every row of the seed's tables (and the Kubernetes SLO table), with the seed's numbers.
constexpr Threshold kSeed[] = {
    {"api.mutating.p99", "Control Plane", "< 500ms", "< 1s"},
    {"api.readonly.p99", "Control Plane", "< 200ms", "< 1s"},
    {"api.qps", "Control Plane", "> 1000 QPS", "> 500 QPS"},
    {"api.error_rate", "Control Plane", "< 0.1%", "< 1%"},
    {"etcd.write.p99", "Control Plane", "< 25ms", "< 50ms"},
    {"etcd.read.p99", "Control Plane", "< 10ms", "< 25ms"},
    {"etcd.fsync.p99", "Control Plane", "< 10ms", "< 25ms"},
    {"api.mutating.p99", "Kubernetes SLO", "<= 1s", "<= 1s"},
    {"api.readonly.p99", "Kubernetes SLO", "<= 1s", "<= 1s"},
    {"api.list.p99", "Kubernetes SLO", "<= 30s", "<= 30s"},
    {"api.pod_startup.p99", "pod_images=cached", "<= 5s", "<= 5s"},
    {"api.pod_startup.p99", "pod_images=pulled", "<= 20s", "<= 20s"},
    {"net.pod_to_pod.throughput", "Data Plane", "> 5Gbps", "> 1Gbps"},
    {"net.pod_to_pod.latency.p99", "Data Plane", "< 1ms", "< 5ms"},
    {"net.pod_to_service.latency.p99", "Data Plane", "< 2ms", "< 10ms"},
    {"dns.qps", "Data Plane", "> 10k QPS", "> 5k QPS"},
    {"dns.p99", "Data Plane", "< 10ms", "< 50ms"},
    {"dns.cache_hit_ratio", "Data Plane", "> 90%", "> 80%"},
    {"storage.randread_4k.iops", "storage_tier=ssd", "> 10k IOPS", "none defined"},
    {"storage.randread_4k.iops", "storage_tier=nvme", "> 50k IOPS", "> 10k IOPS"},
    {"storage.randwrite_4k.iops", "storage_tier=ssd", "> 5k IOPS", "none defined"},
    {"storage.randwrite_4k.iops", "storage_tier=nvme", "> 20k IOPS", "> 5k IOPS"},
    {"storage.rand_4k.p99", "storage_tier=ssd", "< 5ms", "none defined"},
    {"storage.rand_4k.p99", "storage_tier=nvme", "< 1ms", "< 5ms"},
    {"storage.seqwrite.bandwidth", "storage_tier=ssd", "> 200MB/s", "none defined"},
    {"storage.seqwrite.bandwidth", "storage_tier=nvme", "> 1000MB/s", "> 200MB/s"},
    {"storage.seqread.bandwidth", "storage_tier=ssd", "> 300MB/s", "none defined"},
    {"storage.seqread.bandwidth", "storage_tier=nvme", "> 2000MB/s", "> 300MB/s"},
    {"ingress.rps", "cluster_size=small", "> 10k RPS", "none defined"},
    {"ingress.rps", "cluster_size=large", "> 50k RPS", "> 10k RPS"},
    {"ingress.p99", "cluster_size=small", "< 100ms", "none defined"},
    {"ingress.p99", "cluster_size=large", "< 20ms", "< 100ms"},
    {"ingress.error_rate_5xx", "cluster_size=small", "< 0.1%", "none defined"},
    {"ingress.error_rate_5xx", "cluster_size=large", "< 0.01%", "< 0.1%"},
    {"ingress.connection_rate", "cluster_size=small", "> 5k/s", "none defined"},
    {"ingress.connection_rate", "cluster_size=large", "> 20k/s", "> 5k/s"},
};

TEST(CriteriaCommand, AllTiersShowsEveryThresholdOfTheSeed) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"criteria", "--all-tiers"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  for (const Threshold& row : kSeed) {
    EXPECT_TRUE(has_line_with(ran.out, {row.metric, row.which, row.target, row.critical}))
        << row.metric << " " << row.which << " " << row.target << " " << row.critical << "\n"
        << ran.out;
  }
}

TEST(CriteriaCommand, DefaultShowsTheDefaultTiersOnly) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"criteria"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  for (std::string_view text :
       {"500ms", "1s", "25ms", "10k", "5Gbps", "storage_tier=ssd", "cluster_size=small"}) {
    EXPECT_NE(ran.out.find(text), std::string::npos) << text << "\n" << ran.out;
  }
  EXPECT_FALSE(has_line_with(ran.out, {"storage.randread_4k.iops", "> 50k IOPS"})) << ran.out;
  EXPECT_FALSE(has_line_with(ran.out, {"storage_tier=nvme"}));
}

TEST(CriteriaCommand, TierFlagsChangeTheActiveRows) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"criteria", "--tier", "nvme", "--cluster-size", "large", "--pod-images", "pulled"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_TRUE(has_line_with(ran.out, {"storage.randread_4k.iops", "> 50k IOPS", "> 10k IOPS"})) << ran.out;
  EXPECT_TRUE(has_line_with(ran.out, {"ingress.p99", "< 20ms", "< 100ms"}));
  EXPECT_TRUE(has_line_with(ran.out, {"api.pod_startup.p99", "<= 20s"}));
  EXPECT_FALSE(has_line_with(ran.out, {"storage_tier=ssd"}));
}

TEST(CriteriaCommand, BadTierIsAUsageErrorNamingFlagAndValue) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"criteria", "--tier", "fast"});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(ran.err, "kubeproof: --tier: must be ssd or nvme, got \"fast\" (see --help)\n");
}

TEST(CriteriaCommand, MissingCriteriaFileIsAnInputError) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"criteria", "--criteria", "nope.yaml"});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(testing::count_lines(ran.err), 1U) << ran.err;
  EXPECT_NE(ran.err.find("nope.yaml"), std::string::npos) << ran.err;
}

}  // namespace
}  // namespace kp::cli
