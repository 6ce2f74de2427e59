#pragma once

// Runs the plan's phases in flow order. After each phase it evaluates it; a FAIL stops the phases above it
// (they are SKIPPED with the reason) unless continue_on_fail. Cancellation stops the current phase (keeping
// what it measured) and skips the rest.
//
// Per phase, in flow order:
//   not in `only` -> SKIPPED "not selected"; absent from the plan -> "not in plan"; disabled -> "disabled in
//   plan"; no factory (or it made none) -> SKIPPED "no driver for this phase yet"; prepare fails with
//   ErrorKind::unavailable -> SKIPPED with the driver's message (the service is absent); any other prepare or
//   run error, PhaseRun::error (a run stopped partway, with what it measured before), or an exception out of
//   the driver -> status error with the reason; its verdict comes from whatever it measured (FAIL if a row
//   failed, else INCOMPLETE: never a pass); teardown always runs once prepare was called.
// Gating: a phase whose verdict is FAIL *or* whose driver failed stops the later phases (an unproven
// foundation is as useless to build on as a failed one): SKIPPED "not run: <phase> failed (foundation first;
// --continue-on-fail runs them anyway)". With continue_on_fail they run and carry
// PhaseInput::ran_after_failure, which the evaluation and the report mention. INVALID does not gate.
// Cancellation (checked before each phase and after its run): the current phase is `cancelled` with what it
// measured, later phases SKIPPED "run aborted", RunResult::aborted is set and the overall verdict is ABORTED
// (FAIL if a phase had already failed: a measured failure stays evidence).
// Checkpoints (OrchestratorOptions::checkpoint_interval > 0): every interval on the injected clock, from a
// ticker thread (engine/checkpoint.hpp), on_checkpoint receives the run so far: the phases finished as they
// were judged, the running one with status `in_progress` (its reason says since when, and for how long it is
// planned), the phases not reached SKIPPED "not started yet at this checkpoint", and an evaluation whose
// overall is IN PROGRESS (FAIL if a finished phase failed). The running phase's own figures come from its
// live series, which the caller records (report/timeline.hpp): drivers hand measurements over only at their
// end.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "config/plan.hpp"
#include "core/clock.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"
#include "eval/evaluation.hpp"

namespace kp::engine {

struct PhaseTiming {
  WallTime started{};
  WallTime finished{};
};

struct RunResult {
  std::vector<eval::PhaseInput> inputs;  // one per phase in flow order (all six)
  std::map<Phase, PhaseTiming> timings;  // the phases whose prepare was called, from prepare to teardown
  eval::Evaluation evaluation;
  WallTime started{};
  WallTime finished{};
  bool aborted = false;
  // The time the etcd phase's run() took (so far, in a checkpoint): the checklist's soak duration.
  Duration soak{0};
};

struct OrchestratorOptions {
  bool continue_on_fail = false;
  std::set<Phase> only;  // empty: every enabled phase of the plan
  // 0: no checkpoints. Else every interval, on_checkpoint (called on the ticker thread, never two at once;
  // it must not throw) gets the run so far, `finished` set to the checkpoint's time.
  Duration checkpoint_interval{0};
  std::function<void(const RunResult&)> on_checkpoint{};
};

class Orchestrator {
 public:
  // `drivers` maps each phase to a factory; a phase without one is SKIPPED ("no driver for this phase yet").
  Orchestrator(std::map<Phase, DriverFactory> drivers, std::vector<config::CriteriaRow> active_rows,
               OrchestratorOptions options, Clock& clock, ProgressSink& progress);

  // Validates every selected phase first (input errors are returned, unchanged, before anything is prepared),
  // then runs. The evaluation's soak duration is the time the etcd phase's run() took on the injected clock.
  // Drivers' exceptions never escape: they become phase errors (or, from validate or a factory, an
  // ErrorKind::internal error).
  Result<RunResult> run(const config::Plan& plan, CancellationToken& cancel);

  // The run so far, as a checkpoint gets it (above), from any thread while run() goes on; nullopt before the
  // phases start and after run() returned. For a caller with its own cadence (a soak's, over many runs).
  std::optional<RunResult> snapshot() const;

  struct SoFar;  // the run so far, shared with the checkpoint thread (orchestrator.cpp)

 private:
  std::map<Phase, DriverFactory> drivers_;
  std::vector<config::CriteriaRow> active_rows_;
  OrchestratorOptions options_;
  Clock& clock_;
  ProgressSink& progress_;
  std::shared_ptr<SoFar> so_far_;
};

}  // namespace kp::engine
