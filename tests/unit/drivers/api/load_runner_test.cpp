// The api load runner driven by a FakeClock through its submit seam: the schedule, the generator's own
// lateness apart from the server's queueing, 429 accounting, and exceptions turned into phase errors.

#include "drivers/api/load_runner.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

#include "drivers/api/measurements.hpp"

namespace kp::drivers::api {
namespace {

using std::chrono::milliseconds;

Operation get_operation() {
  Operation op;
  op.verb_class = VerbClass::readonly;
  op.request.method = "GET";
  op.request.path = "/api/v1/namespaces/a/configmaps/b";
  return op;
}

// A server that answers at once, `service` after the intended start (or after now, if later).
LoadRunner::Submit instant_server(Clock& clock, Duration service, long status = 200) {
  return [&clock, service, status](kube::Request request, kube::Callback done) {
    kube::Response response;
    response.status = status;
    response.intended = request.not_before.value_or(clock.now());
    response.started = std::max(clock.now(), response.intended);
    response.finished = response.started + service;
    done(std::move(response));
  };
}

TEST(LoadRunner, KeepsTheScheduleAndCountsOwnLateness) {
  FakeClock clock;
  engine::CancellationToken cancel;
  LoadRunner runner(instant_server(clock, milliseconds(5)), clock, cancel);
  std::vector<Operation> operations(50, get_operation());
  Result<LoadStats> stats = runner.run(std::move(operations), 100, 1);
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->ok, 50u);
  EXPECT_EQ(stats->due, 50u);
  EXPECT_EQ(stats->sent, 50u);
  EXPECT_EQ(stats->queued_for_server, 0u);
  // 50 sends 10 ms apart: from the first to the last, 490 ms.
  EXPECT_EQ(stats->window, milliseconds(490));
  EXPECT_EQ(stats->readonly.count(), 50u);
  EXPECT_EQ(stats->own_lateness.count(), 50u);
  EXPECT_EQ(stats->own_lateness.max(), 0) << "the fake clock never lets a send be late";
  EXPECT_DOUBLE_EQ(*stats->offered_rate(), 100);
  // A server that kept up achieved the rate offered, however short the run.
  EXPECT_EQ(stats->busy, milliseconds(500));
  const load::Validity validity = load::judge_validity(stats->account(true), 1.0);
  EXPECT_TRUE(validity.valid()) << validity.statement;
}

TEST(LoadRunner, AServerThatFallsBehindStretchesTheRunsTime) {
  FakeClock clock;
  engine::CancellationToken cancel;
  // Each answer 20 ms after the one before: the server does 50/s of the 100/s offered.
  TimePoint server_free = clock.now();
  LoadRunner runner(
      [&](kube::Request request, kube::Callback done) {
        kube::Response response;
        response.status = 200;
        response.intended = *request.not_before;
        response.started = std::max(clock.now(), response.intended);
        server_free = std::max(server_free, response.started) + milliseconds(20);
        response.finished = server_free;
        done(std::move(response));
      },
      clock, cancel);
  Result<LoadStats> stats = runner.run(std::vector<Operation>(50, get_operation()), 100, 1);
  ASSERT_TRUE(stats) << stats.error().message;
  // 50 answers, the last 1 s after the first send, less the median latency (about 270 ms): far from the
  // 500 ms the schedule took, so the achieved rate shows the server's shortfall.
  EXPECT_NEAR(std::chrono::duration<double>(stats->busy).count(), 0.73, 0.01);
  EXPECT_LT(static_cast<double>(stats->ok) / std::chrono::duration<double>(stats->busy).count(), 70.0);
}

TEST(LoadRunner, ATinyRatesScheduleIsCappedAtAYear) {
  // One send at 1e-15/s is a schedule of 1e15 s: converting that to nanoseconds was undefined behaviour.
  FakeClock clock;
  engine::CancellationToken cancel;
  LoadRunner runner(instant_server(clock, milliseconds(5)), clock, cancel);
  Result<LoadStats> stats = runner.run(std::vector<Operation>(1, get_operation()), 1e-15, 1);
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_EQ(stats->sent, 1u);
  EXPECT_EQ(stats->busy, std::chrono::hours(365 * 24));
}

TEST(LoadRunner, AnswerOfAQueuedSendIsTheServersNotOwnLateness) {
  LoadStats stats;
  kube::Response late;
  late.status = 200;
  late.intended = TimePoint{} + milliseconds(100);
  late.started = TimePoint{} + milliseconds(400);  // waited 300 ms for a slot the server held
  late.finished = TimePoint{} + milliseconds(450);
  record_answer(stats, VerbClass::mutating, "POST", "/api/v1/namespaces", {}, late, /*queued=*/true);
  EXPECT_EQ(stats.mutating.count(), 1u);
  EXPECT_NEAR(static_cast<double>(stats.mutating.max()), 350e6, 350e6 * 0.002)
      << "the wait is inside the latency from the intended send time";
  EXPECT_EQ(stats.own_lateness.count(), 0u) << "never the generator's lateness";
  record_answer(stats, VerbClass::mutating, "POST", "/api/v1/namespaces", {}, late, /*queued=*/false);
  EXPECT_EQ(stats.own_lateness.count(), 1u) << "not queued: the loop itself was 300 ms late";
}

TEST(LoadRunner, ThrottledAnswersAreCountedApartWithTheFlowSchema) {
  LoadStats stats;
  kube::Response answer;
  answer.status = 201;
  answer.throttled = 2;
  answer.flow_schema_uid = "fs-1";
  answer.priority_level_uid = "pl-1";
  record_answer(stats, VerbClass::mutating, "POST", "/api/v1/namespaces", {}, answer, false);
  kube::Response unnamed;
  unnamed.status = 200;
  unnamed.throttled = 1;
  record_answer(stats, VerbClass::readonly, "GET", "/api/v1/namespaces/a", {}, unnamed, false);
  EXPECT_EQ(stats.ok, 2u) << "a request answered after its retries succeeded";
  EXPECT_EQ(stats.failed, 0u);
  EXPECT_EQ(stats.throttled, 2u);
  EXPECT_EQ(stats.throttled_answers, 3u);
  EXPECT_EQ(stats.throttled_by.at("flow schema fs-1, priority level pl-1"), 2u);
  EXPECT_EQ(stats.throttled_by.at(""), 1u);
  const std::string text = throttling_text(stats);
  EXPECT_NE(text.find("3 429 answers (API Priority and Fairness) on 2 requests"), std::string::npos) << text;
  EXPECT_NE(text.find("flow schema fs-1, priority level pl-1: 2"), std::string::npos) << text;
  EXPECT_NE(text.find("not named by the server: 1"), std::string::npos) << text;
}

TEST(LoadRunner, AnExceptionInACompletionIsAPhaseError) {
  FakeClock clock;
  engine::CancellationToken cancel;
  LoadRunner runner(instant_server(clock, milliseconds(1)), clock, cancel);
  std::vector<Operation> operations(3, get_operation());
  operations[1].on_success = [](const kube::Response&) { throw std::runtime_error("tracker full"); };
  Result<LoadStats> stats = runner.run(std::move(operations), 100, 1);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::internal);
  EXPECT_EQ(stats.error().message,
            "api load: a completion failed: GET /api/v1/namespaces/a/configmaps/b: tracker full");
}

