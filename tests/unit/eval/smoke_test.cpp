// Issue 17, item 6: a smoke run validates configuration at a fraction of capacity, so its capacity rows are
// shown, not judged, and a smoke run whose judged rows all meet target passes (exit 0).

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/metric_catalog.hpp"
#include "eval/evaluation.hpp"
#include "rows.hpp"

namespace kp::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::measure;
using testing::measure_offered;
using ::testing::Not;
using testing::seed_rows;

PhaseInput input_for(Phase phase, std::vector<Measurement> measurements) {
  PhaseInput input;
  input.phase = phase;
  input.measurements = std::move(measurements);
  return input;
}

PhaseInput good_etcd() {
  return input_for(Phase::etcd, {measure("etcd.write.p99", 0.012), measure("etcd.read.p99", 0.004),
                                 measure("etcd.fsync.p99", 0.003)});
}

// dns at 10 % of a 10k QPS capacity: it kept up with the 1000 QPS offered, far below the 10k target.
PhaseInput light_dns() {
  return input_for(Phase::dns, {measure_offered("dns.qps", 998, 1000), measure("dns.p99", 0.004)});
}

EvaluationOptions with_type(std::optional<config::TestType> type) {
  EvaluationOptions options;
  options.test_type = type;
  return options;
}

const RowResult& row_of(const Evaluation& evaluation, std::string_view metric) {
  for (const PhaseEvaluation& phase : evaluation.phases) {
    for (const RowResult& row : phase.rows) {
      if (row.row.metric == metric) {
        return row;
      }
    }
  }
  throw std::runtime_error("no row " + std::string(metric));
}

TEST(CapacityMetric, TheCatalogsCapacityRowsAreTheOpenLoopRates) {
  for (std::string_view id : {"api.qps", "dns.qps", "ingress.rps", "ingress.connection_rate"}) {
    EXPECT_TRUE(config::is_capacity_metric(id)) << id;
    EXPECT_NE(config::find_metric(id), nullptr) << id;
  }
  // Measured flat out (closed loop) in every test type, so judged in a smoke run too.
  for (std::string_view id : {"storage.randread_4k.iops", "net.pod_to_pod.throughput",
                              "etcd.write.throughput", "dns.p99", "api.breaking_qps"}) {
    EXPECT_FALSE(config::is_capacity_metric(id)) << id;
  }
}

TEST(Smoke, ALightCapacityRowIsNotJudgedAndTheRunPasses) {
  const Evaluation result =
      evaluate({good_etcd(), light_dns()}, seed_rows(), with_type(config::TestType::smoke));
  const RowResult& qps = row_of(result, "dns.qps");
  EXPECT_EQ(qps.verdict, Verdict::not_judged);
  EXPECT_EQ(qps.reason, "not judged in a smoke test");
  ASSERT_TRUE(qps.measured.has_value());
  EXPECT_DOUBLE_EQ(*qps.measured, 998);  // shown with what was achieved and offered
  ASSERT_TRUE(qps.offered.has_value());
  EXPECT_DOUBLE_EQ(*qps.offered, 1000);
  EXPECT_EQ(result.phases[3].verdict, Verdict::pass);
  EXPECT_EQ(result.phases[3].reason, "its judged metric meets target; not judged in a smoke test: dns.qps");
  EXPECT_EQ(result.overall, Verdict::pass);
  EXPECT_EQ(exit_code_for(result.overall), 0);
  EXPECT_EQ(verdict_text(result), "PASS (smoke: capacity not judged)");
  EXPECT_THAT(result.not_judged, ElementsAre("dns.qps"));
  EXPECT_THAT(result.overall_reason, HasSubstr("not judged in a smoke test: dns.qps"));
}

