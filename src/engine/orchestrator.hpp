#pragma once

// Runs the plan's phases in flow order. After each phase it evaluates it; a FAIL stops the phases above it
// (they are SKIPPED with the reason) unless continue_on_fail. Cancellation stops the current phase (keeping
// what it measured) and skips the rest.

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

struct OrchestratorOptions {
  bool continue_on_fail = false;
  std::set<Phase> only;  // empty: every enabled phase of the plan
};

struct PhaseTiming {
  WallTime started{};
  WallTime finished{};
};

struct RunResult {
  std::vector<eval::PhaseInput> inputs;  // one per phase in flow order (all six)
  std::map<Phase, PhaseTiming> timings;
  eval::Evaluation evaluation;
  WallTime started{};
  WallTime finished{};
  bool aborted = false;
};

class Orchestrator {
 public:
  // `drivers` maps each phase to a factory; a phase without one is SKIPPED ("no driver for this phase yet").
  Orchestrator(std::map<Phase, DriverFactory> drivers, std::vector<config::CriteriaRow> active_rows,
               OrchestratorOptions options, Clock& clock, ProgressSink& progress);

  // Validates every selected phase first (input errors are returned before anything runs), then runs.
  Result<RunResult> run(const config::Plan& plan, CancellationToken& cancel);

 private:
  std::map<Phase, DriverFactory> drivers_;
  std::vector<config::CriteriaRow> active_rows_;
  OrchestratorOptions options_;
  Clock& clock_;
  ProgressSink& progress_;
};

}  // namespace kp::engine
