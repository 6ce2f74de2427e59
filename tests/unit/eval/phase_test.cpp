#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "eval/evaluation.hpp"
#include "rows.hpp"

namespace kp::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::measure;
using testing::measure_offered;
using testing::seed_rows;

PhaseInput input_for(Phase phase, std::vector<Measurement> measurements,
                     PhaseStatus status = PhaseStatus::completed, std::string reason = {}) {
  PhaseInput input;
  input.phase = phase;
  input.status = status;
  input.reason = std::move(reason);
  input.measurements = std::move(measurements);
  return input;
}

PhaseInput good_etcd() {
  return input_for(Phase::etcd, {measure("etcd.write.p99", 0.012), measure("etcd.read.p99", 0.004),
                                 measure("etcd.fsync.p99", 0.003)});
}

PhaseInput skipped(Phase phase, std::string reason) {
  return input_for(phase, {}, PhaseStatus::skipped, std::move(reason));
}

std::vector<std::string> metrics_of(const PhaseEvaluation& evaluation) {
  std::vector<std::string> out;
  for (const RowResult& row : evaluation.rows) {
    out.push_back(row.row.metric);
  }
  return out;
}

// ---- evaluate_phase ----

TEST(EvaluatePhase, AllMeetTargetIsPass) {
  const PhaseEvaluation result = evaluate_phase(good_etcd(), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::pass);
  EXPECT_EQ(result.reason, "all 3 metrics meet target");
  EXPECT_THAT(metrics_of(result), ElementsAre("etcd.write.p99", "etcd.read.p99", "etcd.fsync.p99"));
}

TEST(EvaluatePhase, OneMissWithinCriticalIsConditionalPass) {
  PhaseInput input = good_etcd();
  input.measurements[0].value = 0.030;
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::conditional_pass);
  EXPECT_EQ(result.reason, "etcd.write.p99 30.00ms misses target < 25ms, within critical < 50ms");
}

TEST(EvaluatePhase, OneBeyondCriticalIsFailWhateverTheOthers) {
  PhaseInput input = good_etcd();
  input.measurements[1].value = 0.030;  // read P99 beyond critical < 25ms
  input.measurements[0].value = 0.030;  // write P99 within critical
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::fail);
  EXPECT_EQ(result.reason, "etcd.read.p99 30.00ms beyond critical < 25ms");
}

TEST(EvaluatePhase, RowsSharingAMetricAreEachJudged) {
  // 700ms misses the seed's < 500ms target but meets the Kubernetes SLO <= 1s.
  const PhaseInput input = input_for(Phase::api, {measure("api.mutating.p99", 0.7)});
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  std::vector<Verdict> mutating;
  for (const RowResult& row : result.rows) {
    if (row.row.metric == "api.mutating.p99") {
      mutating.push_back(row.verdict);
    }
  }
  EXPECT_THAT(mutating, ElementsAre(Verdict::conditional_pass, Verdict::pass));
  EXPECT_TRUE(result.informational.empty());
}

TEST(EvaluatePhase, MeasuredMetricsWithoutARowAreInformational) {
  PhaseInput input = good_etcd();
  input.measurements.push_back(measure("etcd.leader_changes", 0));
  input.measurements.push_back(measure("etcd.write.throughput", 4200));
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::pass);
  ASSERT_EQ(result.informational.size(), 2U);
  EXPECT_EQ(result.informational[0].metric, "etcd.leader_changes");
  EXPECT_EQ(result.informational[1].metric, "etcd.write.throughput");
}

TEST(EvaluatePhase, AMetricReportedTwiceUsesTheLastValueAndSaysSo) {
  PhaseInput input = good_etcd();
  input.measurements.push_back(measure("etcd.write.p99", 0.060));
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::fail);
  ASSERT_EQ(result.rows.size(), 3U);
  EXPECT_EQ(result.rows[0].measured, 0.060);
  EXPECT_THAT(result.notes,
              ElementsAre("etcd.write.p99 was reported 2 times; the last value is used (a bug in "
                          "the producer)"));
}

