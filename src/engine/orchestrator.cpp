#include "engine/orchestrator.hpp"

#include <algorithm>
#include <exception>
#include <mutex>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "core/units.hpp"
#include "engine/checkpoint.hpp"

namespace kp::engine {
namespace {

// Exceptions never cross module boundaries: whatever a driver throws becomes an error here.
template <typename F>
auto guarded(Phase phase, std::string_view step, F&& call) -> decltype(call()) {
  try {
    return call();
  } catch (const std::exception& exception) {
    return fail(ErrorKind::internal,
                fmt::format("{} driver threw during {}: {}", to_string(phase), step, exception.what()));
  } catch (...) {
    return fail(ErrorKind::internal, fmt::format("{} driver threw during {}", to_string(phase), step));
  }
}

const config::PhasePlan* find_phase_plan(const config::Plan& plan, Phase phase) {
  for (const config::PhasePlan& phase_plan : plan.phases) {
    if (phase_plan.phase == phase) {
      return &phase_plan;
    }
  }
  return nullptr;
}

// One phase of the flow as the orchestrator sees it before running anything.
struct Slot {
  Phase phase = Phase::etcd;
  const config::PhasePlan* plan = nullptr;
  std::string skip_reason;  // set: the phase is not run, whatever happens before it
  std::unique_ptr<Driver> driver;
};

}  // namespace

// What a checkpoint needs of the run so far: written by the orchestrator's thread, read by the ticker's.
struct Orchestrator::SoFar {
  std::mutex mutex;
  bool active = false;                     // between the start of the phases and the end of run()
  std::map<Phase, std::string> will_skip;  // phases skipped whatever happens (not selected, not in plan, ...)
  const config::Plan* plan = nullptr;
  WallTime started{};
  std::vector<eval::PhaseInput> inputs;  // the phases judged so far, in flow order
  std::map<Phase, PhaseTiming> timings;
  std::optional<Phase> running;
  std::optional<Phase> running_after_failure;
  TimePoint running_since{};
  Duration running_planned{0};
  std::optional<TimePoint> etcd_run_since;  // the etcd phase's run() is going on since then
  Duration soak{0};
  bool aborted = false;
};

namespace {

// The run so far as a RunResult: finished phases, the running one in progress, the rest not started yet.
// The caller holds so_far.mutex.
RunResult snapshot_of(Orchestrator::SoFar& so_far, const std::vector<config::CriteriaRow>& rows,
                      const config::Plan& plan, Clock& clock, WallTime started) {
  RunResult result;
  const TimePoint now = clock.now();
  result.timings = so_far.timings;
  result.started = started;
  result.finished = clock.wall_now();
  result.aborted = so_far.aborted;
  result.soak = so_far.soak + (so_far.etcd_run_since ? now - *so_far.etcd_run_since : Duration{0});
  for (Phase phase : kFlowOrder) {
    const auto judged = std::ranges::find_if(
        so_far.inputs, [&](const eval::PhaseInput& input) { return input.phase == phase; });
    if (judged != so_far.inputs.end()) {
      result.inputs.push_back(*judged);
      continue;
    }
    eval::PhaseInput input;
    input.phase = phase;
    if (so_far.running == phase) {
      input.status = eval::PhaseStatus::in_progress;
      input.ran_after_failure = so_far.running_after_failure;
      input.reason =
          fmt::format("running for {} of its planned {} at this checkpoint",
                      format_duration(now - so_far.running_since), format_duration(so_far.running_planned));
    } else if (auto skip = so_far.will_skip.find(phase); skip != so_far.will_skip.end()) {
      input.status = eval::PhaseStatus::skipped;
      input.reason = skip->second;
    } else {
      input.status = eval::PhaseStatus::skipped;
      input.reason = "not started yet at this checkpoint";
    }
    result.inputs.push_back(std::move(input));
  }
  eval::EvaluationOptions options;
  options.tiers = plan.tiers;
  options.soak_duration = result.soak;
  options.test_type = plan.type;
  options.aborted = result.aborted;
  options.in_progress = true;
  result.evaluation = eval::evaluate(result.inputs, rows, options);
  return result;
}

}  // namespace

Orchestrator::Orchestrator(std::map<Phase, DriverFactory> drivers,
                           std::vector<config::CriteriaRow> active_rows, OrchestratorOptions options,
                           Clock& clock, ProgressSink& progress)
    : drivers_(std::move(drivers)),
      active_rows_(std::move(active_rows)),
      options_(std::move(options)),
      clock_(clock),
      progress_(progress),
      so_far_(std::make_shared<SoFar>()) {}

std::optional<RunResult> Orchestrator::snapshot() const {
  SoFar& so_far = *so_far_;
  const std::lock_guard lock(so_far.mutex);
  if (!so_far.active) {
    return std::nullopt;
  }
  return snapshot_of(so_far, active_rows_, *so_far.plan, clock_, so_far.started);
}

Result<RunResult> Orchestrator::run(const config::Plan& plan, CancellationToken& cancel) {
  RunResult result;
  result.started = clock_.wall_now();

  // Select and create every driver, then validate them all: an input error must surface before any phase
  // touches the cluster.
  std::vector<Slot> slots;
  for (Phase phase : kFlowOrder) {
    Slot slot;
    slot.phase = phase;
    slot.plan = find_phase_plan(plan, phase);
    if (!options_.only.empty() && !options_.only.contains(phase)) {
      slot.skip_reason = "not selected";
    } else if (slot.plan == nullptr) {
      slot.skip_reason = "not in plan";
    } else if (!slot.plan->enabled) {
      slot.skip_reason = "disabled in plan";
    } else if (auto factory = drivers_.find(phase); factory == drivers_.end() || !factory->second) {
      slot.skip_reason = "no driver for this phase yet";
    } else {
      Result<std::unique_ptr<Driver>> made = guarded(
          phase, "creation", [&]() -> Result<std::unique_ptr<Driver>> { return factory->second(plan); });
      if (!made) {
        return std::unexpected(std::move(made.error()));
      }
      if (*made == nullptr) {
        slot.skip_reason = "no driver for this phase yet";
      } else if ((*made)->phase() != phase) {
        return fail(ErrorKind::internal, fmt::format("the driver registered for {} says it drives {}",
                                                     to_string(phase), to_string((*made)->phase())));
      } else {
        slot.driver = std::move(*made);
      }
    }
    slots.push_back(std::move(slot));
  }
  for (Slot& slot : slots) {
    if (slot.driver == nullptr) {
      continue;
    }
    const PhaseContext context{plan, *slot.plan, clock_, cancel, progress_, active_rows_};
    Result<void> valid = guarded(slot.phase, "validate", [&] { return slot.driver->validate(context); });
    if (!valid) {
      return std::unexpected(std::move(valid.error()));
    }
  }

  SoFar& so_far = *so_far_;
  {
    const std::lock_guard lock(so_far.mutex);
    so_far.inputs.clear();
    so_far.timings.clear();
    so_far.running.reset();
    so_far.etcd_run_since.reset();
    so_far.soak = Duration{0};
    so_far.aborted = false;
    so_far.active = true;
    so_far.will_skip.clear();
    for (const Slot& slot : slots) {
      if (!slot.skip_reason.empty()) {
        so_far.will_skip[slot.phase] = slot.skip_reason;
      }
    }
    so_far.plan = &plan;
    so_far.started = result.started;
  }
  std::optional<Checkpointer> checkpointer;
  if (options_.checkpoint_interval > Duration::zero() && options_.on_checkpoint) {
    checkpointer.emplace(clock_, options_.checkpoint_interval, [this] {
      if (std::optional<RunResult> so_far_now = snapshot()) {
        options_.on_checkpoint(*so_far_now);
      }
    });
    checkpointer->start();
  }

  std::optional<std::string> stop_reason;  // set once a failure or cancellation stops the flow
  std::optional<Phase> first_failure;
  Duration soak{0};
  for (Slot& slot : slots) {
    const Phase phase = slot.phase;
    eval::PhaseInput input;
    input.phase = phase;
    input.status = eval::PhaseStatus::skipped;
    if (slot.skip_reason.empty() && !stop_reason.has_value() && cancel.requested()) {
      result.aborted = true;
      stop_reason = "run aborted";
    }
    if (!slot.skip_reason.empty() || stop_reason.has_value()) {
      input.reason = slot.skip_reason.empty() ? *stop_reason : slot.skip_reason;
      progress_.message(phase, fmt::format("skipped: {}", input.reason));
      {
        const std::lock_guard lock(so_far.mutex);
        so_far.inputs.push_back(input);
        so_far.aborted = result.aborted;
      }
      result.inputs.push_back(std::move(input));
      continue;
    }
    input.ran_after_failure = first_failure;

    Driver& driver = *slot.driver;
    PhaseContext context{plan, *slot.plan, clock_, cancel, progress_, active_rows_};
    progress_.message(phase, fmt::format("starting {}", display_name(phase)));
    PhaseTiming& timing = result.timings[phase];
    timing.started = clock_.wall_now();
    progress_.phase_started(phase, timing.started);
    const TimePoint phase_start = clock_.now();
    {
      const std::lock_guard lock(so_far.mutex);
      so_far.running = phase;
      so_far.running_after_failure = input.ran_after_failure;
      so_far.running_since = phase_start;
      so_far.running_planned = slot.plan->duration;
      so_far.timings[phase] = timing;
    }

    Result<void> prepared = guarded(phase, "prepare", [&] { return driver.prepare(context); });
    if (!prepared) {
      const Error& error = prepared.error();
      if (error.kind == ErrorKind::unavailable) {
        input.status = eval::PhaseStatus::skipped;
        input.reason = error.message;
      } else if (error.kind == ErrorKind::cancelled) {
        input.status = eval::PhaseStatus::cancelled;
        input.reason = fmt::format("cancelled during prepare: {}", error.message);
      } else {
        input.status = eval::PhaseStatus::error;
        input.reason = fmt::format("prepare failed: {}", error.message);
      }
    } else if (cancel.requested()) {
      input.status = eval::PhaseStatus::cancelled;
      input.reason = "cancelled before the run started";
    } else {
      const TimePoint run_start = clock_.now();
      if (phase == Phase::etcd) {
        const std::lock_guard lock(so_far.mutex);
        so_far.etcd_run_since = run_start;
      }
      Result<PhaseRun> ran = guarded(phase, "run", [&] { return driver.run(context); });
      if (phase == Phase::etcd) {
        soak = clock_.now() - run_start;
        const std::lock_guard lock(so_far.mutex);
        so_far.etcd_run_since.reset();
        so_far.soak = soak;
      }
      if (ran && !ran->skipped.empty()) {
        input.status = eval::PhaseStatus::skipped;
        input.reason = std::move(ran->skipped);
        input.notes = std::move(ran->notes);
      } else if (ran) {
        input.measurements = std::move(ran->measurements);
        input.invalid_reasons = std::move(ran->invalid_reasons);
        input.stress = std::move(ran->stress);
        input.notes = std::move(ran->notes);
        input.lateness = std::move(ran->lateness);
        // A driver returns normally when cancelled, with what it measured so far.
        input.status = cancel.requested() ? eval::PhaseStatus::cancelled : eval::PhaseStatus::completed;
        if (!ran->error.empty() && !cancel.requested()) {
          input.status = eval::PhaseStatus::error;
          input.reason = fmt::format("run failed: {}", ran->error);
        }
      } else if (ran.error().kind == ErrorKind::cancelled) {
        input.status = eval::PhaseStatus::cancelled;
        input.reason = ran.error().message;
      } else {
        input.status = eval::PhaseStatus::error;
        input.reason = fmt::format("run failed: {}", ran.error().message);
      }
    }
    driver.teardown(context);
    timing.finished = clock_.wall_now();

    const eval::PhaseEvaluation evaluated = eval::evaluate_phase(input, active_rows_, plan.type);
    progress_.phase_finished(phase, input.measurements, evaluated.verdict, timing.finished);
    progress_.message(phase,
                      fmt::format("finished in {}: {} ({})", format_duration(clock_.now() - phase_start),
                                  eval::to_string(evaluated.verdict), evaluated.reason));

    if (input.status == eval::PhaseStatus::cancelled) {
      result.aborted = true;
      stop_reason = "run aborted";
    } else if (evaluated.verdict == eval::Verdict::fail || input.status == eval::PhaseStatus::error) {
      if (!first_failure.has_value()) {
        first_failure = phase;
      }
      if (!options_.continue_on_fail) {
        stop_reason = fmt::format(
            "not run: {} failed (foundation first; --continue-on-fail runs them anyway)", to_string(phase));
      }
    }
    {
      const std::lock_guard lock(so_far.mutex);
      so_far.inputs.push_back(input);
      so_far.timings[phase] = timing;
      so_far.running.reset();
      so_far.aborted = result.aborted;
    }
    result.inputs.push_back(std::move(input));
  }
  if (checkpointer) {
    checkpointer->stop();  // the final result follows: no checkpoint may land after it
  }
  {
    const std::lock_guard lock(so_far.mutex);
    so_far.active = false;
  }

  eval::EvaluationOptions evaluation_options;
  evaluation_options.tiers = plan.tiers;
  evaluation_options.soak_duration = soak;
  evaluation_options.test_type = plan.type;
  evaluation_options.aborted = result.aborted;
  result.evaluation = eval::evaluate(result.inputs, active_rows_, evaluation_options);
  result.finished = clock_.wall_now();
  result.soak = soak;
  return result;
}

}  // namespace kp::engine
