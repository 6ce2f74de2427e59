// The validity rule's principle in the evaluation: the generator's own lateness makes a phase INVALID only if
// taking it out of a measured latency row could move that row to another verdict.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/evaluation.hpp"
#include "rows.hpp"

namespace kp::eval {
namespace {

using ::testing::HasSubstr;
using testing::make_row;
using testing::measure;

const std::string kReason =
    "the load generator's own send lateness P99 1.49ms is above 1.00ms (10 % of the tightest latency target, "
    "10.00ms): it could change a verdict";

std::vector<config::CriteriaRow> etcd_rows() {
  return {make_row("etcd.write.p99", config::Comparison::less, 0.025, 0.050),
          make_row("etcd.read.p99", config::Comparison::less, 0.010, 0.025)};
}

PhaseInput late_etcd(double write_p99, double read_p99, double lateness) {
  PhaseInput input;
  input.phase = Phase::etcd;
  input.measurements = {measure("etcd.write.p99", write_p99), measure("etcd.read.p99", read_p99)};
  input.invalid_reasons = {kReason};
  input.lateness = {load::LatenessFinding{.reason = kReason, .p99 = lateness}};
  return input;
}

TEST(Lateness, ThatCannotChangeAnyVerdictIsANoteNotInvalid) {
  // The demo's case: 1.49 ms late, reads 2 ms and writes 2.1 ms, both far inside their targets.
  PhaseEvaluation evaluation = evaluate_phase(late_etcd(0.0021, 0.0020, 0.00149), etcd_rows());
  EXPECT_EQ(evaluation.verdict, Verdict::pass) << evaluation.reason;
  ASSERT_FALSE(evaluation.notes.empty());
  EXPECT_THAT(evaluation.notes.back(), HasSubstr("not INVALID"));
  EXPECT_THAT(evaluation.notes.back(), HasSubstr("could not"));
}

TEST(Lateness, ThatCouldMoveARowAcrossItsTargetIsInvalid) {
  // Reads at 10.5 ms miss the 10 ms target; 1.49 ms earlier they would meet it.
  PhaseEvaluation evaluation = evaluate_phase(late_etcd(0.0021, 0.0105, 0.00149), etcd_rows());
  EXPECT_EQ(evaluation.verdict, Verdict::invalid);
  EXPECT_THAT(evaluation.reason, HasSubstr("send lateness"));
}

TEST(Lateness, ThatCouldMoveARowAcrossItsCriticalLevelIsInvalid) {
  // Writes at 51 ms FAIL; 1.49 ms earlier they would be a CONDITIONAL PASS.
  EXPECT_EQ(evaluate_phase(late_etcd(0.051, 0.002, 0.00149), etcd_rows()).verdict, Verdict::invalid);
}

TEST(Lateness, BesideAClearFailItIsNoReasonForInvalid) {
  // Writes at 787 ms FAIL with or without 5 ms of lateness: the FAIL stands.
  PhaseEvaluation evaluation = evaluate_phase(late_etcd(0.787, 0.002, 0.005), etcd_rows());
  EXPECT_EQ(evaluation.verdict, Verdict::fail) << evaluation.reason;
}

TEST(Lateness, WithNoLatencyRowMeasuredTheReasonStays) {
  PhaseInput input = late_etcd(0, 0, 0.00149);
  input.measurements.clear();
  EXPECT_EQ(evaluate_phase(input, etcd_rows()).verdict, Verdict::invalid);
}

TEST(Lateness, AReasonWithoutItsFigureStays) {
  // A producer that does not forward the finding keeps the safe side.
  PhaseInput input = late_etcd(0.0021, 0.0020, 0.00149);
  input.lateness.clear();
  EXPECT_EQ(evaluate_phase(input, etcd_rows()).verdict, Verdict::invalid);
}

}  // namespace
}  // namespace kp::eval