TEST(EvaluatePhase, OnlyThisPhasesRowsAreListed) {
  const PhaseEvaluation result = evaluate_phase(input_for(Phase::dns, {}), seed_rows());
  EXPECT_THAT(metrics_of(result), ElementsAre("dns.qps", "dns.p99"));
}

TEST(EvaluatePhase, SkippedListsItsRowsAsNotMeasured) {
  const PhaseEvaluation result = evaluate_phase(skipped(Phase::dns, "unbound is not installed"), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::skipped);
  EXPECT_EQ(result.status, PhaseStatus::skipped);
  EXPECT_EQ(result.reason, "unbound is not installed");
  ASSERT_EQ(result.rows.size(), 2U);
  EXPECT_EQ(result.rows[0].verdict, Verdict::not_measured);
}

TEST(EvaluatePhase, SkippedWithImportedMeasurementsIsJudged) {
  PhaseInput input = good_etcd();
  input.status = PhaseStatus::skipped;
  input.reason = "imported";
  EXPECT_EQ(evaluate_phase(input, seed_rows()).verdict, Verdict::pass);
}

TEST(EvaluatePhase, InvalidRunIsInvalidEvenWithAFailingRow) {
  PhaseInput input = good_etcd();
  input.measurements[0].value = 0.5;
  input.invalid_reasons = {"achieved 712/s of the intended 1000/s", "client saturated"};
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::invalid);
  EXPECT_EQ(result.reason, "achieved 712/s of the intended 1000/s; client saturated");
  EXPECT_EQ(result.rows[0].verdict, Verdict::fail) << "rows are still judged for the report";
}

TEST(EvaluatePhase, NothingMeasuredIsNotMeasured) {
  const PhaseEvaluation result = evaluate_phase(input_for(Phase::etcd, {}), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::not_measured);
  EXPECT_EQ(result.reason, "none of the 3 metrics was measured");
}

TEST(EvaluatePhase, SomeNotMeasuredIsIncompleteNeverPass) {
  const PhaseEvaluation result =
      evaluate_phase(input_for(Phase::etcd, {measure("etcd.write.p99", 0.010)}), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::incomplete);
  EXPECT_EQ(result.reason, "1 of 3 metrics measured; not measured: etcd.read.p99, etcd.fsync.p99");
}

TEST(EvaluatePhase, ACapacityNotDemonstratedByALightRunIsIncompleteNotFail) {
  // A smoke run at 10 % of capacity: dns.qps kept up with the 1k/s it offered.
  const PhaseEvaluation result = evaluate_phase(
      input_for(Phase::dns, {measure_offered("dns.qps", 998, 1000), measure("dns.p99", 0.004)}), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::incomplete);
  EXPECT_EQ(result.reason,
            "1 of 2 metrics judged; dns.qps 998 QPS not demonstrated: the run offered only 1000 QPS (below "
            "target > 10k QPS); run a load test at >= 100 % of capacity to judge it");
  ASSERT_EQ(result.rows.size(), 2U);
  EXPECT_EQ(result.rows[0].verdict, Verdict::not_measured);
  EXPECT_EQ(result.rows[0].measured, 998);
  EXPECT_EQ(result.rows[0].offered, 1000);
  EXPECT_EQ(result.rows[1].verdict, Verdict::pass);
}

TEST(EvaluatePhase, ACapacityThatDidNotKeepUpIsStillAFail) {
  const PhaseEvaluation result = evaluate_phase(
      input_for(Phase::dns, {measure_offered("dns.qps", 800, 1000), measure("dns.p99", 0.004)}), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::fail);
  EXPECT_THAT(result.reason, HasSubstr("dns.qps 800 QPS beyond critical > 5000 QPS"));
}

TEST(EvaluatePhase, NotDemonstratedAndNotMeasuredAreBothNamed) {
  const PhaseEvaluation result =
      evaluate_phase(input_for(Phase::dns, {measure_offered("dns.qps", 1000, 1000)}), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::not_measured);
  EXPECT_THAT(result.reason, HasSubstr("0 of 2 metrics judged; not measured: dns.p99; dns.qps 1000 QPS not "
                                       "demonstrated: the run offered only 1000 QPS"));
}

