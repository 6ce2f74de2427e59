#pragma once

// Criteria + measurements -> a verdict per criteria row, per phase, for the run, and the seed's
// pre-production checklist.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/criteria.hpp"
#include "config/plan.hpp"
#include "core/measurement.hpp"
#include "core/phase.hpp"
#include "eval/verdict.hpp"
#include "load/breaking_point.hpp"
#include "load/validity.hpp"

namespace kp::eval {

struct RowResult {
  config::CriteriaRow row;
  std::optional<double> measured;  // base units; absent -> NOT MEASURED
  // The rate the run offered when `measured` is a rate from an open-loop run (Measurement::offered).
  std::optional<double> offered;
  Verdict verdict = Verdict::not_measured;
  // Readable, without the value (reports show it beside): "meets target < 500ms", "misses target < 500ms,
  // within critical < 1s", "beyond critical < 1s", "misses target > 10k IOPS, no critical level defined",
  // "not measured".
  std::string reason;
};

// The seed's rule, row by row: PASS when the value satisfies the target; CONDITIONAL PASS when it misses the
// target but satisfies the critical level (or the row has no critical level: reason "no critical level
// defined"); FAIL otherwise; NOT MEASURED without a value (or with NaN). A row without a target (the loader
// rejects those) is judged against its critical level only and can never PASS.
//
// `offered`: for a rate measured in open loop, the rate the run offered. On a ">"/">=" row (a capacity) the
// value cannot exceed what was offered, so when the system kept up (value >= 99 % of offered) and the offered
// rate itself does not reach the target, a value that misses the target says nothing about the system: NOT
// MEASURED with the reason "not demonstrated: the run offered only ...". It is never PASS (that level was not
// shown) nor CONDITIONAL PASS/FAIL (the shortfall is the run's light load). A value that meets the target is
// a PASS whatever was offered; a system that did not keep up is judged on its value (a real shortfall);
// "<"/"<=" rows ignore `offered`.
RowResult evaluate_row(const config::CriteriaRow& row, std::optional<double> measured,
                       std::optional<double> offered = std::nullopt);

// What happened to a phase before evaluation.
enum class PhaseStatus {
  completed,  // ran to the end
  skipped,    // did not run; `reason` says why
  cancelled,  // interrupted; measurements so far are kept
  error,      // the driver failed; measurements so far are kept, `reason` says why
  // Still running when a checkpoint was written (engine/checkpoint.hpp): what it measured so far, never a
  // verdict of its own (IN PROGRESS). A finished report never holds it.
  in_progress,
};
// "completed", "skipped", "cancelled", "error", "in progress"
std::string_view to_string(PhaseStatus status);

struct PhaseEvaluation {
  Phase phase;
  PhaseStatus status = PhaseStatus::completed;
  Verdict verdict = Verdict::not_measured;
  std::string reason;                      // why this verdict: skipped/invalid/fail/incomplete/error/...
  std::vector<RowResult> rows;             // the active criteria rows of this phase, in criteria order
  std::vector<Measurement> informational;  // measured metrics that no active row judges
  // Things a reader must know that do not change the verdict: a producer that reported a metric twice, a
  // phase that ran under --continue-on-fail after a failed foundation.
  std::vector<std::string> notes;
  // Stress: every step and the breaking point, per ramped series (from PhaseInput::stress).
  std::vector<load::StressResult> stress;
  // Set when this phase ran only because of --continue-on-fail: the earlier phase that had failed.
  std::optional<Phase> ran_after_failure;
};

enum class ChecklistState { met, not_met, not_verified };
std::string_view to_string(ChecklistState state);  // "met", "not met", "not verified"

struct ChecklistItem {
  std::string text;  // the seed's wording
  ChecklistState state = ChecklistState::not_verified;
  std::string evidence;              // "etcd.write.p99 = 12.3ms < 25ms" or why it is not verified
  std::vector<std::string> metrics;  // the metric ids the item is judged on
};

struct Evaluation {
  std::vector<PhaseEvaluation> phases;  // in flow order, all six
  Verdict overall = Verdict::not_measured;
  std::string overall_reason;
  std::vector<ChecklistItem> checklist;  // the seed's eight items, in its order
  // A smoke run's capacity rows that were measured and left not judged (Verdict::not_judged), in flow order.
  std::vector<std::string> not_judged;
};

// The reason of a row (and the start of a phase's remark) for a smoke run's capacity row.
inline constexpr std::string_view kNotJudgedInSmoke = "not judged in a smoke test";
// The same for a soak: a steady light load held for hours shows drift, never capacity.
inline constexpr std::string_view kNotJudgedInSoak = "not judged in a soak test";
// The light-load test types whose capacity rows are NOT JUDGED (smoke, soak), and the reason they carry.
bool leaves_capacity_unjudged(std::optional<config::TestType> type);
std::string_view not_judged_reason(std::optional<config::TestType> type);
// The reason a row of `evaluation` left NOT JUDGED carries (kNotJudgedInSmoke when none did).
std::string_view not_judged_reason(const Evaluation& evaluation);

// The verdict as a verdict line shows it: "PASS", or "PASS (smoke: capacity not judged)" when a smoke run
// left capacity rows not judged, so a PASS is never read as a capacity shown.
std::string verdict_text(const Evaluation& evaluation);

// Input to evaluate(): per phase, what the engine (or an imported file) produced.
struct PhaseInput {
  Phase phase;
  PhaseStatus status = PhaseStatus::completed;
  std::string reason;
  std::vector<Measurement> measurements;
  std::vector<std::string> invalid_reasons;  // e.g. "achieved 712/s of the intended 1000/s"
  std::vector<load::StressResult> stress;    // stress: every step and the breaking point, per ramped series
  std::vector<std::string> notes;            // the generators' statements and the schedule's notes
  // Lateness reasons among invalid_reasons, with their figures: kept only if taking the lateness out of a
  // measured latency row of the phase could change that row's verdict; otherwise a note.
  std::vector<load::LatenessFinding> lateness;
  // Set by the engine when this phase ran only because of --continue-on-fail: the earlier phase that failed.
  std::optional<Phase> ran_after_failure;
};

struct EvaluationOptions {
  config::TierSelection tiers;
  // The checklist's "no etcd leader election during 24h test" can only be verified by a soak this long: the
  // time the etcd phase actually ran (the engine fills it in; 0 for imported data).
  Duration soak_duration{0};
  // The plan's test type. The checklist's "API Server P99 latency < 500ms under expected load" is verified
  // only by a load or stress run; a smoke run leaves it "not verified". Absent (imported values): the values
  // are judged and the evidence says that the load level is unknown.
  std::optional<config::TestType> test_type;
  bool aborted = false;
  // A checkpoint of a run still going (engine/checkpoint.hpp): the overall is IN PROGRESS whatever the
  // phases finished so far say, unless one of them already FAILed (a measured failure stays evidence).
  bool in_progress = false;
};

// Phase verdict, first match wins:
//   skipped with no measurements -> SKIPPED (reason: why it did not run);
//   any invalid reason -> INVALID (the numbers cannot be trusted, not even a FAIL);
//   in progress (a checkpoint) -> IN PROGRESS, with what it measured so far in the reason;
//   cancelled -> ABORTED (an interrupted sample proves nothing either way: its FAIL rows keep their verdict
//   and are named in the reason, but a Ctrl-C always ends a run ABORTED, exit 4);
//   any FAIL row -> FAIL (a measured failure is evidence even from a phase whose driver failed);
//   error -> INCOMPLETE (a phase that did not finish can never pass);
//   no row measured -> NOT MEASURED; some rows not measured -> INCOMPLETE;
//   else the worst of PASS / CONDITIONAL PASS.
// Rows judged NOT MEASURED on a value that was measured (evaluate_row's `offered`) count as not measured; the
// reason names them with their value. Measurements are matched to rows by metric id; several rows may share
// one (a seed threshold and a Kubernetes SLO) and each is judged, with the measurement's `offered`. A metric
// reported twice is a producer bug: the last value is used and a note says so.
//
// `test_type` smoke: a measured capacity row (config::is_capacity_metric) is NOT JUDGED, with its value and
// offered rate, and left out of the rule above (a phase with only such rows is NOT JUDGED, and like a SKIPPED
// one it is out of the overall's scope). An unmeasured capacity row stays NOT MEASURED: it should have been
// measured. Load, stress and imported values (nullopt) judge capacity rows as any other.
PhaseEvaluation evaluate_phase(const PhaseInput& input, const std::vector<config::CriteriaRow>& active_rows,
                               std::optional<config::TestType> test_type = std::nullopt);

// Overall, over the phases that are in scope (verdict not SKIPPED; SKIPPED phases are reported in the reason
// but never make a run fail or pass): FAIL if any FAIL; then IN PROGRESS (options.in_progress or a phase IN
// PROGRESS: a checkpoint never reads PASS); then ABORTED (options.aborted or a phase ABORTED);
// INVALID; NOT MEASURED if no in-scope phase measured anything; INCOMPLETE if some did not; CONDITIONAL
// PASS; PASS. With no phase in scope the overall is NOT MEASURED (ABORTED if aborted).
// Phases missing from `inputs` are SKIPPED ("no data for this phase").
Evaluation evaluate(const std::vector<PhaseInput>& inputs,
                    const std::vector<config::CriteriaRow>& active_rows, const EvaluationOptions& options);

// The seed's pre-production checklist over evaluated phases (evaluate() fills Evaluation::checklist with it).
// Items 1-5 use the levels in their own wording (API P99 < 500ms for both mutating and read-only calls, etcd
// write P99 < 25ms, no leader change over >= 24h, pod startup P99 < 5s, DNS P99 < 10ms); items 6-8 use the
// targets of the active criteria rows (the selected storage tier and cluster size). "met" needs every metric
// measured, meeting its level, from a phase that finished and was not INVALID; a measured miss is "not met"
// (unless its phase is INVALID); anything else is "not verified" with the reason in the evidence.
std::vector<ChecklistItem> evaluate_checklist(const std::vector<PhaseEvaluation>& phases,
                                              const EvaluationOptions& options);

}  // namespace kp::eval
