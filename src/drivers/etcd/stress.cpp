#include "drivers/etcd/stress.hpp"

#include <fmt/format.h>

namespace kp::drivers::etcd {
namespace {

std::optional<double> percentile_seconds(const Histogram& histogram, double percentile) {
  if (histogram.count() == 0) {
    return std::nullopt;
  }
  return double(histogram.value_at_percentile(percentile)) / 1e9;
}

}  // namespace

SearchLimits search_limits(const load::CriteriaView& criteria) {
  const std::optional<double> errors = criteria.critical("etcd.error_rate");
  return SearchLimits{.writes = load::BreakLimits{.p99_critical = criteria.critical("etcd.write.p99"),
                                                  .error_critical = errors},
                      .reads = load::BreakLimits{.p99_critical = criteria.critical("etcd.read.p99"),
                                                 .error_critical = errors}};
}

load::StepRecord step_record(const StageResult& stage) {
  const double read_fraction = stage.stage.read_fraction;
  OperationStats side;
  if (read_fraction < 1.0) {
    side.merge(stage.put);
  }
  if (read_fraction > 0.0) {
    side.merge(stage.range);
  }
  // A mixed step's P99 is its writes' (the slower kind); step_broke holds its reads to their own limit.
  const Histogram& latency = read_fraction > 0.0 && read_fraction < 1.0 && stage.put.ok > 0
                                 ? stage.put.latency.corrected
                                 : side.latency.corrected;
  const double window = std::chrono::duration<double>(stage.window()).count();
  load::StepRecord record;
  record.level = stage.intended_rate();
  record.factor = stage.stage.factor;
  record.bisection = stage.stage.bisection;
  record.offered = stage.intended_rate();
  record.achieved = window > 0 ? double(side.ok) / window : 0.0;
  record.p50 = percentile_seconds(latency, 50);
  record.p99 = percentile_seconds(latency, 99);
  record.completed = side.completed();
  record.errors = side.errors;
  record.duration = stage.elapsed;
  record.cancelled = stage.cancelled;
  return record;
}

std::string step_broke(const StageResult& stage, const SearchLimits& limits) {
  const double read_fraction = stage.stage.read_fraction;
  load::StepRecord record = step_record(stage);
  std::string reason = load::step_break_reason(record, read_fraction >= 1.0 ? limits.reads : limits.writes);
  if (read_fraction > 0.0 && read_fraction < 1.0 && stage.range.ok > 0) {
    load::StepRecord reads = record;
    reads.p99 = percentile_seconds(stage.range.latency.corrected, 99);
    const std::string read_reason =
        load::step_break_reason(reads, load::BreakLimits{.p99_critical = limits.reads.p99_critical,
                                                         .error_critical = std::nullopt,
                                                         .min_achieved_share = 0});
    if (!read_reason.empty()) {
      reason += (reason.empty() ? "read " : ", read ") + read_reason;
    }
  }
  if (reason.empty() && !stage.stopped_early.empty()) {
    reason = "stopped early: " + stage.stopped_early;
  }
  return reason;
}

Result<load::StressResult> search_breaking_point(const StressSeries& series, const SearchLimits& limits,
                                                 const StageRunner& run_step,
                                                 std::vector<StageResult>& stages,
                                                 const engine::CancellationToken& cancel,
                                                 const ProgressFn& progress) {
  const load::Schedule& schedule = series.schedule;
  const double capacity = schedule.base ? schedule.base->per_second : 0.0;
  std::vector<double> ramp;
  for (const load::Step& step : schedule.steps) {
    ramp.push_back(step.rate ? step.rate->per_second : 0.0);
  }
  load::BreakingPointSearch search(ramp, schedule.bisect, capacity);
  std::size_t ramp_index = 0;
  while (std::optional<double> level = search.next_level()) {
    if (cancel.requested()) {
      break;
    }
    const bool bisection = search.next_is_bisection();
    const Duration duration = bisection || ramp_index >= schedule.steps.size()
                                  ? schedule.bisect_step_duration
                                  : schedule.steps[ramp_index].duration;
    const std::string level_text = format_quantity(Quantity::rate, *level);
    // The stage line prints the rate; the name says which step of the search it is.
    Stage stage{.name = fmt::format("{} x{:.3g}{}", series.series, search.next_factor(),
                                    bisection ? " (bisection)" : ""),
                .read_fraction = series.read_fraction,
                .rate = Rate{*level},
                .duration = duration,
                .total = std::nullopt,
                .factor = search.next_factor(),
                .stress_step = true,
                .bisection = bisection};
    if (progress) {
      progress(fmt::format("{}: {} (x{:.3g} of capacity) for {}", series.series, level_text, stage.factor,
                           format_duration(duration)));
    }
    Result<StageResult> ran = run_step(stage);
    if (!ran) {
      return std::unexpected(ran.error());
    }
    load::StepRecord record = step_record(*ran);
    record.broke = step_broke(*ran, limits);
    if (progress) {
      progress(
          fmt::format("{}: {}", series.series, record.broke.empty() ? "held" : "broke: " + record.broke));
    }
    const bool server_gone = !ran->stopped_early.empty();
    stages.push_back(std::move(*ran));
    search.record(std::move(record));
    if (!bisection) {
      ++ramp_index;
    }
    if (server_gone) {
      break;
    }
  }
  return load::summarize(search, series.series, series.metric, "/s");
}

}  // namespace kp::drivers::etcd
