#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "engine/orchestrator.hpp"

namespace kp::engine {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// What a fake driver does at each step; the defaults succeed and measure nothing.
struct Script {
  Result<void> validate{};
  Result<void> prepare{};
  bool throw_in_prepare = false;
  std::vector<Measurement> measurements;
  std::vector<std::string> invalid_reasons;
  std::optional<Error> run_error;
  bool throw_in_run = false;
  bool cancel_in_run = false;  // requests cancellation from inside run(), as SIGINT would
  Duration run_takes{0};       // how long run() takes on the (fake) clock
  std::optional<Phase> claims_phase;
  std::string skipped_at_run;  // run() finds it cannot measure (PhaseRun::skipped), with `run_notes`
  std::vector<std::string> run_notes;
  std::string stopped_with;  // run() stops partway with this error, keeping its measurements
  // Called in run() once run_takes has passed on the clock, before it returns (a test's hook mid-phase).
  std::function<void(PhaseContext&)> during_run;
};

// Every call of every fake driver, in order: "etcd.validate", "etcd.prepare", ...
using CallLog = std::vector<std::string>;

class FakeDriver final : public Driver {
 public:
  FakeDriver(Phase phase, Script script, CallLog& log)
      : phase_(phase), script_(std::move(script)), log_(log) {}

  Phase phase() const override { return script_.claims_phase.value_or(phase_); }

  Result<void> validate(const PhaseContext&) override {
    note("validate");
    return script_.validate;
  }

  Result<void> prepare(PhaseContext&) override {
    note("prepare");
    if (script_.throw_in_prepare) {
      throw std::runtime_error("prepare exploded");
    }
    return script_.prepare;
  }

  Result<PhaseRun> run(PhaseContext& context) override {
    note("run");
    if (script_.throw_in_run) {
      throw std::runtime_error("run exploded");
    }
    if (script_.cancel_in_run) {
      context.cancel.request();
    }
    context.cancel.wait_until(context.clock, context.clock.now() + script_.run_takes);
    if (script_.during_run) {
      script_.during_run(context);
    }
    if (script_.run_error) {
      return std::unexpected(*script_.run_error);
    }
    PhaseRun result;
    result.measurements = script_.measurements;
    result.invalid_reasons = script_.invalid_reasons;
    result.skipped = script_.skipped_at_run;
    result.notes = script_.run_notes;
    result.error = script_.stopped_with;
    return result;
  }

  void teardown(PhaseContext&) noexcept override { note("teardown"); }

 private:
  void note(std::string_view step) { log_.push_back(fmt::format("{}.{}", to_string(phase_), step)); }

  Phase phase_;
  Script script_;
  CallLog& log_;
};

class RecordingSink final : public ProgressSink {
 public:
  void message(Phase phase, std::string_view text) override {
    lines.push_back(fmt::format("{}: {}", to_string(phase), text));
  }
  std::vector<std::string> lines;
};

Measurement measure(std::string metric, double value) {
  Measurement measurement;
  measurement.metric = std::move(metric);
  measurement.value = value;
  return measurement;
}

config::CriteriaRow row(std::string metric, config::Comparison comparison, double target, double critical) {
  config::CriteriaRow out;
  out.metric = std::move(metric);
  out.comparison = comparison;
  out.target = target;
  out.critical = critical;
  return out;
}

// One row per phase is enough to drive the verdicts.
std::vector<config::CriteriaRow> rows() {
  using config::Comparison;
  return {row("etcd.write.p99", Comparison::less, 0.025, 0.050),
          row("api.mutating.p99", Comparison::less, 0.5, 1.0),
          row("net.pod_to_pod.throughput", Comparison::greater, 5e9, 1e9),
          row("dns.p99", Comparison::less, 0.010, 0.050),
          row("storage.rand_4k.p99", Comparison::less, 0.005, 0.010),
          row("ingress.p99", Comparison::less, 0.100, 0.200)};
}

// A measurement per phase that meets its row's target.
Measurement good(Phase phase) {
  switch (phase) {
    case Phase::etcd:
      return measure("etcd.write.p99", 0.010);
    case Phase::api:
      return measure("api.mutating.p99", 0.1);
    case Phase::network:
      return measure("net.pod_to_pod.throughput", 9e9);
    case Phase::dns:
      return measure("dns.p99", 0.002);
    case Phase::storage:
      return measure("storage.rand_4k.p99", 0.001);
    case Phase::ingress:
      return measure("ingress.p99", 0.010);
  }
  return {};
}

config::Plan plan_with_all_phases() {
  config::Plan plan;
  plan.name = "test";
  plan.type = config::TestType::load;
  // Listed in reverse: the orchestrator runs flow order whatever the plan's or the map's order.
  for (auto it = kFlowOrder.rbegin(); it != kFlowOrder.rend(); ++it) {
    config::PhasePlan phase;
    phase.phase = *it;
    phase.duration = 60s;
    plan.phases.push_back(phase);
  }
  return plan;
}

class OrchestratorTest : public ::testing::Test {
 protected:
  OrchestratorTest() {
    for (Phase phase : kFlowOrder) {
      scripts[phase].measurements = {good(phase)};
    }
  }

