#include "report/stress_text.hpp"

#include <fmt/format.h>

#include "core/units.hpp"

namespace kp::report::detail {
namespace {

std::string factor_text(double factor) {
  return fmt::format("x{:.3g}", factor);
}

std::string latency_text(const std::optional<double>& seconds) {
  return seconds ? format_quantity(Quantity::duration, *seconds) : std::string("-");
}

// "0", or "12 (0.10%)": a count alone would hide whether 12 is a lot.
std::string errors_text(const load::StepRecord& step) {
  if (step.errors == 0) {
    return "0";
  }
  return fmt::format("{} ({})", step.errors, format_quantity(Quantity::ratio, step.error_fraction()));
}

// The step of `series` at `level`, for its factor; null if none ran there.
const load::StepRecord* step_at(const load::StressResult& series, double level) {
  for (const load::StepRecord& step : series.steps) {
    if (step.level == level) {
      return &step;
    }
  }
  return nullptr;
}

std::string level_with_factor(const load::StressResult& series, double level) {
  const load::StepRecord* step = step_at(series, level);
  std::string text = load::level_text(level, series.unit);
  return step == nullptr ? text : fmt::format("{} ({})", text, factor_text(step->factor));
}

}  // namespace

StepCells step_cells(const load::StressResult& series, const load::StepRecord& step, std::string_view index) {
  // Closed loop offers no rate: there is nothing to compare achieved against.
  const bool open_loop = step.offered > 0;
  return StepCells{
      std::string(index),
      load::level_text(step.level, series.unit),
      factor_text(step.factor),
      open_loop ? load::level_text(step.offered, series.unit) : std::string("-"),
      load::level_text(step.achieved, series.achieved_unit.empty() ? series.unit : series.achieved_unit),
      latency_text(step.p50),
      latency_text(step.p99),
      errors_text(step),
      format_duration(step.duration),
      step_result(step),
  };
}

std::vector<StepCells> all_step_cells(const load::StressResult& series) {
  std::vector<StepCells> cells;
  int ramp = 0;
  int bisection = 0;
  for (const load::StepRecord& step : series.steps) {
    const std::string index = step.bisection ? fmt::format("b{}", ++bisection) : fmt::format("{}", ++ramp);
    cells.push_back(step_cells(series, step, index));
  }
  return cells;
}

std::string step_result(const load::StepRecord& step) {
  if (step.cancelled) {
    return "cancelled";
  }
  return step.broke.empty() ? std::string("held") : fmt::format("broke: {}", step.broke);
}

std::string breaking_point_text(const load::StressResult& series) {
  if (series.breaking_level) {
    return fmt::format("{}; {}", level_with_factor(series, *series.breaking_level),
                       series.last_held
                           ? fmt::format("last held {}", level_with_factor(series, *series.last_held))
                           : std::string("no step held"));
  }
  if (series.last_held) {
    const bool cancelled = !series.steps.empty() && series.steps.back().cancelled;
    return fmt::format("not reached: every step held{}, up to {}",
                       cancelled ? " until the run was interrupted" : "",
                       level_with_factor(series, *series.last_held));
  }
  if (!series.steps.empty() && series.steps.back().cancelled) {
    return "not reached: interrupted before the first step ended";
  }
  return "not reached: no step ran";
}

std::string series_title(const load::StressResult& series) {
  return fmt::format("{}, breaking point {}", series.series, series.metric);
}

}  // namespace kp::report::detail
