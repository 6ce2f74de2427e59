#include "drivers/dns/stress_search.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "drivers/dns/dns_phase.hpp"

namespace kp::drivers::dns {
namespace {

std::string ms_text(std::optional<double> seconds) {
  return seconds ? format_quantity(Quantity::duration, *seconds, "ms") : std::string("n/a");
}

// A step's generator shortfall, for its line: the breaking point is informational, so it is stated, not
// judged.
std::string invalid_text(const load::Validity& validity) {
  std::string text;
  for (const std::string& reason : validity.invalid_reasons) {
    text += (text.empty() ? "; the generator on this step: " : "; ") + reason;
  }
  return text;
}

}  // namespace

Result<StressOutcome> run_stress_search(const load::Schedule& schedule, const StepRunner& run_step,
                                        const Workload& workload, const Judging& judging,
                                        engine::CancellationToken& cancel) {
  std::vector<double> ramp;
  for (const load::Step& step : schedule.steps) {
    if (step.rate) {
      ramp.push_back(step.rate->per_second);
    }
  }
  const double base = schedule.base ? schedule.base->per_second : 0.0;
  load::BreakingPointSearch search(ramp, schedule.bisect, base);
  StressOutcome outcome;
  std::size_t ramp_index = 0;
  while (std::optional<double> level = search.next_level()) {
    const bool bisection = search.next_is_bisection();
    const Duration duration = bisection ? schedule.bisect_step_duration : schedule.steps[ramp_index].duration;
    if (cancel.requested()) {
      load::StepRecord cancelled;
      cancelled.cancelled = true;
      search.record(cancelled);
      break;
    }
    Result<LoadResult> load = run_step(Rate{*level}, duration, bisection);
    if (!load) {
      return std::unexpected(load.error());
    }
    load::StepRecord record = step_record(*load, workload);
    if (!record.cancelled) {
      record.broke = load::step_break_reason(record, judging.limits, "QPS");
      if (!load->stopped_early.empty()) {
        record.broke += (record.broke.empty() ? "" : ", ") + load->stopped_early;
      }
    }
    load::Validity validity =
        load::judge_validity(generator_account(*load, judging), judging.tightest_latency);
    std::string inconclusive;
    if (!record.held() && !record.cancelled && !validity.valid() && load->stopped_early.empty() &&
        load::own_lateness_explains_break(record, judging.limits, load->own_lateness, "QPS")) {
      // The step broke, but the generator's own lateness could explain it (it is inside the corrected P99):
      // that is not the server's breaking point. The search ends here, as if interrupted, so nothing above it
      // is tried and the last step held stands.
      inconclusive = load::set_aside_break(record, "server");
    }
    if (!bisection && !record.cancelled) {
      ++ramp_index;
    }
    const bool stopped = !load->stopped_early.empty() || record.cancelled;
    search.record(record);
    outcome.steps.push_back(StepLoad{.rate = *level,
                                     .bisection = bisection,
                                     .load = std::move(*load),
                                     .validity = std::move(validity),
                                     .inconclusive = std::move(inconclusive)});
    if (stopped) {
      break;
    }
  }
  outcome.result = load::summarize(search, "queries", "dns.breaking_rate", "QPS");
  if (!outcome.steps.empty() && !outcome.steps.back().inconclusive.empty()) {
    // The kernel's summary would call this an interruption; say what stopped the search.
    const load::StepRecord* held = search.last_held_step();
    outcome.result.note = fmt::format(
        "breaking point not found: {}the generator itself fell behind at {:.0f} QPS (x{:.3g}), whose break "
        "its "
        "own lateness could explain",
        held != nullptr
            ? fmt::format("every step held up to {:.0f} QPS (x{:.3g}), then ", held->level, held->factor)
            : std::string(),
        outcome.steps.back().rate, search.steps().back().factor);
  }
  return outcome;
}

engine::PhaseRun build_stress_run(const StressOutcome& outcome, const std::optional<CacheDelta>& cache,
                                  const std::string& cache_source, const std::string& cache_problem,
                                  const Workload& workload, const Settings& settings,
                                  const std::vector<std::string>& notes, const Judging& judging) {
  const load::StressResult& result = outcome.result;
  std::vector<std::string> all_notes;
  const StepLoad* judged = nullptr;
  for (std::size_t i = 0; i < outcome.steps.size() && i < result.steps.size(); ++i) {
    const load::StepRecord& step = result.steps[i];
    const StepLoad& ran = outcome.steps[i];
    all_notes.push_back(fmt::format(
        "stress {}step x{:.3g} at {:.0f}/s: answered {:.0f}/s of {:.0f}/s offered, P50 {}, P99 {}, {} errors "
        "of "
        "{}: {}{}",
        step.bisection ? "bisection " : "", step.factor, step.level, step.achieved, step.offered,
        ms_text(step.p50), ms_text(step.p99), step.errors, step.completed,
        !ran.inconclusive.empty() ? ran.inconclusive
        : step.cancelled          ? std::string("cancelled")
        : step.held()             ? std::string("held")
                                  : "broke (" + step.broke + ")",
        invalid_text(ran.validity)));
    if (step.held() && (judged == nullptr || step.level > judged->rate)) {
      judged = &ran;
    }
  }
  if (!result.breaking_level) {
    all_notes.push_back(result.note);
  }
  all_notes.insert(all_notes.end(), notes.begin(), notes.end());
  if (outcome.steps.empty()) {
    engine::PhaseRun run;
    run.invalid_reasons.push_back("no stress step ran (cancelled before the first)");
    run.notes = std::move(all_notes);
    run.stress.push_back(result);
    return run;
  }
  if (judged == nullptr) {
    judged = &outcome.steps.front();
  }
  engine::PhaseRun run =
      build_run(judged->load, cache, cache_source, cache_problem, workload, settings, all_notes, judging);
  if (result.breaking_level) {
    run.measurements.push_back(Measurement{.metric = result.metric,
                                           .value = *result.breaking_level,
                                           .offered = std::nullopt,
                                           .histogram = {},
                                           .source = "client",
                                           .note = result.note});
  }
  run.stress.push_back(result);
  return run;
}

}  // namespace kp::drivers::dns