TEST(EvaluatePhase, SomeNotMeasuredAndOneFailedIsFail) {
  const PhaseEvaluation result =
      evaluate_phase(input_for(Phase::etcd, {measure("etcd.write.p99", 0.5)}), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::fail);
}

TEST(EvaluatePhase, NoActiveRowIsNotMeasured) {
  const PhaseEvaluation result =
      evaluate_phase(input_for(Phase::etcd, {measure("etcd.write.p99", 0.010)}), {});
  EXPECT_EQ(result.verdict, Verdict::not_measured);
  EXPECT_EQ(result.reason, "no active criteria row for this phase");
  ASSERT_EQ(result.informational.size(), 1U);
}

TEST(EvaluatePhase, CancelledIsAbortedWithWhatItMeasured) {
  PhaseInput input = input_for(Phase::etcd, {measure("etcd.write.p99", 0.010)}, PhaseStatus::cancelled);
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::aborted);
  EXPECT_EQ(result.status, PhaseStatus::cancelled);
  EXPECT_EQ(result.reason, "interrupted; 1 of 3 metrics measured before it stopped");
  EXPECT_EQ(result.rows[0].verdict, Verdict::pass);
}

// A Ctrl-C 0.3 s into the dns phase measured a cold cache's hit ratio (43 %): the cut sample must not turn
// the interrupted run into a FAIL (exit 1). The row keeps its FAIL, and the reason names it.
TEST(EvaluatePhase, CancelledWithAFailureIsAbortedAndNamesIt) {
  PhaseInput input = input_for(Phase::etcd, {measure("etcd.write.p99", 0.100)}, PhaseStatus::cancelled);
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::aborted);
  EXPECT_EQ(result.reason,
            "interrupted; 1 of 3 metrics measured before it stopped, beyond critical then: etcd.write.p99 "
            "100.00ms beyond critical < 50ms");
  EXPECT_EQ(result.rows[0].verdict, Verdict::fail);
  EvaluationOptions aborted;
  aborted.aborted = true;
  EXPECT_EQ(evaluate({input}, seed_rows(), aborted).overall, Verdict::aborted);
}

TEST(EvaluatePhase, DriverErrorWithAFailureIsFail) {
  PhaseInput input = input_for(Phase::etcd, {measure("etcd.write.p99", 0.100)}, PhaseStatus::error,
                               "run failed: connection reset");
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::fail);
  EXPECT_EQ(result.reason, "etcd.write.p99 100.00ms beyond critical < 50ms (run failed: connection reset)");
}

TEST(EvaluatePhase, DriverErrorIsIncompleteEvenWhenEverythingPassed) {
  PhaseInput input = good_etcd();
  input.status = PhaseStatus::error;
  input.reason = "run failed: connection reset";
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.verdict, Verdict::incomplete);
  EXPECT_EQ(result.reason, "run failed: connection reset; 3 of 3 metrics measured before it stopped");
}

TEST(EvaluatePhase, DriverErrorWithoutMeasurementsIsIncomplete) {
  const PhaseEvaluation result =
      evaluate_phase(input_for(Phase::etcd, {}, PhaseStatus::error, "prepare failed: boom"), seed_rows());
  EXPECT_EQ(result.verdict, Verdict::incomplete);
  EXPECT_EQ(result.reason, "prepare failed: boom; 0 of 3 metrics measured before it stopped");
}

TEST(EvaluatePhase, ContinueOnFailIsNoted) {
  PhaseInput input = input_for(Phase::api, {measure("api.mutating.p99", 0.1)});
  input.ran_after_failure = Phase::etcd;
  const PhaseEvaluation result = evaluate_phase(input, seed_rows());
  EXPECT_EQ(result.ran_after_failure, Phase::etcd);
  EXPECT_THAT(result.notes,
              ElementsAre("ran under --continue-on-fail although etcd failed; its numbers may reflect that"));
}

// ---- evaluate (overall) ----

EvaluationOptions options() {
  return EvaluationOptions{};
}

