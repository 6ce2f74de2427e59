#include "load/schedule.hpp"

#include <cmath>

#include <fmt/format.h>

namespace kp::load {
namespace {

std::string percent(double fraction) {
  return fmt::format("{:g}%", fraction * 100);
}

std::string rate_text(double per_second, std::string_view unit) {
  std::string text = format_quantity(Quantity::rate, per_second);
  // format_quantity writes "/s"; a phase that counts in QPS or RPS says so.
  if (unit != "/s" && text.ends_with("/s")) {
    text = fmt::format("{} {}", text.substr(0, text.size() - 2), unit);
  }
  return text;
}

}  // namespace

Result<StressSettings> read_stress_settings(const config::YamlField& field) {
  StressSettings settings;
  if (field.is_null()) {
    return settings;
  }
  Result<config::YamlMap> map = config::YamlMap::open(field, {"steps", "bisect"});
  if (!map) {
    return std::unexpected(map.error());
  }
  if (std::optional<config::YamlField> steps = map->get("steps")) {
    Result<std::vector<config::YamlField>> items = steps->items();
    if (!items) {
      return std::unexpected(items.error());
    }
    if (items->empty()) {
      return steps->fail_got("must list at least one step");
    }
    settings.steps.clear();
    for (const config::YamlField& item : *items) {
      Result<Ratio> factor = config::read_ratio(item);
      if (!factor) {
        return std::unexpected(factor.error());
      }
      if (!(factor->fraction > 0) || factor->fraction > kMaxStressFactor) {
        return item.fail_got(fmt::format("must be within 0%..{} of capacity", percent(kMaxStressFactor)));
      }
      if (!settings.steps.empty() && !(factor->fraction > settings.steps.back())) {
        return item.fail_got(
            fmt::format("must be above the step before it ({})", percent(settings.steps.back())));
      }
      settings.steps.push_back(factor->fraction);
    }
  }
  if (std::optional<config::YamlField> bisect = map->get("bisect")) {
    const std::string text = bisect->text();
    char* end = nullptr;
    const long value = bisect->is_scalar() ? std::strtol(text.c_str(), &end, 10) : 0;
    if (!bisect->is_scalar() || text.empty() || end == nullptr || *end != '\0') {
      return bisect->fail_got("not a whole number");
    }
    if (value < 0) {
      return bisect->fail_got("must be >= 0");
    }
    if (value > 10) {
      return bisect->fail_got("must be <= 10 (each extra step halves the interval)");
    }
    settings.bisect = static_cast<int>(value);
  }
  return settings;
}

CapacityRef capacity_ref(std::string field, const std::optional<Rate>& value, std::string unit) {
  CapacityRef ref{.field = std::move(field), .per_second = std::nullopt, .unit = std::move(unit)};
  if (value) {
    ref.per_second = value->per_second;
  }
  return ref;
}

Result<Schedule> resolve_schedule(const ScheduleInput& input) {
  Schedule schedule;
  schedule.type = input.type;
  const std::string where = input.where.empty() ? std::string() : input.where + ": ";
  const std::string_view unit = input.capacity.unit;

  if (input.rate.is_max()) {
    schedule.steps.push_back(Step{.factor = 1.0, .rate = std::nullopt, .duration = input.duration});
    schedule.notes.push_back("rate max: closed loop, as fast as the in-flight window allows");
    if (input.type == config::TestType::stress) {
      schedule.notes.push_back(
          "stress with rate max: one closed-loop step, no ramp (there is no rate to raise)");
    }
    return schedule;
  }

  double base = 0;
  if (input.rate.is_fixed()) {
    base = input.rate.rate.per_second;
  } else {
    if (!input.capacity.per_second.has_value()) {
      return fail(ErrorKind::input,
                  fmt::format("{}{}: is required for {}'s rate (capacity x load), got nothing", where,
                              input.capacity.field, input.owner));
    }
    if (!(*input.capacity.per_second > 0) || !std::isfinite(*input.capacity.per_second)) {
      return fail(ErrorKind::input, fmt::format("{}{}: must be > 0, got \"{}\"", where, input.capacity.field,
                                                rate_text(*input.capacity.per_second, unit)));
    }
    base = *input.capacity.per_second;
  }

  if (input.type != config::TestType::stress) {
    const double rate = input.rate.is_fixed() ? base : base * input.load;
    schedule.base = Rate{base};
    schedule.steps.push_back(Step{
        .factor = input.rate.is_fixed() ? 1.0 : input.load, .rate = Rate{rate}, .duration = input.duration});
    schedule.notes.push_back(input.rate.is_fixed()
                                 ? fmt::format("rate {} (set explicitly)", rate_text(rate, unit))
                                 : fmt::format("rate {} = {} {} x {}", rate_text(rate, unit),
                                               input.capacity.field, rate_text(base, unit),
                                               percent(input.load)));
    return schedule;
  }

  // Stress: the ramp, with the bisection's extra steps given the same length, so a full search ends on time.
  schedule.base = Rate{base};
  schedule.bisect = input.stress.bisect;
  const auto slots = static_cast<std::int64_t>(input.stress.steps.size()) + input.stress.bisect;
  const Duration step = slots > 0 ? input.duration / slots : input.duration;
  schedule.bisect_step_duration = step;
  std::string factors;
  for (double factor : input.stress.steps) {
    schedule.steps.push_back(Step{.factor = factor, .rate = Rate{base * factor}, .duration = step});
    factors += (factors.empty() ? "" : ", ") + percent(factor);
  }
  schedule.notes.push_back(
      fmt::format("stress ramp: {} of {} {} ({}), {} each, then up to {} bisection step{} between the last "
                  "held and the first "
                  "broken",
                  factors, input.rate.is_fixed() ? "the explicit rate" : input.capacity.field,
                  rate_text(base, unit), input.rate.is_fixed() ? "set explicitly" : "capacity",
                  format_duration(step), input.stress.bisect, input.stress.bisect == 1 ? "" : "s"));
  return schedule;
}

}  // namespace kp::load