  std::map<Phase, DriverFactory> factories() {
    std::map<Phase, DriverFactory> out;
    for (const auto& [phase, script] : scripts) {
      out[phase] = [this, phase = phase, script = script](const config::Plan&) {
        return std::make_unique<FakeDriver>(phase, script, log);
      };
    }
    return out;
  }

  Result<RunResult> run(OrchestratorOptions options = {}) {
    Orchestrator orchestrator(factories(), rows(), options, clock, sink);
    return orchestrator.run(plan, cancel);
  }

  const eval::PhaseInput& input(const RunResult& result, Phase phase) {
    return result.inputs.at(static_cast<std::size_t>(phase));
  }

  std::vector<std::string> calls_of(Phase phase) {
    std::vector<std::string> out;
    const std::string prefix = fmt::format("{}.", to_string(phase));
    for (const std::string& call : log) {
      if (call.starts_with(prefix)) {
        out.push_back(call.substr(prefix.size()));
      }
    }
    return out;
  }

  std::map<Phase, Script> scripts;
  config::Plan plan = plan_with_all_phases();
  CallLog log;
  FakeClock clock;
  RecordingSink sink;
  CancellationToken cancel;
};

TEST_F(OrchestratorTest, RunsEveryPhaseInFlowOrderAfterValidatingAll) {
  const Result<RunResult> result = run();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_THAT(log, ElementsAre("etcd.validate", "api.validate", "network.validate", "dns.validate",
                               "storage.validate", "ingress.validate",                //
                               "etcd.prepare", "etcd.run", "etcd.teardown",           //
                               "api.prepare", "api.run", "api.teardown",              //
                               "network.prepare", "network.run", "network.teardown",  //
                               "dns.prepare", "dns.run", "dns.teardown",              //
                               "storage.prepare", "storage.run", "storage.teardown",  //
                               "ingress.prepare", "ingress.run", "ingress.teardown"));
  ASSERT_EQ(result->inputs.size(), 6U);
  for (std::size_t i = 0; i < kFlowOrder.size(); ++i) {
    EXPECT_EQ(result->inputs[i].phase, kFlowOrder[i]);
    EXPECT_EQ(result->inputs[i].status, eval::PhaseStatus::completed);
    EXPECT_EQ(result->evaluation.phases[i].verdict, eval::Verdict::pass);
  }
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::pass);
  EXPECT_FALSE(result->aborted);
}

// A phase that finds at run time that it cannot measure (etcd out of reach on a managed control plane) is
// SKIPPED with its reason and keeps its notes; it stops nothing.
TEST_F(OrchestratorTest, APhaseSkippedAtRunKeepsItsReasonAndNotesAndTheFlowGoesOn) {
  scripts[Phase::etcd].skipped_at_run = "no control-plane node";
  scripts[Phase::etcd].run_notes = {"the API server's view"};
  const Result<RunResult> result = run();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(input(*result, Phase::etcd).status, eval::PhaseStatus::skipped);
  EXPECT_EQ(input(*result, Phase::etcd).reason, "no control-plane node");
  EXPECT_TRUE(input(*result, Phase::etcd).measurements.empty());
  EXPECT_EQ(result->evaluation.phases[0].verdict, eval::Verdict::skipped);
  EXPECT_THAT(result->evaluation.phases[0].notes, ElementsAre("the API server's view"));
  EXPECT_EQ(input(*result, Phase::api).status, eval::PhaseStatus::completed);
  EXPECT_THAT(calls_of(Phase::etcd), ElementsAre("validate", "prepare", "run", "teardown"));
}

