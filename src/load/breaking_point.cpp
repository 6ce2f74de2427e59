#include "load/breaking_point.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kp::load {

std::string level_text(double level, std::string_view unit) {
  if (unit == "bps") {
    return format_quantity(Quantity::bandwidth, level);
  }
  if (unit == "/s") {
    return format_quantity(Quantity::rate, level);
  }
  if (unit == "QPS" || unit == "RPS" || unit == "IOPS") {
    std::string text = format_quantity(Quantity::rate, level);
    if (text.ends_with("/s")) {
      text.resize(text.size() - 2);
    }
    return fmt::format("{} {}", text, unit);
  }
  return fmt::format("{:g} {}", level, unit);
}

namespace {

std::string percent(double fraction) {
  return fmt::format("{:.1f} %", fraction * 100);
}

}  // namespace

std::string step_break_reason(const StepRecord& step, const BreakLimits& limits, std::string_view unit) {
  std::vector<std::string> reasons;
  if (step.offered > 0 && step.achieved < limits.min_achieved_share * step.offered) {
    reasons.push_back(fmt::format("achieved {} of {} offered ({})", level_text(step.achieved, unit),
                                  level_text(step.offered, unit), percent(step.achieved / step.offered)));
  }
  if (limits.p99_critical && step.p99 && *step.p99 > *limits.p99_critical) {
    reasons.push_back(fmt::format("P99 {} > critical {}", format_quantity(Quantity::duration, *step.p99),
                                  format_quantity(Quantity::duration, *limits.p99_critical)));
  }
  if (limits.error_critical && step.error_fraction() > *limits.error_critical) {
    reasons.push_back(fmt::format("errors {} > critical {}",
                                  format_quantity(Quantity::ratio, step.error_fraction()),
                                  format_quantity(Quantity::ratio, *limits.error_critical)));
  }
  if (step.completed == 0 && !step.cancelled) {
    reasons.push_back("nothing completed");
  }
  std::string text;
  for (const std::string& reason : reasons) {
    text += (text.empty() ? "" : ", ") + reason;
  }
  return text;
}

bool own_lateness_explains_break(const StepRecord& step, const BreakLimits& limits,
                                 const Histogram& own_lateness, std::string_view unit) {
  if (step.held() || !step.p99 || own_lateness.count() == 0) {
    return false;
  }
  StepRecord without = step;
  without.p99 = std::max(0.0, *step.p99 - static_cast<double>(own_lateness.value_at_percentile(99)) / 1e9);
  return step_break_reason(without, limits, unit).empty();
}

std::string set_aside_break(StepRecord& step, std::string_view server) {
  std::string outcome = fmt::format(
      "broke ({}), but the generator fell behind on it, which could explain the break: not taken as the {}'s "
      "breaking point; the search stops here",
      step.broke, server);
  step.broke.clear();
  step.cancelled = true;
  return outcome;
}

BreakingPointSearch::BreakingPointSearch(std::vector<double> ramp, int bisect, double capacity, bool integral)
    : ramp_(std::move(ramp)), bisect_left_(std::max(0, bisect)), capacity_(capacity), integral_(integral) {
  if (integral_) {
    for (double& level : ramp_) {
      level = std::max(1.0, std::round(level));
    }
    ramp_.erase(std::unique(ramp_.begin(), ramp_.end()), ramp_.end());
  }
}

std::optional<double> BreakingPointSearch::bisection_level() const {
  if (!broken_ || bisect_left_ <= 0) {
    return std::nullopt;
  }
  const double lower = held_.value_or(0.0);
  const double upper = *broken_;
  double middle = (lower + upper) / 2;
  if (integral_) {
    middle = std::floor(middle);
    if (middle <= lower || middle >= upper || middle < 1) {
      return std::nullopt;  // no whole number between
    }
  }
  return middle;
}

std::optional<double> BreakingPointSearch::next_level() const {
  if (cancelled_) {
    return std::nullopt;
  }
  if (in_bisection_) {
    return bisection_level();
  }
  if (ramp_index_ < ramp_.size()) {
    return ramp_[ramp_index_];
  }
  return std::nullopt;
}

bool BreakingPointSearch::next_is_bisection() const {
  return in_bisection_;
}

double BreakingPointSearch::next_factor() const {
  const std::optional<double> level = next_level();
  return capacity_ > 0 && level ? *level / capacity_ : 1.0;
}

void BreakingPointSearch::record(StepRecord step) {
  const std::optional<double> level = next_level();
  if (!level) {
    return;  // the search is over: nothing was asked for
  }
  step.level = *level;
  step.factor = capacity_ > 0 ? *level / capacity_ : 1.0;
  step.bisection = in_bisection_;
  if (step.cancelled) {
    cancelled_ = true;
  } else if (step.held()) {
    held_ = held_ ? std::max(*held_, *level) : *level;
  } else {
    broken_ = broken_ ? std::min(*broken_, *level) : *level;
  }
  if (in_bisection_) {
    --bisect_left_;
  } else if (!step.cancelled) {
    ++ramp_index_;
    if (!step.held()) {
      in_bisection_ = true;  // past the first break: only bisect below it from now on
    }
  }
  steps_.push_back(std::move(step));
}

const StepRecord* BreakingPointSearch::last_held_step() const {
  const StepRecord* best = nullptr;
  for (const StepRecord& step : steps_) {
    if (step.held() && (best == nullptr || step.level > best->level)) {
      best = &step;
    }
  }
  return best;
}

const StepRecord* BreakingPointSearch::first_broken_step() const {
  const StepRecord* best = nullptr;
  for (const StepRecord& step : steps_) {
    if (!step.cancelled && !step.held() && (best == nullptr || step.level < best->level)) {
      best = &step;
    }
  }
  return best;
}

StressResult summarize(const BreakingPointSearch& search, std::string series, std::string metric,
                       std::string unit) {
  StressResult result{.series = std::move(series),
                      .metric = std::move(metric),
                      .unit = std::move(unit),
                      .steps = search.steps(),
                      .breaking_level = search.first_broken(),
                      .last_held = search.last_held(),
                      .note = {},
                      .achieved_unit = {}};
  const StepRecord* held = search.last_held_step();
  const StepRecord* broken = search.first_broken_step();
  auto describe = [&](const StepRecord& step) {
    return fmt::format("{} (x{:.3g})", level_text(step.level, result.unit), step.factor);
  };
  if (broken != nullptr) {
    result.note =
        fmt::format("broke at {}: {}; {}", describe(*broken), broken->broke,
                    held != nullptr ? "last step held " + describe(*held) : std::string("no step held"));
  } else if (held != nullptr) {
    result.note = fmt::format("breaking point not reached: every step held{}, up to {}",
                              search.cancelled() ? " until the run was interrupted" : "", describe(*held));
  } else if (search.cancelled()) {
    result.note = "interrupted before the first step ended";
  } else {
    result.note = "no step ran";
  }
  return result;
}

}  // namespace kp::load
