// From a LoadResult to the ingress rows, the validity statement and a stress step.

#include "drivers/ingress/measurements.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::ingress {
namespace {

using std::chrono::milliseconds;

LoadResult open_loop_result() {
  LoadResult result;
  result.open_loop = true;
  result.intended_rate = 1000;
  result.window = std::chrono::seconds(10);
  result.elapsed = std::chrono::seconds(10);
  result.issued = 10000;
  result.dispatched = 10000;
  result.sent_in_window = 10000;
  result.requests_sent = 10000;
  result.responses = 10000;
  result.status_classes[2] = 9990;
  result.status_classes[5] = 10;
  for (int i = 0; i < 10000; ++i) {
    result.latency.record(std::int64_t{1'000'000});
    result.uncorrected.record(std::int64_t{500'000});
    result.own_lateness.record(std::int64_t{20'000});
  }
  result.pacer.sends = 10000;
  return result;
}

// The shipped criteria (small cluster): ingress.p99 < 100 ms, ingress.rps and ingress.connection_rate judged.
const load::CriteriaView& shipped() {
  static const load::CriteriaView view({});
  return view;
}

TEST(IngressMeasurements, RowsFromAResult) {
  std::vector<Measurement> rows = request_measurements(open_loop_result());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].metric, "ingress.rps");
  EXPECT_DOUBLE_EQ(rows[0].value, 1000);
  EXPECT_EQ(rows[1].metric, "ingress.p99");
  EXPECT_NEAR(rows[1].value, 0.001, 0.000001);
  ASSERT_TRUE(rows[1].histogram);
  EXPECT_EQ(rows[1].histogram->count(), 10000u);
  EXPECT_EQ(rows[2].metric, "ingress.error_rate_5xx");
  EXPECT_DOUBLE_EQ(rows[2].value, 0.001);
  EXPECT_TRUE(judge_run(open_loop_result(), "requests", "ingress.rps", shipped()).valid());
}

TEST(IngressMeasurements, OpenLoopRatesCarryTheIntendedRate) {
  std::vector<Measurement> rows = request_measurements(open_loop_result());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].offered, 1000);
  EXPECT_FALSE(rows[1].offered.has_value());  // P99 and 5xx share are no rates bounded by the offered load
  EXPECT_FALSE(rows[2].offered.has_value());

  LoadResult connections = open_loop_result();
  connections.intended_rate = 200;
  connections.connections_opened = 2000;
  std::vector<Measurement> connection_rows = connection_measurements(connections);
  ASSERT_EQ(connection_rows.size(), 1u);
  EXPECT_EQ(connection_rows[0].metric, "ingress.connection_rate");
  EXPECT_EQ(connection_rows[0].offered, 200);
}

TEST(IngressMeasurements, ClosedLoopRatesOfferNothing) {
  LoadResult closed = open_loop_result();
  closed.open_loop = false;
  closed.intended_rate = 0;
  EXPECT_FALSE(request_measurements(closed)[0].offered.has_value());
  EXPECT_FALSE(connection_measurements(closed)[0].offered.has_value());
  load::Validity validity = judge_run(closed, "requests", "ingress.rps", shipped());
  EXPECT_TRUE(validity.valid());
  EXPECT_NE(validity.statement.find("closed loop"), std::string::npos) << validity.statement;
}

// A server that answers nothing fails on its rows; that is the server's result, not an invalid run.
TEST(IngressMeasurements, NoResponseIsAFailedErrorRateAndNoP99) {
  LoadResult empty;
  empty.timeouts = 5;
  std::vector<Measurement> rows = request_measurements(empty);
  ASSERT_EQ(rows.size(), 2u);  // the rate (0) and the error rate (100 %): no P99
  EXPECT_EQ(rows[0].metric, "ingress.rps");
  EXPECT_EQ(rows[1].metric, "ingress.error_rate_5xx");
  EXPECT_DOUBLE_EQ(rows[1].value, 1.0);
  EXPECT_TRUE(judge_run(empty, "requests", "ingress.rps", shipped()).valid());
}

TEST(IngressMeasurements, RequestsWithoutAResponseCountAsErrors) {
  LoadResult failing = open_loop_result();
  failing.responses = 9500;
  failing.status_classes[2] = 9490;
  failing.timeouts = 500;
  std::vector<Measurement> rows = request_measurements(failing);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_DOUBLE_EQ(rows[2].value, 510.0 / 10000.0);  // 10 5xx + 500 without a response, of 10000 attempts
}

// `make demo` on a busy 2-core machine: 2.1 % of the sends up to 6 ms late at 1000 req/s against the 100 ms
// target. 6 ms is inside the corrected latency and under 10 ms (10 % of the target): a note, not INVALID.
TEST(IngressValidity, SixMillisecondsLateAgainstAHundredMillisecondTargetIsANote) {
  LoadResult busy = open_loop_result();
  busy.own_lateness = Histogram();
  for (int i = 0; i < 10000; ++i) {
    busy.own_lateness.record(i < 210 ? std::int64_t{6'000'000} : std::int64_t{30'000});
  }
  load::Validity validity = judge_run(busy, "requests", "ingress.rps", shipped());
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
  EXPECT_NE(validity.statement.find("requests: offered 1000/s"), std::string::npos) << validity.statement;
  EXPECT_NE(validity.statement.find("limit 10.00ms: 10 % of the 100.00ms target"), std::string::npos)
      << validity.statement;

  // Past 10 % of the target the generator's own lateness could change the P99 verdict: INVALID.
  LoadResult slow = open_loop_result();
  slow.own_lateness = Histogram();
  for (int i = 0; i < 10000; ++i) {
    slow.own_lateness.record(i < 200 ? std::int64_t{12'000'000} : std::int64_t{30'000});
  }
  load::Validity invalid = judge_run(slow, "requests", "ingress.rps", shipped());
  ASSERT_EQ(invalid.invalid_reasons.size(), 1u);
  EXPECT_NE(invalid.invalid_reasons[0].find("own send lateness P99"), std::string::npos)
      << invalid.invalid_reasons[0];
}

// Sends that waited for a connection held by a slow server are the server's: not a shortfall of the
// generator, even when many never went out before the end.
TEST(IngressValidity, QueuedForAConnectionIsTheServersNeverInvalid) {
  LoadResult stalled = open_loop_result();
  stalled.dispatched = 8000;
  stalled.queued = 2900;
  stalled.unsent_for_server = 2000;
  stalled.unsent = 2000;
  load::Validity validity = judge_run(stalled, "requests", "ingress.rps", shipped());
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
  EXPECT_NE(validity.statement.find("2900 queued for a connection"), std::string::npos) << validity.statement;

  // The same shortfall for the generator's own reasons (it never got to them) is INVALID on a judged rate.
  LoadResult behind = open_loop_result();
  behind.dispatched = 9800;
  behind.unsent = 200;
  behind.unsent_own = 200;
  load::Validity own = judge_run(behind, "requests", "ingress.rps", shipped());
  ASSERT_EQ(own.invalid_reasons.size(), 1u);
  EXPECT_NE(own.invalid_reasons[0].find("sent only 98.00 %"), std::string::npos) << own.invalid_reasons[0];
  // ... and just inside the 99 % it is valid.
  behind.dispatched = 9900;
  EXPECT_TRUE(judge_run(behind, "requests", "ingress.rps", shipped()).valid());
}

TEST(IngressStress, AStepRecordsWhatTheWindowAnswered) {
  LoadResult result = open_loop_result();
  result.elapsed = std::chrono::seconds(11);  // the drain after the window does not dilute the rate
  load::StepRecord step = step_record(result, false);
  EXPECT_DOUBLE_EQ(step.offered, 1000);
  EXPECT_DOUBLE_EQ(step.achieved, 1000);
  EXPECT_EQ(step.completed, 10000u);
  EXPECT_EQ(step.errors, 10u);
  ASSERT_TRUE(step.p99);
  EXPECT_NEAR(*step.p99, 0.001, 0.00001);

  // Limits: the Critical levels of ingress.p99 and the 5xx rate (the small tier has no critical: targets).
  load::BreakLimits limits = break_limits(shipped());
  ASSERT_TRUE(limits.p99_critical);
  EXPECT_DOUBLE_EQ(*limits.p99_critical, 0.1);
  ASSERT_TRUE(limits.error_critical);
  EXPECT_DOUBLE_EQ(*limits.error_critical, 0.001);
  EXPECT_EQ(load::step_break_reason(step, limits, "RPS"), "");
  result.status_classes[5] = 50;
  EXPECT_NE(load::step_break_reason(step_record(result, false), limits, "RPS")
                .find("errors 0.50% > critical 0.10%"),
            std::string::npos)
      << load::step_break_reason(step_record(result, false), limits, "RPS");
}

// A step that broke only by the generator's own lateness is not the ingress's breaking point.
TEST(IngressStress, ABreakTheGeneratorsOwnLatenessExplainsIsNotTheServers) {
  const load::BreakLimits limits = break_limits(shipped());  // P99 critical 100 ms
  LoadResult result = open_loop_result();
  result.own_lateness = Histogram();
  for (int i = 0; i < 1000; ++i) {
    result.own_lateness.record(std::int64_t{15'000'000});  // 15 ms late, every send
  }
  load::StepRecord step = step_record(result, false);
  step.p99 = 0.110;  // 110 ms: 95 ms of it the server's, under the 100 ms critical level
  step.broke = load::step_break_reason(step, limits, "RPS");
  ASSERT_FALSE(step.broke.empty());
  EXPECT_TRUE(load::own_lateness_explains_break(step, limits, result.own_lateness, "RPS"));
  step.p99 = 0.130;  // 115 ms of it the server's: the ingress's break
  EXPECT_FALSE(load::own_lateness_explains_break(step, limits, result.own_lateness, "RPS"));
  result.own_lateness = Histogram();  // nothing measured: nothing to explain it with
  step.p99 = 0.110;
  EXPECT_FALSE(load::own_lateness_explains_break(step, limits, result.own_lateness, "RPS"));
}

}  // namespace
}  // namespace kp::drivers::ingress