TEST_F(OrchestratorTest, AFailStopsTheLaterPhases) {
  scripts[Phase::api].measurements = {measure("api.mutating.p99", 1.5)};
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->evaluation.phases[1].verdict, eval::Verdict::fail);
  for (Phase phase : {Phase::network, Phase::dns, Phase::storage, Phase::ingress}) {
    EXPECT_EQ(input(*result, phase).status, eval::PhaseStatus::skipped);
    EXPECT_EQ(input(*result, phase).reason,
              "not run: api failed (foundation first; --continue-on-fail runs them anyway)");
    EXPECT_THAT(calls_of(phase), ElementsAre("validate")) << to_string(phase);
  }
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::fail);
  EXPECT_THAT(result->evaluation.overall_reason, HasSubstr("api FAIL: api.mutating.p99"));
  EXPECT_THAT(result->evaluation.overall_reason,
              HasSubstr("skipped: network, dns, storage, ingress (not run: api failed"));
}

TEST_F(OrchestratorTest, ACapacityALightRunDidNotDemonstrateDoesNotStopTheLaterPhases) {
  // A smoke run: api.qps kept up with the 100/s offered, far below "> 1000 (critical > 500)". Our light load
  // is no evidence against the API server, so it must not gate the phases above it.
  Measurement qps = measure("api.qps", 99.5);
  qps.offered = 100;
  scripts[Phase::api].measurements = {good(Phase::api), qps};
  std::vector<config::CriteriaRow> with_qps = rows();
  with_qps.push_back(row("api.qps", config::Comparison::greater, 1000, 500));
  Orchestrator orchestrator(factories(), with_qps, {}, clock, sink);
  const Result<RunResult> result = orchestrator.run(plan, cancel);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->evaluation.phases[1].verdict, eval::Verdict::incomplete);
  for (Phase phase : {Phase::network, Phase::dns, Phase::storage, Phase::ingress}) {
    EXPECT_EQ(input(*result, phase).status, eval::PhaseStatus::completed) << to_string(phase);
  }
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::incomplete);
  EXPECT_THAT(result->evaluation.overall_reason, HasSubstr("api INCOMPLETE: 1 of 2 metrics judged; api.qps"));
}

TEST_F(OrchestratorTest, ContinueOnFailRunsTheRestAndSaysSo) {
  scripts[Phase::etcd].measurements = {measure("etcd.write.p99", 0.2)};
  OrchestratorOptions options;
  options.continue_on_fail = true;
  const Result<RunResult> result = run(options);
  ASSERT_TRUE(result);
  EXPECT_FALSE(input(*result, Phase::etcd).ran_after_failure.has_value());
  for (Phase phase : {Phase::api, Phase::network, Phase::dns, Phase::storage, Phase::ingress}) {
    EXPECT_EQ(input(*result, phase).status, eval::PhaseStatus::completed);
    EXPECT_EQ(input(*result, phase).ran_after_failure, Phase::etcd);
    EXPECT_EQ(result->evaluation.phases[static_cast<std::size_t>(phase)].ran_after_failure, Phase::etcd);
  }
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::fail);
  EXPECT_THAT(result->evaluation.overall_reason,
              HasSubstr("--continue-on-fail ran api, network, dns, storage, ingress after a failed phase"));
}

TEST_F(OrchestratorTest, UnavailableServiceIsSkippedWithTheReasonAndDoesNotGate) {
  scripts[Phase::dns].prepare =
      fail(ErrorKind::unavailable, "unbound is not installed (apt install unbound)");
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(input(*result, Phase::dns).status, eval::PhaseStatus::skipped);
  EXPECT_EQ(input(*result, Phase::dns).reason, "unbound is not installed (apt install unbound)");
  EXPECT_EQ(result->evaluation.phases[3].verdict, eval::Verdict::skipped);
  EXPECT_THAT(calls_of(Phase::dns), ElementsAre("validate", "prepare", "teardown"));
  EXPECT_EQ(input(*result, Phase::storage).status, eval::PhaseStatus::completed);
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::pass);
  EXPECT_THAT(result->evaluation.overall_reason, HasSubstr("5 of 6 phases evaluated"));
}

