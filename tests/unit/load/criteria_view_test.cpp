#include "load/criteria_view.hpp"

#include <gtest/gtest.h>

namespace kp::load {
namespace {

config::CriteriaRow row(std::string metric, config::Comparison comparison, std::optional<double> target,
                        std::optional<double> critical) {
  config::CriteriaRow r;
  r.metric = std::move(metric);
  r.comparison = comparison;
  r.target = target;
  r.critical = critical;
  return r;
}

TEST(CriteriaView, TightestLatencyTargetOfAPhase) {
  const std::vector<config::CriteriaRow> rows = {
      row("net.pod_to_pod.latency.p99", config::Comparison::less, 0.001, 0.005),
      row("net.pod_to_service.latency.p99", config::Comparison::less, 0.002, 0.010),
      row("net.pod_to_pod.throughput", config::Comparison::greater, 5e9, 1e9),
      row("dns.p99", config::Comparison::less, 0.010, 0.050),
  };
  CriteriaView view(rows);
  EXPECT_EQ(view.tightest_latency_target(Phase::network), 0.001);
  EXPECT_EQ(view.tightest_latency_target(Phase::dns), 0.010);
  const std::array<std::string_view, 1> service = {"net.pod_to_service.latency.p99"};
  EXPECT_EQ(view.tightest_latency_target(Phase::network, service), 0.002);
  EXPECT_FALSE(view.tightest_latency_target(Phase::storage).has_value());
  EXPECT_EQ(view.critical("dns.p99"), 0.050);
  EXPECT_FALSE(view.critical("dns.qps").has_value());
  EXPECT_TRUE(view.judged("dns.p99"));
}

TEST(CriteriaView, ARowWithoutACriticalLevelBreaksAtItsTarget) {
  const std::vector<config::CriteriaRow> rows = {
      row("storage.rand_4k.p99", config::Comparison::less, 0.005, std::nullopt)};
  EXPECT_EQ(CriteriaView(rows).critical("storage.rand_4k.p99"), 0.005);
}

TEST(CriteriaView, WithoutRowsTheShippedCriteriaApply) {
  CriteriaView view({});
  // The seed: CoreDNS P99 < 10ms (target), < 50ms (critical).
  EXPECT_EQ(view.tightest_latency_target(Phase::dns, std::array<std::string_view, 1>{"dns.p99"}), 0.010);
  EXPECT_EQ(view.critical("dns.p99"), 0.050);
}

}  // namespace
}  // namespace kp::load