TEST(Smoke, AFailingCapacityValueIsNotJudgedEither) {
  // 100 QPS of 1000 offered is a real shortfall in a load test; a smoke run does not judge capacity at all.
  PhaseInput dns = input_for(Phase::dns, {measure_offered("dns.qps", 100, 1000), measure("dns.p99", 0.004)});
  const Evaluation smoke = evaluate({good_etcd(), dns}, seed_rows(), with_type(config::TestType::smoke));
  EXPECT_EQ(smoke.overall, Verdict::pass);
  const Evaluation load = evaluate({good_etcd(), dns}, seed_rows(), with_type(config::TestType::load));
  EXPECT_EQ(load.overall, Verdict::fail);
}

TEST(Smoke, LoadAndStressJudgeCapacityAsBefore) {
  for (config::TestType type : {config::TestType::load, config::TestType::stress}) {
    const Evaluation result = evaluate({good_etcd(), light_dns()}, seed_rows(), with_type(type));
    EXPECT_EQ(row_of(result, "dns.qps").verdict, Verdict::not_measured);
    EXPECT_EQ(result.overall, Verdict::incomplete);
    EXPECT_TRUE(result.not_judged.empty());
    EXPECT_EQ(verdict_text(result), "INCOMPLETE");
  }
  // Imported values (no test type) too.
  EXPECT_EQ(evaluate({good_etcd(), light_dns()}, seed_rows(), with_type(std::nullopt)).overall,
            Verdict::incomplete);
}

TEST(Smoke, AJudgedRowThatMissesTargetStillDecides) {
  PhaseInput dns = light_dns();
  dns.measurements[1].value = 0.080;  // dns.p99 beyond critical < 50ms
  const Evaluation result = evaluate({good_etcd(), dns}, seed_rows(), with_type(config::TestType::smoke));
  EXPECT_EQ(result.overall, Verdict::fail);
  EXPECT_EQ(verdict_text(result), "FAIL (smoke: capacity not judged)");
  EXPECT_EQ(exit_code_for(result.overall), 1);
}

TEST(Smoke, AnUnmeasuredCapacityRowIsStillIncomplete) {
  // It should have been measured (the generator reports its rate even at smoke load) and was not.
  PhaseInput dns = input_for(Phase::dns, {measure("dns.p99", 0.004)});
  const Evaluation result = evaluate({good_etcd(), dns}, seed_rows(), with_type(config::TestType::smoke));
  EXPECT_EQ(row_of(result, "dns.qps").verdict, Verdict::not_measured);
  EXPECT_EQ(result.overall, Verdict::incomplete);
  EXPECT_THAT(result.overall_reason, HasSubstr("not measured: dns.qps"));
  EXPECT_THAT(result.overall_reason, Not(HasSubstr("not judged")));
}

TEST(Smoke, APhaseWithOnlyCapacityRowsIsNotJudgedAndOutOfScope) {
  const std::vector<config::CriteriaRow> rows = {
      testing::make_row("etcd.write.p99", config::Comparison::less, 0.025, 0.050, "ms"),
      testing::make_row("dns.qps", config::Comparison::greater, 10000, 5000, "QPS")};
  const Evaluation result = evaluate({input_for(Phase::etcd, {measure("etcd.write.p99", 0.010)}),
                                      input_for(Phase::dns, {measure_offered("dns.qps", 998, 1000)})},
                                     rows, with_type(config::TestType::smoke));
  EXPECT_EQ(result.phases[3].verdict, Verdict::not_judged);
  EXPECT_EQ(result.phases[3].reason, "not judged in a smoke test: dns.qps");
  EXPECT_EQ(result.overall, Verdict::pass);
  EXPECT_THAT(result.overall_reason, HasSubstr("1 of 6 phases evaluated"));
}

TEST(Smoke, AConditionalRunNamesItsUnjudgedRowsToo) {
  PhaseInput etcd = good_etcd();
  etcd.measurements[0].value = 0.030;  // misses target < 25ms, within critical
  const Evaluation result = evaluate({etcd, light_dns()}, seed_rows(), with_type(config::TestType::smoke));
  EXPECT_EQ(result.overall, Verdict::conditional_pass);
  EXPECT_EQ(verdict_text(result), "CONDITIONAL PASS (smoke: capacity not judged)");
}

}  // namespace
}  // namespace kp::eval