TEST_F(OrchestratorTest, AValidationErrorReturnsBeforeAnythingIsPrepared) {
  scripts[Phase::ingress].validate =
      fail(ErrorKind::input, R"(plans/x.yaml:30: phases[5].settings.rate: must be > 0, got "0")");
  const Result<RunResult> result = run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::input);
  EXPECT_EQ(result.error().message, R"(plans/x.yaml:30: phases[5].settings.rate: must be > 0, got "0")");
  for (const std::string& call : log) {
    EXPECT_THAT(call, HasSubstr(".validate"));
  }
}

TEST_F(OrchestratorTest, AValidateThatThrowsIsAnInternalError) {
  struct Throwing final : Driver {
    Phase phase() const override { return Phase::api; }
    Result<void> validate(const PhaseContext&) override { throw std::logic_error("bad settings node"); }
    Result<void> prepare(PhaseContext&) override { return {}; }
    Result<PhaseRun> run(PhaseContext&) override { return PhaseRun{}; }
    void teardown(PhaseContext&) noexcept override {}
  };
  std::map<Phase, DriverFactory> drivers = factories();
  drivers[Phase::api] = [](const config::Plan&) { return std::make_unique<Throwing>(); };
  Orchestrator orchestrator(drivers, rows(), {}, clock, sink);
  const Result<RunResult> result = orchestrator.run(plan, cancel);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_EQ(result.error().message, "api driver threw during validate: bad settings node");
  EXPECT_THAT(calls_of(Phase::etcd), ElementsAre("validate"));
}

TEST_F(OrchestratorTest, AFactoryThatThrowsIsAnInternalErrorBeforeAnythingRuns) {
  std::map<Phase, DriverFactory> drivers = factories();
  drivers[Phase::storage] = [](const config::Plan&) -> std::unique_ptr<Driver> {
    throw std::runtime_error("no fio in PATH");
  };
  Orchestrator orchestrator(drivers, rows(), {}, clock, sink);
  const Result<RunResult> result = orchestrator.run(plan, cancel);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_EQ(result.error().message, "storage driver threw during creation: no fio in PATH");
  EXPECT_TRUE(log.empty());
}

TEST_F(OrchestratorTest, AFactoryThatMakesNoDriverIsLikeNoFactory) {
  std::map<Phase, DriverFactory> drivers = factories();
  drivers[Phase::storage] = [](const config::Plan&) { return std::unique_ptr<Driver>(); };
  Orchestrator orchestrator(drivers, rows(), {}, clock, sink);
  const Result<RunResult> result = orchestrator.run(plan, cancel);
  ASSERT_TRUE(result);
  EXPECT_EQ(input(*result, Phase::storage).reason, "no driver for this phase yet");
  EXPECT_EQ(input(*result, Phase::ingress).status, eval::PhaseStatus::completed);
}

TEST_F(OrchestratorTest, ADriverForTheWrongPhaseIsAnInternalError) {
  scripts[Phase::dns].claims_phase = Phase::storage;
  const Result<RunResult> result = run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_EQ(result.error().message, "the driver registered for dns says it drives storage");
  EXPECT_TRUE(log.empty());
}

TEST_F(OrchestratorTest, TeardownAfterARunErrorAndTheErrorGates) {
  scripts[Phase::etcd].run_error = Error{ErrorKind::network, "127.0.0.1:2379: connection refused"};
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_THAT(calls_of(Phase::etcd), ElementsAre("validate", "prepare", "run", "teardown"));
  EXPECT_EQ(input(*result, Phase::etcd).status, eval::PhaseStatus::error);
  EXPECT_EQ(input(*result, Phase::etcd).reason, "run failed: 127.0.0.1:2379: connection refused");
  EXPECT_EQ(result->evaluation.phases[0].verdict, eval::Verdict::incomplete);
  EXPECT_EQ(input(*result, Phase::api).reason,
            "not run: etcd failed (foundation first; --continue-on-fail runs them anyway)");
  EXPECT_THAT(calls_of(Phase::api), ElementsAre("validate"));
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::incomplete);
}