TEST(Evaluate, AllSixPhasesInFlowOrderWhateverTheInputOrder) {
  const Evaluation result =
      evaluate({input_for(Phase::dns, {measure("dns.qps", 20000), measure("dns.p99", 0.002)}), good_etcd()},
               seed_rows(), options());
  ASSERT_EQ(result.phases.size(), 6U);
  for (std::size_t i = 0; i < kFlowOrder.size(); ++i) {
    EXPECT_EQ(result.phases[i].phase, kFlowOrder[i]);
  }
  EXPECT_EQ(result.phases[1].verdict, Verdict::skipped);
  EXPECT_EQ(result.phases[1].reason, "no data for this phase");
}

TEST(Evaluate, SkippedPhasesDoNotMakeARunFailButAreReported) {
  const Evaluation result = evaluate({good_etcd(), skipped(Phase::api, "no driver for this phase yet"),
                                      skipped(Phase::network, "no driver for this phase yet"),
                                      skipped(Phase::dns, "unbound is not installed")},
                                     seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::pass);
  EXPECT_EQ(
      result.overall_reason,
      "1 of 6 phases evaluated; every measured metric meets target; skipped: api, network (no driver for "
      "this phase yet); dns (unbound is not installed); storage, ingress (no data for this phase)");
}

TEST(Evaluate, FailNamesThePhaseTheMetricAndTheLevel) {
  const Evaluation result =
      evaluate({good_etcd(), input_for(Phase::dns, {measure("dns.qps", 3200), measure("dns.p99", 0.002)})},
               seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::fail);
  EXPECT_THAT(result.overall_reason,
              HasSubstr("2 of 6 phases evaluated; dns FAIL: dns.qps 3200 QPS beyond critical > 5000 QPS"));
}

TEST(Evaluate, ConditionalPassWhenSomeMissTargetWithinCritical) {
  PhaseInput etcd = good_etcd();
  etcd.measurements[0].value = 0.030;
  const Evaluation result = evaluate({etcd}, seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::conditional_pass);
  EXPECT_THAT(result.overall_reason,
              HasSubstr("etcd CONDITIONAL PASS: etcd.write.p99 30.00ms misses target"));
}

TEST(Evaluate, FailWinsOverAbortedInvalidAndIncomplete) {
  PhaseInput etcd = good_etcd();
  etcd.measurements[0].value = 0.5;
  PhaseInput api = input_for(Phase::api, {measure("api.qps", 2000)});
  api.invalid_reasons = {"achieved 700/s of 1000/s"};
  EvaluationOptions aborted;
  aborted.aborted = true;
  const Evaluation result = evaluate({etcd, api}, seed_rows(), aborted);
  EXPECT_EQ(result.overall, Verdict::fail);
}

TEST(Evaluate, AbortedWinsOverInvalid) {
  PhaseInput api = input_for(Phase::api, {measure("api.qps", 2000)});
  api.invalid_reasons = {"achieved 700/s of 1000/s"};
  PhaseInput dns = input_for(Phase::dns, {measure("dns.qps", 20000)}, PhaseStatus::cancelled);
  EvaluationOptions aborted;
  aborted.aborted = true;
  const Evaluation result = evaluate({good_etcd(), api, dns}, seed_rows(), aborted);
  EXPECT_EQ(result.overall, Verdict::aborted);
  EXPECT_THAT(result.overall_reason,
              HasSubstr("run aborted; dns ABORTED: interrupted; 1 of 2 metrics measured"));
}

TEST(Evaluate, AbortedBeforeAnyPhaseRan) {
  EvaluationOptions aborted;
  aborted.aborted = true;
  const Evaluation result = evaluate({}, seed_rows(), aborted);
  EXPECT_EQ(result.overall, Verdict::aborted);
}

TEST(Evaluate, InvalidWinsOverIncompleteAndPass) {
  PhaseInput api = input_for(Phase::api, {measure("api.qps", 2000)});
  api.invalid_reasons = {"achieved 700/s of 1000/s"};
  const Evaluation result = evaluate({good_etcd(), api, input_for(Phase::dns, {measure("dns.qps", 20000)})},
                                     seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::invalid);
  EXPECT_THAT(result.overall_reason, HasSubstr("api INVALID: achieved 700/s of 1000/s"));
}

