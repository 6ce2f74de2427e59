#include <cmath>
#include <limits>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "eval/evaluation.hpp"
#include "rows.hpp"

namespace kp::eval {
namespace {

using config::Comparison;
using testing::make_row;

struct BoundaryCase {
  std::string name;
  Comparison comparison;
  double target;
  double critical;
  double value;
  Verdict expected;
};

// Each direction at exactly target and exactly critical, and a hair inside and outside of both. A strict
// comparison ("<", ">") is not met at exactly the level; an inclusive one ("<=", ">=") is.
class RowBoundaryTest : public ::testing::TestWithParam<BoundaryCase> {};

TEST_P(RowBoundaryTest, JudgesTheValueAgainstTargetAndCritical) {
  const BoundaryCase& c = GetParam();
  const RowResult result =
      evaluate_row(make_row("api.mutating.p99", c.comparison, c.target, c.critical), c.value);
  EXPECT_EQ(result.verdict, c.expected) << "value " << c.value << ": " << result.reason;
  ASSERT_TRUE(result.measured.has_value());
  EXPECT_EQ(*result.measured, c.value);
}

constexpr double kHair = 1e-9;

INSTANTIATE_TEST_SUITE_P(
    AllDirections, RowBoundaryTest,
    ::testing::Values(
        // "< 500ms" target, "< 1s" critical.
        BoundaryCase{"less_inside_target", Comparison::less, 0.5, 1.0, 0.5 - kHair, Verdict::pass},
        BoundaryCase{"less_at_target", Comparison::less, 0.5, 1.0, 0.5, Verdict::conditional_pass},
        BoundaryCase{"less_outside_target", Comparison::less, 0.5, 1.0, 0.5 + kHair,
                     Verdict::conditional_pass},
        BoundaryCase{"less_inside_critical", Comparison::less, 0.5, 1.0, 1.0 - kHair,
                     Verdict::conditional_pass},
        BoundaryCase{"less_at_critical", Comparison::less, 0.5, 1.0, 1.0, Verdict::fail},
        BoundaryCase{"less_outside_critical", Comparison::less, 0.5, 1.0, 1.0 + kHair, Verdict::fail},
        BoundaryCase{"less_zero", Comparison::less, 0.5, 1.0, 0.0, Verdict::pass},
        // "<= 1s" target, "<= 2s" critical.
        BoundaryCase{"less_equal_inside_target", Comparison::less_equal, 1.0, 2.0, 1.0 - kHair,
                     Verdict::pass},
        BoundaryCase{"less_equal_at_target", Comparison::less_equal, 1.0, 2.0, 1.0, Verdict::pass},
        BoundaryCase{"less_equal_outside_target", Comparison::less_equal, 1.0, 2.0, 1.0 + kHair,
                     Verdict::conditional_pass},
        BoundaryCase{"less_equal_at_critical", Comparison::less_equal, 1.0, 2.0, 2.0,
                     Verdict::conditional_pass},
        BoundaryCase{"less_equal_outside_critical", Comparison::less_equal, 1.0, 2.0, 2.0 + kHair,
                     Verdict::fail},
        // "> 10k" target, "> 5k" critical.
        BoundaryCase{"greater_inside_target", Comparison::greater, 10000, 5000, 10000.001, Verdict::pass},
        BoundaryCase{"greater_at_target", Comparison::greater, 10000, 5000, 10000, Verdict::conditional_pass},
        BoundaryCase{"greater_outside_target", Comparison::greater, 10000, 5000, 9999.999,
                     Verdict::conditional_pass},
        BoundaryCase{"greater_inside_critical", Comparison::greater, 10000, 5000, 5000.001,
                     Verdict::conditional_pass},
        BoundaryCase{"greater_at_critical", Comparison::greater, 10000, 5000, 5000, Verdict::fail},
        BoundaryCase{"greater_outside_critical", Comparison::greater, 10000, 5000, 4999.999, Verdict::fail},
        BoundaryCase{"greater_zero", Comparison::greater, 10000, 5000, 0, Verdict::fail},
        // ">= 10k" target, ">= 5k" critical.
        BoundaryCase{"greater_equal_inside_target", Comparison::greater_equal, 10000, 5000, 10000.001,
                     Verdict::pass},
        BoundaryCase{"greater_equal_at_target", Comparison::greater_equal, 10000, 5000, 10000, Verdict::pass},
        BoundaryCase{"greater_equal_outside_target", Comparison::greater_equal, 10000, 5000, 9999.999,
                     Verdict::conditional_pass},
        BoundaryCase{"greater_equal_at_critical", Comparison::greater_equal, 10000, 5000, 5000,
                     Verdict::conditional_pass},
        BoundaryCase{"greater_equal_outside_critical", Comparison::greater_equal, 10000, 5000, 4999.999,
                     Verdict::fail}),
    [](const ::testing::TestParamInfo<BoundaryCase>& info) { return info.param.name; });

TEST(EvaluateRow, ReasonsNameTheLevels) {
  const auto row = make_row("api.mutating.p99", Comparison::less, 0.5, 1.0, "ms");
  EXPECT_EQ(evaluate_row(row, 0.120).reason, "meets target < 500ms");
  EXPECT_EQ(evaluate_row(row, 0.700).reason, "misses target < 500ms, within critical < 1s");
  EXPECT_EQ(evaluate_row(row, 1.200).reason, "beyond critical < 1s");
  EXPECT_EQ(evaluate_row(row, std::nullopt).reason, "not measured");
}

TEST(EvaluateRow, ReasonsUseTheRowUnit) {
  const auto row = make_row("api.mutating.p99", Comparison::less_equal, 1.0, 2.0, "s");
  EXPECT_EQ(evaluate_row(row, 1.5).reason, "misses target <= 1s, within critical <= 2s");
}

TEST(EvaluateRow, NoCriticalLevelIsAConditionalPassThatSaysSo) {
  const auto row = make_row("storage.randread_4k.iops", Comparison::greater, 10000, std::nullopt, "IOPS");
  const RowResult missed = evaluate_row(row, 3200);
  EXPECT_EQ(missed.verdict, Verdict::conditional_pass);
  EXPECT_EQ(missed.reason, "misses target > 10k IOPS, no critical level defined");

  const RowResult zero = evaluate_row(row, 0);
  EXPECT_EQ(zero.verdict, Verdict::conditional_pass) << "without a critical level nothing is a FAIL";

  const RowResult met = evaluate_row(row, 12000);
  EXPECT_EQ(met.verdict, Verdict::pass);
  EXPECT_EQ(met.reason, "meets target > 10k IOPS");
}

TEST(EvaluateRow, MissingValueIsNotMeasuredNeverPass) {
  const auto row = make_row("etcd.write.p99", Comparison::less, 0.025, 0.050, "ms");
  const RowResult result = evaluate_row(row, std::nullopt);
  EXPECT_EQ(result.verdict, Verdict::not_measured);
  EXPECT_FALSE(result.measured.has_value());
}

TEST(EvaluateRow, NanIsNotMeasuredRatherThanFail) {
  const auto row = make_row("etcd.write.p99", Comparison::less, 0.025, 0.050, "ms");
  const RowResult result = evaluate_row(row, std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(result.verdict, Verdict::not_measured);
  EXPECT_FALSE(result.measured.has_value());
  EXPECT_EQ(result.reason, "not measured (the value is not a number)");
}

TEST(EvaluateRow, RowWithoutTargetCanNeverPass) {
  const auto critical_only = make_row("etcd.write.p99", Comparison::less, std::nullopt, 0.050, "ms");
  EXPECT_EQ(evaluate_row(critical_only, 0.001).verdict, Verdict::conditional_pass);
  EXPECT_EQ(evaluate_row(critical_only, 0.001).reason, "no target level defined, within critical < 50ms");
  EXPECT_EQ(evaluate_row(critical_only, 0.060).verdict, Verdict::fail);

  const auto neither = make_row("etcd.write.p99", Comparison::less, std::nullopt, std::nullopt, "ms");
  EXPECT_EQ(evaluate_row(neither, 0.001).verdict, Verdict::not_measured);
}

TEST(EvaluateRow, KeepsTheRow) {
  auto row = make_row("dns.p99", Comparison::less, 0.010, 0.050, "ms");
  row.reference = "With cache";
  EXPECT_EQ(evaluate_row(row, 0.004).row.reference, "With cache");
}

// ---- capacity rows measured in open loop (Measurement::offered) ----

// CoreDNS "Query rate > 10k QPS (critical > 5k)".
config::CriteriaRow dns_qps_row() {
  return make_row("dns.qps", Comparison::greater, 10000, 5000, "QPS");
}

TEST(EvaluateRowOffered, KeptUpBelowTargetIsNotDemonstratedNeverFail) {
  // A smoke run at 10 % of capacity: everything it sent was answered.
  const RowResult smoke = evaluate_row(dns_qps_row(), 998, 1000);
  EXPECT_EQ(smoke.verdict, Verdict::not_measured);
  EXPECT_EQ(smoke.reason,
            "not demonstrated: the run offered only 1000 QPS (below target > 10k QPS); run a load test at >= "
            "100 % of capacity to judge it");
  EXPECT_EQ(smoke.measured, 998);
  EXPECT_EQ(smoke.offered, 1000);

  // Between critical and target: not a CONDITIONAL PASS either, the run never asked for the target.
  EXPECT_EQ(evaluate_row(dns_qps_row(), 7000, 7000).verdict, Verdict::not_measured);
  // 99 % of what was offered is keeping up.
  EXPECT_EQ(evaluate_row(dns_qps_row(), 990, 1000).verdict, Verdict::not_measured);
}

TEST(EvaluateRowOffered, OfferedExactlyAtAStrictTargetIsNotDemonstrated) {
  // A load test at 100 % of a capacity equal to the target: "> 10k" needs more than 10k offered.
  const RowResult result = evaluate_row(dns_qps_row(), 9990, 10000);
  EXPECT_EQ(result.verdict, Verdict::not_measured);
  EXPECT_EQ(result.reason,
            "not demonstrated: the run offered only 10k QPS (not above target > 10k QPS); offer more than "
            "that (a stress test, or a stated capacity above it) to judge it");
}

TEST(EvaluateRowOffered, KeptUpAboveTargetIsPass) {
  const RowResult result = evaluate_row(dns_qps_row(), 14950, 15000);
  EXPECT_EQ(result.verdict, Verdict::pass);
  EXPECT_EQ(result.reason, "meets target > 10k QPS");
  // Meeting the target is a PASS whatever was offered.
  EXPECT_EQ(evaluate_row(dns_qps_row(), 10500, 1000).verdict, Verdict::pass);
}

TEST(EvaluateRowOffered, OfferedTheTargetAndMissedItIsJudged) {
  // Kept up within 1 %, but the run did offer more than the target and the value is below it.
  const RowResult result = evaluate_row(dns_qps_row(), 9990, 10050);
  EXPECT_EQ(result.verdict, Verdict::conditional_pass);
  EXPECT_EQ(result.reason, "misses target > 10k QPS, within critical > 5000 QPS");
}

TEST(EvaluateRowOffered, NotKeptUpIsARealShortfall) {
  // The system answered less than it was asked: judged on the value, whatever the offered load.
  const RowResult light = evaluate_row(dns_qps_row(), 989, 1000);
  EXPECT_EQ(light.verdict, Verdict::fail);
  EXPECT_EQ(light.reason, "beyond critical > 5000 QPS");
  EXPECT_EQ(evaluate_row(dns_qps_row(), 4000, 20000).verdict, Verdict::fail);
  EXPECT_EQ(evaluate_row(dns_qps_row(), 6000, 8000).verdict, Verdict::conditional_pass);
}

TEST(EvaluateRowOffered, WithoutOfferedNothingChanges) {
  EXPECT_EQ(evaluate_row(dns_qps_row(), 998).verdict, Verdict::fail);
  EXPECT_EQ(evaluate_row(dns_qps_row(), 7000, std::nullopt).verdict, Verdict::conditional_pass);
  EXPECT_FALSE(evaluate_row(dns_qps_row(), 7000).offered.has_value());
  // A non-finite offered rate says nothing.
  EXPECT_EQ(evaluate_row(dns_qps_row(), 998, std::numeric_limits<double>::infinity()).verdict, Verdict::fail);
  EXPECT_EQ(evaluate_row(dns_qps_row(), 998, std::numeric_limits<double>::quiet_NaN()).verdict,
            Verdict::fail);
}

TEST(EvaluateRowOffered, LessThanRowsIgnoreIt) {
  const auto row = make_row("dns.p99", Comparison::less, 0.010, 0.050, "ms");
  EXPECT_EQ(evaluate_row(row, 0.020, 0.020).verdict, Verdict::conditional_pass);
  EXPECT_EQ(evaluate_row(row, 0.060, 0.060).verdict, Verdict::fail);
  const auto at_most = make_row("api.error_rate", Comparison::less_equal, 0.001, 0.01, "%");
  EXPECT_EQ(evaluate_row(at_most, 0.05, 0.05).verdict, Verdict::fail);
}

TEST(EvaluateRowOffered, InclusiveTargetIsDemonstratedAtExactlyIt) {
  const auto row = make_row("dns.qps", Comparison::greater_equal, 10000, 5000, "QPS");
  // Offered the target: the shortfall is the system's.
  EXPECT_EQ(evaluate_row(row, 9990, 10000).verdict, Verdict::conditional_pass);
  EXPECT_EQ(evaluate_row(row, 4990, 5000).verdict, Verdict::not_measured);
}

TEST(EvaluateRowOffered, RowWithoutTargetUsesItsCriticalLevel) {
  const auto row = make_row("dns.qps", Comparison::greater, std::nullopt, 5000, "QPS");
  const RowResult light = evaluate_row(row, 1000, 1000);
  EXPECT_EQ(light.verdict, Verdict::not_measured);
  EXPECT_EQ(
      light.reason,
      "not demonstrated: the run offered only 1000 QPS (below critical > 5000 QPS); run a load test at >= "
      "100 % of capacity to judge it");
  // Enough offered: judged against the critical level only (never a PASS).
  EXPECT_EQ(evaluate_row(row, 6000, 6000).verdict, Verdict::conditional_pass);
}

TEST(VerdictNames, AreTheSeedsWords) {
  EXPECT_EQ(to_string(Verdict::pass), "PASS");
  EXPECT_EQ(to_string(Verdict::conditional_pass), "CONDITIONAL PASS");
  EXPECT_EQ(to_string(Verdict::fail), "FAIL");
  EXPECT_EQ(to_string(Verdict::not_measured), "NOT MEASURED");
  EXPECT_EQ(to_string(ChecklistState::not_verified), "not verified");
  EXPECT_EQ(to_string(ChecklistState::not_met), "not met");
  EXPECT_EQ(to_string(ChecklistState::met), "met");
}

}  // namespace
}  // namespace kp::eval