// The ingress server went away between the requests and the connections series: what the requests measured
// stays, and the phase is the error (FAIL if a kept row failed, else INCOMPLETE), which gates as any error.
TEST_F(OrchestratorTest, ARunStoppedPartwayKeepsWhatItMeasured) {
  scripts[Phase::etcd].stopped_with = "cannot connect to 127.0.0.1:2379: connection refused";
  scripts[Phase::api].stopped_with = "cannot connect to the API server";
  scripts[Phase::api].measurements = {measure("api.mutating.p99", 1.5)};
  OrchestratorOptions options;
  options.continue_on_fail = true;
  const Result<RunResult> result = run(options);
  ASSERT_TRUE(result);
  EXPECT_EQ(input(*result, Phase::etcd).status, eval::PhaseStatus::error);
  EXPECT_EQ(input(*result, Phase::etcd).reason,
            "run failed: cannot connect to 127.0.0.1:2379: connection refused");
  ASSERT_EQ(input(*result, Phase::etcd).measurements.size(), 1U);
  EXPECT_EQ(result->evaluation.phases[0].verdict, eval::Verdict::incomplete);
  EXPECT_EQ(input(*result, Phase::api).status, eval::PhaseStatus::error);
  EXPECT_EQ(result->evaluation.phases[1].verdict, eval::Verdict::fail);
  EXPECT_THAT(result->evaluation.phases[1].reason,
              HasSubstr("(run failed: cannot connect to the API server)"));
  EXPECT_EQ(input(*result, Phase::network).ran_after_failure, Phase::etcd);
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::fail);
}

TEST_F(OrchestratorTest, TeardownAfterAnExceptionInRun) {
  scripts[Phase::api].throw_in_run = true;
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_THAT(calls_of(Phase::api), ElementsAre("validate", "prepare", "run", "teardown"));
  EXPECT_EQ(input(*result, Phase::api).status, eval::PhaseStatus::error);
  EXPECT_EQ(input(*result, Phase::api).reason, "run failed: api driver threw during run: run exploded");
  EXPECT_EQ(input(*result, Phase::network).status, eval::PhaseStatus::skipped);
}

TEST_F(OrchestratorTest, TeardownAfterAPrepareErrorOrException) {
  scripts[Phase::etcd].prepare = fail(ErrorKind::protocol, "etcd answered HTTP/1.1 on the gRPC port");
  scripts[Phase::api].throw_in_prepare = true;
  OrchestratorOptions options;
  options.continue_on_fail = true;
  const Result<RunResult> result = run(options);
  ASSERT_TRUE(result);
  EXPECT_THAT(calls_of(Phase::etcd), ElementsAre("validate", "prepare", "teardown"));
  EXPECT_EQ(input(*result, Phase::etcd).reason, "prepare failed: etcd answered HTTP/1.1 on the gRPC port");
  EXPECT_THAT(calls_of(Phase::api), ElementsAre("validate", "prepare", "teardown"));
  EXPECT_EQ(input(*result, Phase::api).status, eval::PhaseStatus::error);
  EXPECT_EQ(input(*result, Phase::api).reason,
            "prepare failed: api driver threw during prepare: prepare exploded");
  EXPECT_EQ(input(*result, Phase::api).ran_after_failure, Phase::etcd);
}

TEST_F(OrchestratorTest, CancellationKeepsWhatThePhaseMeasuredAndSkipsTheRest) {
  scripts[Phase::dns].cancel_in_run = true;
  scripts[Phase::dns].run_takes = 30s;  // never waited: the token is already cancelled
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->aborted);
  EXPECT_EQ(input(*result, Phase::dns).status, eval::PhaseStatus::cancelled);
  ASSERT_EQ(input(*result, Phase::dns).measurements.size(), 1U);
  EXPECT_EQ(input(*result, Phase::dns).measurements[0].metric, "dns.p99");
  EXPECT_THAT(calls_of(Phase::dns), ElementsAre("validate", "prepare", "run", "teardown"));
  for (Phase phase : {Phase::storage, Phase::ingress}) {
    EXPECT_EQ(input(*result, phase).status, eval::PhaseStatus::skipped);
    EXPECT_EQ(input(*result, phase).reason, "run aborted");
    EXPECT_THAT(calls_of(phase), ElementsAre("validate"));
  }
  EXPECT_EQ(result->evaluation.phases[3].verdict, eval::Verdict::aborted);
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::aborted);
  EXPECT_EQ(result->timings.at(Phase::dns).finished, result->timings.at(Phase::dns).started);
}

TEST_F(OrchestratorTest, CancelledBeforeTheRunStartsSkipsEverything) {
  cancel.request();
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->aborted);
  for (const eval::PhaseInput& phase : result->inputs) {
    EXPECT_EQ(phase.status, eval::PhaseStatus::skipped);
    EXPECT_EQ(phase.reason, "run aborted");
  }
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::aborted);
  EXPECT_TRUE(result->timings.empty());
}