TEST(Evaluate, IncompleteWhenAPhaseMissedSomeMetrics) {
  const Evaluation result =
      evaluate({good_etcd(), input_for(Phase::dns, {measure("dns.qps", 20000)})}, seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::incomplete);
  EXPECT_THAT(result.overall_reason,
              HasSubstr("dns INCOMPLETE: 1 of 2 metrics measured; not measured: dns.p99"));
}

TEST(Evaluate, ALightRunThatKeptUpIsIncompleteNotFail) {
  const Evaluation result =
      evaluate({good_etcd(),
                input_for(Phase::dns, {measure_offered("dns.qps", 998, 1000), measure("dns.p99", 0.004)})},
               seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::incomplete);
  EXPECT_THAT(result.overall_reason, HasSubstr("dns INCOMPLETE: 1 of 2 metrics judged; dns.qps 998 QPS not "
                                               "demonstrated: the run offered only 1000 QPS"));
}

TEST(Evaluate, IncompleteWhenAPhaseRanButMeasuredNothing) {
  const Evaluation result = evaluate({good_etcd(), input_for(Phase::dns, {})}, seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::incomplete);
  EXPECT_THAT(result.overall_reason, HasSubstr("dns NOT MEASURED: none of the 2 metrics was measured"));
}

TEST(Evaluate, NotMeasuredWhenNoPhaseInScopeMeasuredAnything) {
  const Evaluation result = evaluate({input_for(Phase::etcd, {})}, seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::not_measured);
}

TEST(Evaluate, NoPhaseInScopeIsNotMeasured) {
  std::vector<PhaseInput> inputs;
  for (Phase phase : kFlowOrder) {
    inputs.push_back(skipped(phase, "not selected"));
  }
  const Evaluation result = evaluate(inputs, seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::not_measured);
  EXPECT_EQ(
      result.overall_reason,
      "0 of 6 phases evaluated; no phase was in scope; skipped: etcd, api, network, dns, storage, ingress "
      "(not selected)");
}

TEST(Evaluate, ContinueOnFailIsInTheOverallReason) {
  PhaseInput etcd = good_etcd();
  etcd.measurements[0].value = 0.5;
  PhaseInput dns = input_for(Phase::dns, {measure("dns.qps", 20000), measure("dns.p99", 0.002)});
  dns.ran_after_failure = Phase::etcd;
  const Evaluation result = evaluate({etcd, dns}, seed_rows(), options());
  EXPECT_EQ(result.overall, Verdict::fail);
  EXPECT_THAT(result.overall_reason, HasSubstr("--continue-on-fail ran dns after a failed phase"));
}

TEST(Evaluate, APhaseGivenTwiceUsesTheLastAndSaysSo) {
  PhaseInput failing = good_etcd();
  failing.measurements[0].value = 0.5;
  const Evaluation result = evaluate({failing, good_etcd()}, seed_rows(), options());
  EXPECT_EQ(result.phases[0].verdict, Verdict::pass);
  EXPECT_THAT(result.phases[0].notes,
              ElementsAre("the etcd phase was given 2 times; the last is used (a bug in the producer)"));
}

TEST(Evaluate, ChecklistHasTheSeedsEightItemsInOrder) {
  const Evaluation result = evaluate({}, seed_rows(), options());
  std::vector<std::string> texts;
  for (const ChecklistItem& item : result.checklist) {
    texts.push_back(item.text);
    EXPECT_EQ(item.state, ChecklistState::not_verified) << item.text;
  }
  EXPECT_THAT(texts, ElementsAre("API Server P99 latency < 500ms under expected load",
                                 "etcd write latency P99 < 25ms", "No etcd leader election during 24h test",
                                 "Pod startup time P99 < 5s (image cached)", "DNS query latency P99 < 10ms",
                                 "Storage IOPS meets workload requirements",
                                 "Network throughput meets inter-zone requirements",
                                 "Ingress handles expected peak traffic"));
}

}  // namespace
}  // namespace kp::eval
