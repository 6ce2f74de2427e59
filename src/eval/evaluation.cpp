#include "eval/evaluation.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"
#include "eval/eval_text.hpp"

namespace kp::eval {
namespace {

using config::Comparison;
using config::CriteriaRow;
using detail::format_value;
using detail::join;
using detail::level_text;
using detail::phase_of_metric;

// "storage.randread_4k.iops 3.2k IOPS beyond critical > 10k IOPS": what a reader of a phase or run reason
// needs to see of one row.
std::string describe(const RowResult& result) {
  if (!result.measured.has_value()) {
    return fmt::format("{} {}", result.row.metric, result.reason);
  }
  return fmt::format("{} {} {}", result.row.metric,
                     format_value(result.row.metric, *result.measured, result.row.unit), result.reason);
}

struct Deduplicated {
  std::vector<Measurement> measurements;  // one per metric id, in order of first appearance, last value wins
  std::vector<std::string> notes;
};

Deduplicated deduplicate(const std::vector<Measurement>& measurements) {
  Deduplicated out;
  std::map<std::string, std::pair<std::size_t, int>, std::less<>> seen;  // id -> (index, times)
  for (const Measurement& measurement : measurements) {
    auto found = seen.find(measurement.metric);
    if (found == seen.end()) {
      seen.emplace(measurement.metric, std::pair{out.measurements.size(), 1});
      out.measurements.push_back(measurement);
    } else {
      out.measurements[found->second.first] = measurement;
      ++found->second.second;
    }
  }
  for (const auto& [metric, where] : seen) {
    if (where.second > 1) {
      out.notes.push_back(fmt::format(
          "{} was reported {} times; the last value is used (a bug in the producer)", metric, where.second));
    }
  }
  return out;
}

const Measurement* find_measurement(const std::vector<Measurement>& measurements, std::string_view metric) {
  for (const Measurement& measurement : measurements) {
    if (measurement.metric == metric) {
      return &measurement;
    }
  }
  return nullptr;
}

// A value within this share of the offered rate kept up with it: an open-loop run's answered rate sits a hair
// under what it sent (the last answers land after the window, a few are lost), which is not a shortfall.
constexpr double kKeptUpShare = 0.99;

// Why a value that misses the level of a capacity row (">"/">=") is no evidence against the system: it kept
// up with an offered rate that does not reach that level itself, so the run never asked for the level. The
// level is the target (the critical one for a row without a target). nullopt: judge the value as it is.
std::optional<std::string> not_demonstrated(const CriteriaRow& row, double value,
                                            std::optional<double> offered) {
  const bool capacity = row.comparison == Comparison::greater || row.comparison == Comparison::greater_equal;
  if (!capacity || !offered.has_value() || !std::isfinite(*offered)) {
    return std::nullopt;
  }
  const std::optional<double> level = row.target.has_value() ? row.target : row.critical;
  if (!level.has_value() || config::satisfies(row.comparison, value, *level)) {
    return std::nullopt;
  }
  const bool kept_up = value >= kKeptUpShare * *offered;
  if (!kept_up || config::satisfies(row.comparison, *offered, *level)) {
    return std::nullopt;  // a real shortfall, or the run offered the level and the value missed it
  }
  const std::string what =
      fmt::format("{} {}", row.target.has_value() ? "target" : "critical", level_text(row, *level));
  const std::string offered_text = format_value(row.metric, *offered, row.unit);
  if (*offered < *level) {
    return fmt::format(
        "not demonstrated: the run offered only {} (below {}); run a load test at >= 100 % of capacity to "
        "judge it",
        offered_text, what);
  }
  // Offered exactly at a strict level: even a perfect system answers at most the level itself.
  return fmt::format(
      "not demonstrated: the run offered only {} (not above {}); offer more than that (a "
      "stress test, or a stated capacity above it) to judge it",
      offered_text, what);
}

RowResult not_judged_in_smoke(const CriteriaRow& row, double measured, std::optional<double> offered,
                              std::string_view reason) {
  RowResult result;
  result.row = row;
  result.measured = std::isnan(measured) ? std::nullopt : std::optional<double>(measured);
  result.offered = offered;
  result.verdict = Verdict::not_judged;
  result.reason = std::string(reason);
  return result;
}

// Verdict and reason of a phase from its evaluated rows; the order of the checks is the header's rule.
std::pair<Verdict, std::string> phase_verdict(const PhaseInput& input, const std::vector<RowResult>& rows,
                                              bool has_measurements) {
  if (input.status == PhaseStatus::skipped && !has_measurements) {
    return {Verdict::skipped, input.reason};
  }
  if (!input.invalid_reasons.empty()) {
    // One reason given by several generators reads once.
    std::vector<std::string> reasons;
    for (const std::string& reason : input.invalid_reasons) {
      if (std::ranges::find(reasons, reason) == reasons.end()) {
        reasons.push_back(reason);
      }
    }
    return {Verdict::invalid, join(reasons, "; ")};
  }

  std::vector<std::string> failed;
  std::vector<std::string> conditional;
  std::vector<std::string> unmeasured;
  // NOT MEASURED although a value was measured (not demonstrated at the load the run offered): described with
  // the value so the phase reason says why.
  std::vector<std::string> undemonstrated;
  std::vector<std::string> not_judged;  // capacity rows of a smoke run: neither judged nor missing
  for (const RowResult& result : rows) {
    switch (result.verdict) {
      case Verdict::fail:
        failed.push_back(describe(result));
        break;
      case Verdict::conditional_pass:
        conditional.push_back(describe(result));
        break;
      case Verdict::pass:
        break;
      case Verdict::not_judged:
        not_judged.push_back(result.row.metric);
        break;
      default:
        if (result.measured.has_value()) {
          undemonstrated.push_back(describe(result));
        } else {
          unmeasured.push_back(result.row.metric);
        }
        break;
    }
  }
  // The rows this phase is judged on: all but a smoke run's capacity rows.
  const std::size_t considered = rows.size() - not_judged.size();
  // Rows with a value, judged or not (what "measured before it stopped" counts).
  const std::size_t measured = considered - unmeasured.size();
  const std::size_t judged = measured - undemonstrated.size();
  // Why the phase stopped early, appended to whatever the rows say.
  std::string stopped;
  if (input.status == PhaseStatus::cancelled) {
    stopped =
        input.reason.empty() ? std::string("interrupted") : fmt::format("interrupted: {}", input.reason);
  } else if (input.status == PhaseStatus::error) {
    stopped = input.reason.empty() ? std::string("driver error") : input.reason;
  }

  if (input.status == PhaseStatus::in_progress) {
    // A sample not yet whole proves nothing either way, not even a FAIL: the finished phase will say.
    std::string reason = input.reason.empty() ? std::string("still running") : input.reason;
    reason += fmt::format("; {} of {} metrics measured so far", measured, considered);
    if (!failed.empty()) {
      reason += fmt::format(", beyond critical so far: {}", join(failed, "; "));
    }
    return {Verdict::in_progress, std::move(reason)};
  }
  if (!failed.empty() && input.status == PhaseStatus::cancelled) {
    // Whoever stopped the phase cut its sample short (a cold cache's first 0.2 s, a latency tail not yet
    // averaged in): ABORTED, as every interrupted run is (exit 4), with what was beyond critical named.
    return {Verdict::aborted,
            fmt::format("{}; {} of {} metrics measured before it stopped, beyond critical then: {}", stopped,
                        measured, considered, join(failed, "; "))};
  }
  if (!failed.empty()) {
    std::string reason = join(failed, "; ");
    if (!stopped.empty()) {
      reason += fmt::format(" ({})", stopped);
    }
    return {Verdict::fail, std::move(reason)};
  }
  if (input.status == PhaseStatus::cancelled || input.status == PhaseStatus::error) {
    const Verdict verdict = input.status == PhaseStatus::cancelled ? Verdict::aborted : Verdict::incomplete;
    return {verdict,
            fmt::format("{}; {} of {} metrics measured before it stopped", stopped, measured, considered)};
  }
  if (rows.empty()) {
    return {Verdict::not_measured, "no active criteria row for this phase"};
  }
  std::string_view light = kNotJudgedInSmoke;
  for (const RowResult& result : rows) {
    if (result.verdict == Verdict::not_judged) {
      light = result.reason;
      break;
    }
  }
  const std::string not_judged_text =
      not_judged.empty() ? std::string() : fmt::format("{}: {}", light, join(not_judged, ", "));
  if (considered == 0) {
    return {Verdict::not_judged, not_judged_text};
  }
  // A smoke run's reason names its capacity rows after what it judged, so no reader takes them for passed.
  auto with_not_judged = [&](std::string reason) {
    return not_judged.empty() ? reason : fmt::format("{}; {}", reason, not_judged_text);
  };
  if (measured == 0) {
    return {
        Verdict::not_measured,
        with_not_judged(considered == 1 ? std::string("its metric was not measured")
                                        : fmt::format("none of the {} metrics was measured", considered))};
  }
  if (!undemonstrated.empty()) {
    std::vector<std::string> parts{fmt::format("{} of {} metrics judged", judged, considered)};
    if (!unmeasured.empty()) {
      parts.push_back(fmt::format("not measured: {}", join(unmeasured, ", ")));
    }
    parts.insert(parts.end(), undemonstrated.begin(), undemonstrated.end());
    return {judged == 0 ? Verdict::not_measured : Verdict::incomplete, with_not_judged(join(parts, "; "))};
  }
  if (!unmeasured.empty()) {
    return {Verdict::incomplete, with_not_judged(fmt::format("{} of {} metrics measured; not measured: {}",
                                                             measured, considered, join(unmeasured, ", ")))};
  }
  if (!conditional.empty()) {
    return {Verdict::conditional_pass, with_not_judged(join(conditional, "; "))};
  }
  if (!not_judged.empty()) {
    return {Verdict::pass,
            with_not_judged(considered == 1 ? std::string("its judged metric meets target")
                                            : fmt::format("all {} judged metrics meet target", considered))};
  }
  return {Verdict::pass, rows.size() == 1 ? std::string("its metric meets target")
                                          : fmt::format("all {} metrics meet target", rows.size())};
}

// Skipped phases grouped by reason so a gated run reads "skipped: api, network (not run: etcd failed ...)".
std::string skipped_summary(const std::vector<PhaseEvaluation>& phases) {
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (const PhaseEvaluation& phase : phases) {
    if (phase.verdict != Verdict::skipped) {
      continue;
    }
    auto group = std::ranges::find_if(groups, [&](const auto& g) { return g.first == phase.reason; });
    if (group == groups.end()) {
      groups.push_back({phase.reason, {}});
      group = std::prev(groups.end());
    }
    group->second.emplace_back(to_string(phase.phase));
  }
  std::vector<std::string> parts;
  for (const auto& [reason, names] : groups) {
    parts.push_back(reason.empty() ? join(names, ", ") : fmt::format("{} ({})", join(names, ", "), reason));
  }
  return parts.empty() ? std::string() : fmt::format("skipped: {}", join(parts, "; "));
}

std::string phases_with(const std::vector<PhaseEvaluation>& phases, Verdict verdict) {
  std::vector<std::string> parts;
  for (const PhaseEvaluation& phase : phases) {
    if (phase.verdict == verdict) {
      parts.push_back(fmt::format("{} {}: {}", to_string(phase.phase), to_string(verdict), phase.reason));
    }
  }
  return join(parts, "; ");
}

std::pair<Verdict, std::string> overall_verdict(const std::vector<PhaseEvaluation>& phases, bool aborted,
                                                bool in_progress) {
  std::size_t in_scope = 0;
  auto count = [&](Verdict verdict) {
    return std::ranges::count_if(phases, [&](const PhaseEvaluation& p) { return p.verdict == verdict; });
  };
  for (const PhaseEvaluation& phase : phases) {
    // A phase whose every row is a smoke run's capacity row has nothing judged: like a skipped one, it
    // neither passes nor fails the run.
    if (phase.verdict != Verdict::skipped && phase.verdict != Verdict::not_judged) {
      ++in_scope;
    }
  }

  if (count(Verdict::fail) > 0) {
    return {Verdict::fail, phases_with(phases, Verdict::fail)};
  }
  if (in_progress || count(Verdict::in_progress) > 0) {
    std::string detail = phases_with(phases, Verdict::in_progress);
    return {Verdict::in_progress, detail.empty()
                                      ? std::string("checkpoint of a run still in progress")
                                      : fmt::format("checkpoint of a run still in progress; {}", detail)};
  }
  if (aborted || count(Verdict::aborted) > 0) {
    std::string detail = phases_with(phases, Verdict::aborted);
    return {Verdict::aborted,
            detail.empty() ? std::string("run aborted") : fmt::format("run aborted; {}", detail)};
  }
  if (count(Verdict::invalid) > 0) {
    return {Verdict::invalid, phases_with(phases, Verdict::invalid)};
  }
  if (in_scope == 0) {
    return {Verdict::not_measured, "no phase was in scope"};
  }
  const auto not_measured = static_cast<std::size_t>(count(Verdict::not_measured));
  if (not_measured == in_scope) {
    return {Verdict::not_measured, phases_with(phases, Verdict::not_measured)};
  }
  if (not_measured > 0 || count(Verdict::incomplete) > 0) {
    std::vector<std::string> parts;
    for (Verdict verdict : {Verdict::incomplete, Verdict::not_measured}) {
      if (std::string part = phases_with(phases, verdict); !part.empty()) {
        parts.push_back(std::move(part));
      }
    }
    return {Verdict::incomplete, join(parts, "; ")};
  }
  if (count(Verdict::conditional_pass) > 0) {
    return {Verdict::conditional_pass, phases_with(phases, Verdict::conditional_pass)};
  }
  return {Verdict::pass, "every measured metric meets target"};
}

}  // namespace

std::string verdict_text(const Evaluation& evaluation) {
  const std::string verdict(to_string(evaluation.overall));
  if (evaluation.not_judged.empty()) {
    return verdict;
  }
  return fmt::format("{} ({}: capacity not judged)", verdict,
                     not_judged_reason(evaluation) == kNotJudgedInSoak ? "soak" : "smoke");
}

bool leaves_capacity_unjudged(std::optional<config::TestType> type) {
  return type == config::TestType::smoke || type == config::TestType::soak;
}

std::string_view not_judged_reason(std::optional<config::TestType> type) {
  return type == config::TestType::soak ? kNotJudgedInSoak : kNotJudgedInSmoke;
}

std::string_view not_judged_reason(const Evaluation& evaluation) {
  for (const PhaseEvaluation& phase : evaluation.phases) {
    for (const RowResult& row : phase.rows) {
      if (row.verdict == Verdict::not_judged) {
        return row.reason == kNotJudgedInSoak ? kNotJudgedInSoak : kNotJudgedInSmoke;
      }
    }
  }
  return kNotJudgedInSmoke;
}

std::string_view to_string(PhaseStatus status) {
  switch (status) {
    case PhaseStatus::completed:
      return "completed";
    case PhaseStatus::skipped:
      return "skipped";
    case PhaseStatus::cancelled:
      return "cancelled";
    case PhaseStatus::error:
      return "error";
    case PhaseStatus::in_progress:
      return "in progress";
  }
  return "?";
}

RowResult evaluate_row(const CriteriaRow& row, std::optional<double> measured,
                       std::optional<double> offered) {
  RowResult result;
  result.row = row;
  result.measured = measured;
  result.offered = offered;
  if (!measured.has_value()) {
    result.reason = "not measured";
    return result;
  }
  if (std::isnan(*measured)) {
    // NaN compares false against everything, which would read as a FAIL; it is a missing value.
    result.measured = std::nullopt;
    result.reason = "not measured (the value is not a number)";
    return result;
  }
  const double value = *measured;
  if (row.target.has_value() && config::satisfies(row.comparison, value, *row.target)) {
    result.verdict = Verdict::pass;
    result.reason = fmt::format("meets target {}", level_text(row, *row.target));
    return result;
  }
  if (std::optional<std::string> why = not_demonstrated(row, value, offered); why.has_value()) {
    result.verdict = Verdict::not_measured;
    result.reason = std::move(*why);
    return result;
  }
  const std::string missed = row.target.has_value()
                                 ? fmt::format("misses target {}", level_text(row, *row.target))
                                 : std::string("no target level defined");
  if (!row.critical.has_value()) {
    if (!row.target.has_value()) {
      // Nothing to judge against: never a pass.
      result.verdict = Verdict::not_measured;
      result.reason = "the criteria row has neither a target nor a critical level";
      return result;
    }
    result.verdict = Verdict::conditional_pass;
    result.reason = fmt::format("{}, no critical level defined", missed);
    return result;
  }
  if (config::satisfies(row.comparison, value, *row.critical)) {
    result.verdict = Verdict::conditional_pass;
    result.reason = fmt::format("{}, within critical {}", missed, level_text(row, *row.critical));
    return result;
  }
  result.verdict = Verdict::fail;
  result.reason = fmt::format("beyond critical {}", level_text(row, *row.critical));
  return result;
}

namespace {

// The validity rule's principle: INVALID only when the generator's own shortfall could change a verdict. Its
// lateness sits inside every corrected latency it measured; if every measured latency row of the phase keeps
// its verdict with the lateness P99 taken out, the lateness could not have changed one, and the reason
// becomes a note. With no latency row measured nothing can be checked, and the reason stays.
PhaseInput without_harmless_lateness(const PhaseInput& input, const std::vector<RowResult>& rows,
                                     std::vector<std::string>& notes) {
  PhaseInput judged = input;
  for (const load::LatenessFinding& finding : input.lateness) {
    bool measured = false;
    bool could_change = false;
    for (const RowResult& row : rows) {
      const config::MetricInfo* info = config::find_metric(row.row.metric);
      const bool latency =
          info != nullptr && info->quantity == Quantity::duration &&
          (row.row.comparison == Comparison::less || row.row.comparison == Comparison::less_equal);
      if (!latency || !row.measured.has_value()) {
        continue;
      }
      measured = true;
      const double without = std::max(0.0, *row.measured - finding.p99);
      if (evaluate_row(row.row, without).verdict != row.verdict) {
        could_change = true;
      }
    }
    if (!measured || could_change) {
      continue;
    }
    std::erase(judged.invalid_reasons, finding.reason);
    notes.push_back(
        fmt::format("not INVALID: {}; but every measured latency row keeps its verdict with {} taken out, so "
                    "it could not",
                    finding.reason.substr(0, finding.reason.find(": it could change a verdict")),
                    format_quantity(Quantity::duration, finding.p99)));
  }
  return judged;
}

}  // namespace

PhaseEvaluation evaluate_phase(const PhaseInput& input, const std::vector<CriteriaRow>& active_rows,
                               std::optional<config::TestType> test_type) {
  PhaseEvaluation out;
  out.phase = input.phase;
  out.status = input.status;
  out.ran_after_failure = input.ran_after_failure;
  Deduplicated measured = deduplicate(input.measurements);
  out.notes = std::move(measured.notes);
  // Several workers or series may state the same thing; a reader needs it once.
  for (const std::string& note : input.notes) {
    if (std::ranges::find(out.notes, note) == out.notes.end()) {
      out.notes.push_back(note);
    }
  }
  out.stress = input.stress;

  for (const CriteriaRow& row : active_rows) {
    if (phase_of_metric(row.metric) != input.phase) {
      continue;
    }
    const Measurement* measurement = find_measurement(measured.measurements, row.metric);
    if (measurement != nullptr && leaves_capacity_unjudged(test_type) &&
        config::is_capacity_metric(row.metric)) {
      out.rows.push_back(
          not_judged_in_smoke(row, measurement->value, measurement->offered, not_judged_reason(test_type)));
      continue;
    }
    out.rows.push_back(measurement != nullptr ? evaluate_row(row, measurement->value, measurement->offered)
                                              : evaluate_row(row, std::nullopt));
    if (measurement == nullptr) {
      // A phase that knows why it could not measure a metric says so in a note "<metric> not measured:
      // <why>" (e.g. the dns phase's cache ratio behind NodeLocal DNSCache): the row carries the why.
      const std::string prefix = row.metric + " not measured: ";
      for (const std::string& note : input.notes) {
        if (note.starts_with(prefix)) {
          out.rows.back().reason = "not measured: " + note.substr(prefix.size());
          break;
        }
      }
    }
  }
  for (Measurement& measurement : measured.measurements) {
    const bool judged =
        std::ranges::any_of(out.rows, [&](const RowResult& r) { return r.row.metric == measurement.metric; });
    if (!judged) {
      out.informational.push_back(std::move(measurement));
    }
  }
  if (input.ran_after_failure.has_value()) {
    out.notes.push_back(
        fmt::format("ran under --continue-on-fail although {} failed; its numbers may reflect that",
                    to_string(*input.ran_after_failure)));
  }

  const PhaseInput judged = without_harmless_lateness(input, out.rows, out.notes);
  auto [verdict, reason] = phase_verdict(judged, out.rows, !input.measurements.empty());
  out.verdict = verdict;
  out.reason = std::move(reason);
  return out;
}

Evaluation evaluate(const std::vector<PhaseInput>& inputs, const std::vector<CriteriaRow>& active_rows,
                    const EvaluationOptions& options) {
  Evaluation out;
  for (Phase phase : kFlowOrder) {
    const PhaseInput* chosen = nullptr;
    int times = 0;
    for (const PhaseInput& input : inputs) {
      if (input.phase == phase) {
        chosen = &input;
        ++times;
      }
    }
    PhaseInput absent;
    absent.phase = phase;
    absent.status = PhaseStatus::skipped;
    absent.reason = "no data for this phase";
    PhaseEvaluation evaluated =
        evaluate_phase(chosen != nullptr ? *chosen : absent, active_rows, options.test_type);
    if (times > 1) {
      evaluated.notes.push_back(
          fmt::format("the {} phase was given {} times; the last is used (a bug in the producer)",
                      to_string(phase), times));
    }
    out.phases.push_back(std::move(evaluated));
  }

  auto [verdict, detail] = overall_verdict(out.phases, options.aborted, options.in_progress);
  out.overall = verdict;
  const auto in_scope = std::ranges::count_if(out.phases, [](const PhaseEvaluation& p) {
    return p.verdict != Verdict::skipped && p.verdict != Verdict::not_judged;
  });
  std::vector<std::string> parts{fmt::format("{} of {} phases evaluated", in_scope, out.phases.size()),
                                 std::move(detail)};
  std::vector<std::string> continued;
  for (const PhaseEvaluation& phase : out.phases) {
    if (phase.ran_after_failure.has_value()) {
      continued.emplace_back(to_string(phase.phase));
    }
  }
  if (!continued.empty()) {
    parts.push_back(fmt::format("--continue-on-fail ran {} after a failed phase", join(continued, ", ")));
  }
  if (std::string skipped = skipped_summary(out.phases); !skipped.empty()) {
    parts.push_back(std::move(skipped));
  }
  for (const PhaseEvaluation& phase : out.phases) {
    for (const RowResult& row : phase.rows) {
      if (row.verdict == Verdict::not_judged) {
        out.not_judged.push_back(row.row.metric);
      }
    }
  }
  if (!out.not_judged.empty()) {
    parts.push_back(fmt::format("{}: {}", not_judged_reason(out), join(out.not_judged, ", ")));
  }
  out.overall_reason = join(parts, "; ");
  out.checklist = evaluate_checklist(out.phases, options);
  return out;
}
}  // namespace kp::eval