TEST_F(OrchestratorTest, TimingsComeFromTheInjectedClock) {
  scripts[Phase::etcd].run_takes = 10s;
  scripts[Phase::api].run_takes = 5s;
  const WallTime start = clock.wall_now();
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->started, start);
  const PhaseTiming etcd = result->timings.at(Phase::etcd);
  const PhaseTiming api = result->timings.at(Phase::api);
  EXPECT_EQ(etcd.started, start);
  EXPECT_EQ(etcd.finished - etcd.started, 10s);
  EXPECT_EQ(api.started, etcd.finished);
  EXPECT_EQ(api.finished - api.started, 5s);
  EXPECT_EQ(result->finished, start + 15s);
  EXPECT_THAT(sink.lines, ::testing::Contains("etcd: finished in 10.00s: PASS (its metric meets target)"));
}

TEST_F(OrchestratorTest, TheEtcdRunTimeIsTheSoakForTheLeaderItem) {
  scripts[Phase::etcd].measurements.push_back(measure("etcd.leader_changes", 0));
  scripts[Phase::etcd].run_takes = 24h;
  Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->evaluation.checklist[2].state, eval::ChecklistState::met)
      << result->evaluation.checklist[2].evidence;

  scripts[Phase::etcd].run_takes = 10min;
  result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->evaluation.checklist[2].state, eval::ChecklistState::not_verified);
  EXPECT_EQ(result->evaluation.checklist[2].evidence,
            "etcd.leader_changes = 0 during a 10m run; needs a soak of at least 24h");
}

TEST_F(OrchestratorTest, TheTestTypeReachesTheChecklist) {
  plan.type = config::TestType::smoke;
  scripts[Phase::api].measurements.push_back(measure("api.readonly.p99", 0.05));
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->evaluation.checklist[0].state, eval::ChecklistState::not_verified);
  EXPECT_THAT(result->evaluation.checklist[0].evidence, HasSubstr("measured in a smoke run"));
}

TEST_F(OrchestratorTest, OnlyRunsTheSelectedPhases) {
  OrchestratorOptions options;
  options.only = {Phase::dns, Phase::api};
  const Result<RunResult> result = run(options);
  ASSERT_TRUE(result);
  EXPECT_THAT(log, ElementsAre("api.validate", "dns.validate", "api.prepare", "api.run", "api.teardown",
                               "dns.prepare", "dns.run", "dns.teardown"));
  EXPECT_EQ(input(*result, Phase::etcd).reason, "not selected");
  EXPECT_EQ(input(*result, Phase::ingress).reason, "not selected");
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::pass);
}

TEST_F(OrchestratorTest, DisabledAbsentAndDriverlessPhasesAreSkippedWithTheirReason) {
  plan.phases[0].enabled = false;  // ingress (the plan lists phases in reverse)
  std::erase_if(plan.phases, [](const config::PhasePlan& p) { return p.phase == Phase::storage; });
  scripts.erase(Phase::network);
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(input(*result, Phase::ingress).reason, "disabled in plan");
  EXPECT_EQ(input(*result, Phase::storage).reason, "not in plan");
  EXPECT_EQ(input(*result, Phase::network).reason, "no driver for this phase yet");
  EXPECT_EQ(input(*result, Phase::network).status, eval::PhaseStatus::skipped);
  EXPECT_TRUE(calls_of(Phase::ingress).empty());
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::pass);
}

TEST_F(OrchestratorTest, AnInvalidRunIsEvaluatedInvalid) {
  scripts[Phase::api].invalid_reasons = {"achieved 712/s of the intended 1000/s"};
  const Result<RunResult> result = run();
  ASSERT_TRUE(result);
  EXPECT_EQ(result->evaluation.phases[1].verdict, eval::Verdict::invalid);
  EXPECT_EQ(input(*result, Phase::network).status, eval::PhaseStatus::completed) << "INVALID does not gate";
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::invalid);
}

TEST_F(OrchestratorTest, ProgressAtPhaseStartAndEnd) {
  OrchestratorOptions options;
  options.only = {Phase::etcd};
  const Result<RunResult> result = run(options);
  ASSERT_TRUE(result);
  EXPECT_THAT(sink.lines,
              ElementsAre("etcd: starting etcd", "etcd: finished in 0ns: PASS (its metric meets target)",
                          "api: skipped: not selected", "network: skipped: not selected",
                          "dns: skipped: not selected", "storage: skipped: not selected",
                          "ingress: skipped: not selected"));
}

}  // namespace
}  // namespace kp::engine

