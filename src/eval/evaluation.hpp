#pragma once

// Criteria + measurements -> a verdict per criteria row, per phase, for the run, and the seed's pre-production
// checklist.

#include <optional>
#include <string>
#include <vector>

#include "config/criteria.hpp"
#include "core/measurement.hpp"
#include "core/phase.hpp"
#include "eval/verdict.hpp"

namespace kp::eval {

struct RowResult {
  config::CriteriaRow row;
  std::optional<double> measured;  // base units; absent -> NOT MEASURED
  Verdict verdict = Verdict::not_measured;
  std::string reason;  // e.g. "meets target", "misses target, within critical", "no critical level defined"
};

// The seed's rule, row by row: PASS when the value satisfies the target; CONDITIONAL PASS when it misses the
// target but satisfies the critical level (or the row has no critical level: reason "no critical level
// defined"); FAIL otherwise; NOT MEASURED without a value.
RowResult evaluate_row(const config::CriteriaRow& row, std::optional<double> measured);

// What happened to a phase before evaluation.
enum class PhaseStatus {
  completed,  // ran to the end
  skipped,    // did not run; `reason` says why
  cancelled,  // interrupted; measurements so far are kept
  error,      // the driver failed; measurements so far are kept, `reason` says why
};

struct PhaseEvaluation {
  Phase phase;
  PhaseStatus status = PhaseStatus::completed;
  Verdict verdict = Verdict::not_measured;
  std::string reason;                        // why skipped/invalid/incomplete/error
  std::vector<RowResult> rows;               // the active criteria rows of this phase
  std::vector<Measurement> informational;    // measured metrics that no active row judges
};

enum class ChecklistState { met, not_met, not_verified };
std::string_view to_string(ChecklistState state);  // "met", "not met", "not verified"

struct ChecklistItem {
  std::string text;                  // the seed's wording
  ChecklistState state = ChecklistState::not_verified;
  std::string evidence;              // "etcd.write.p99 = 12.3ms < 25ms" or why it is not verified
};

struct Evaluation {
  std::vector<PhaseEvaluation> phases;  // in flow order, all six
  Verdict overall = Verdict::not_measured;
  std::string overall_reason;
  std::vector<ChecklistItem> checklist;  // the seed's eight items, in its order
};

// Input to evaluate(): per phase, what the engine (or an imported file) produced.
struct PhaseInput {
  Phase phase;
  PhaseStatus status = PhaseStatus::completed;
  std::string reason;
  std::vector<Measurement> measurements;
  std::vector<std::string> invalid_reasons;  // e.g. "achieved 712/s of the intended 1000/s"
};

struct EvaluationOptions {
  config::TierSelection tiers;
  // The checklist's "no etcd leader election during 24h test" can only be verified by a soak this long.
  Duration soak_duration{0};
  bool aborted = false;
};

// Phase verdict: skipped -> SKIPPED; any invalid reason -> INVALID; any FAIL row -> FAIL; no row measured ->
// NOT MEASURED; some rows not measured -> INCOMPLETE; else the worst of PASS / CONDITIONAL PASS.
// Overall: over phases that ran or have measurements; FAIL if any FAIL; then ABORTED, INVALID, INCOMPLETE,
// CONDITIONAL PASS, PASS.
PhaseEvaluation evaluate_phase(const PhaseInput& input, const std::vector<config::CriteriaRow>& active_rows);
Evaluation evaluate(const std::vector<PhaseInput>& inputs, const std::vector<config::CriteriaRow>& active_rows,
                    const EvaluationOptions& options);

}  // namespace kp::eval