TEST(LoadRunner, AnExceptionInTheSubmittingLoopIsAPhaseError) {
  FakeClock clock;
  engine::CancellationToken cancel;
  int calls = 0;
  LoadRunner runner(
      [&](kube::Request, kube::Callback done) {
        if (++calls == 2) {
          throw std::runtime_error("no memory for the request");
        }
        kube::Response response;
        response.status = 200;
        response.intended = response.started = response.finished = clock.now();
        done(std::move(response));
      },
      clock, cancel);
  Result<LoadStats> stats = runner.run(std::vector<Operation>(5, get_operation()), 100, 1);
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::internal);
  EXPECT_EQ(stats.error().message, "api load: worker 1 of 1 failed: no memory for the request");
}

// The server could not take the rate: a FAIL with the reason, never INVALID.
TEST(Measurements, AnOverloadedServerFailsWithTheReasonAndIsNotInvalid) {
  LoadStats stats;
  stats.ok = 8800;
  stats.busy = std::chrono::seconds(10);
  stats.paced_seconds = 8.8;  // offered 1000/s
  stats.due = stats.sent = 8800;
  stats.queued_for_server = 4000;
  stats.window = std::chrono::seconds(9);
  for (int i = 0; i < 100; ++i) {
    stats.mutating.record(3'900'000'000);
    stats.own_lateness.record(50'000);  // 50 us: the generator kept up
  }
  std::optional<ServerSlis> server;
  PodStartupResult startup;
  const load::CriteriaView criteria({});
  engine::PhaseRun run = measure(MeasureInput{.stats = stats,
                                              .server = server,
                                              .startup = startup,
                                              .pod_startup_timeout = std::chrono::seconds(60),
                                              .qps = 1000,
                                              .burst = 1000,
                                              .notes = {},
                                              .criteria = criteria});
  EXPECT_TRUE(run.invalid_reasons.empty()) << run.invalid_reasons.front();
  const Measurement* qps = nullptr;
  for (const Measurement& m : run.measurements) {
    qps = m.metric == "api.qps" ? &m : qps;
  }
  ASSERT_NE(qps, nullptr);
  EXPECT_DOUBLE_EQ(qps->value, 880);
  EXPECT_TRUE(qps->note.starts_with("the API server sustained 880 of 1000 QPS; mutating P99 3.9"))
      << qps->note;
  EXPECT_NE(qps->note.find("4000 requests queued for a connection"), std::string::npos) << qps->note;
}

TEST(Measurements, OwnLatenessAboveTenPercentOfTheTargetIsInvalid) {
  LoadStats stats;
  stats.ok = 1000;
  stats.busy = std::chrono::seconds(1);
  stats.paced_seconds = 1;
  stats.due = stats.sent = 1000;
  stats.window = std::chrono::seconds(1);
  for (int i = 0; i < 100; ++i) {
    stats.readonly.record(10'000'000);
    stats.own_lateness.record(200'000'000);  // 200 ms late on its own
  }
  std::optional<ServerSlis> server;
  PodStartupResult startup;
  const load::CriteriaView criteria({});
  engine::PhaseRun run = measure(MeasureInput{.stats = stats,
                                              .server = server,
                                              .startup = startup,
                                              .pod_startup_timeout = std::chrono::seconds(60),
                                              .qps = 1000,
                                              .burst = 1000,
                                              .notes = {},
                                              .criteria = criteria});
  ASSERT_EQ(run.invalid_reasons.size(), 1u);
  EXPECT_NE(run.invalid_reasons.front().find("own send lateness P99"), std::string::npos)
      << run.invalid_reasons.front();
}

TEST(Measurements, StressStepBreaksOnTheApiRowsCriticalLevels) {
  const load::CriteriaView criteria({});
  LoadStats held;
  held.ok = 1000;
  held.busy = std::chrono::seconds(1);
  held.mutating.record(100'000'000);
  held.readonly.record(50'000'000);
  load::StepRecord step = step_record(held, 1000, criteria, false);
  EXPECT_TRUE(step.held()) << step.broke;
  EXPECT_DOUBLE_EQ(step.achieved, 1000);

  LoadStats slow = held;
  slow.ok = 900;
  slow.failed = 100;
  slow.mutating.record(9'000'000'000);
  slow.mutating.record(9'000'000'000);
  load::StepRecord broke = step_record(slow, 1000, criteria, false);
  EXPECT_FALSE(broke.held());
  EXPECT_NE(broke.broke.find("achieved 900 QPS of 1000 QPS offered (90.0 %)"), std::string::npos)
      << broke.broke;
  EXPECT_NE(broke.broke.find("P99 9.00s > critical 1.00s"), std::string::npos) << broke.broke;
  EXPECT_NE(broke.broke.find("errors 10.00% > critical 1.00%"), std::string::npos) << broke.broke;
}

}  // namespace
}  // namespace kp::drivers::api