namespace kp::engine {
namespace {

// Checkpoints come from a ticker thread on the injected clock: the api phase's run moves the fake clock past
// the first tick and waits (on a future, not a sleep) until the checkpoint of that moment is written.
TEST_F(OrchestratorTest, ACheckpointMidPhaseHoldsTheFinishedPhasesAndTheRunningOneInProgress) {
  scripts[Phase::etcd].run_takes = 10s;
  scripts[Phase::api].run_takes = 80s;  // the first tick, at 60s, falls while api runs
  std::promise<RunResult> first;
  std::future<RunResult> written = first.get_future();
  std::vector<RunResult> checkpoints;
  scripts[Phase::api].during_run = [&](PhaseContext&) {
    ASSERT_EQ(written.wait_for(30s), std::future_status::ready) << "no checkpoint was written";
  };
  OrchestratorOptions options;
  options.checkpoint_interval = 60s;
  options.on_checkpoint = [&](const RunResult& so_far) {
    checkpoints.push_back(so_far);
    if (checkpoints.size() == 1) {
      first.set_value(so_far);
    }
  };
  const Result<RunResult> result = run(options);
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(checkpoints.size(), 1U);  // the clock never reached the second tick (120s)
  const RunResult& at = checkpoints.front();
  ASSERT_EQ(at.inputs.size(), 6U);
  EXPECT_EQ(at.inputs[0].status, eval::PhaseStatus::completed);
  EXPECT_EQ(at.evaluation.phases[0].verdict, eval::Verdict::pass);
  EXPECT_EQ(at.inputs[1].status, eval::PhaseStatus::in_progress);
  EXPECT_EQ(at.inputs[1].reason, "running for 1m20s of its planned 1m at this checkpoint");
  EXPECT_EQ(at.evaluation.phases[1].verdict, eval::Verdict::in_progress);
  for (std::size_t i = 2; i < 6; ++i) {
    EXPECT_EQ(at.inputs[i].status, eval::PhaseStatus::skipped);
    EXPECT_EQ(at.inputs[i].reason, "not started yet at this checkpoint");
  }
  EXPECT_EQ(at.evaluation.overall, eval::Verdict::in_progress);
  EXPECT_THAT(at.evaluation.overall_reason, HasSubstr("checkpoint of a run still in progress"));
  EXPECT_EQ(at.soak, 10s);
  EXPECT_EQ(at.finished - at.started, 90s);
  // The final result is the ordinary one.
  EXPECT_EQ(result->evaluation.overall, eval::Verdict::pass);
  EXPECT_EQ(input(*result, Phase::api).status, eval::PhaseStatus::completed);
}

// A measured failure stays evidence in a checkpoint; anything else there reads IN PROGRESS, never PASS.
TEST(CheckpointEvaluation, InProgressNeverPassesButAFailureStaysAFailure) {
  eval::PhaseInput etcd;
  etcd.phase = Phase::etcd;
  etcd.measurements = {measure("etcd.write.p99", 0.010)};
  eval::PhaseInput api;
  api.phase = Phase::api;
  api.status = eval::PhaseStatus::in_progress;
  api.reason = "running for 30s of its planned 1m at this checkpoint";
  api.measurements = {measure("api.mutating.p99", 5.0)};  // beyond critical so far: not judged yet
  eval::EvaluationOptions options;
  options.in_progress = true;
  eval::Evaluation evaluated = eval::evaluate({etcd, api}, rows(), options);
  EXPECT_EQ(evaluated.phases[0].verdict, eval::Verdict::pass);
  EXPECT_EQ(evaluated.phases[1].verdict, eval::Verdict::in_progress);
  EXPECT_THAT(evaluated.phases[1].reason,
              HasSubstr("1 of 1 metrics measured so far, beyond critical so far"));
  EXPECT_EQ(evaluated.overall, eval::Verdict::in_progress);
  EXPECT_EQ(eval::exit_code_for(evaluated.overall), 4);

  etcd.measurements = {measure("etcd.write.p99", 0.5)};
  evaluated = eval::evaluate({etcd, api}, rows(), options);
  EXPECT_EQ(evaluated.overall, eval::Verdict::fail);
}

}  // namespace
}  // namespace kp::engine
