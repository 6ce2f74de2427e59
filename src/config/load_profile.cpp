#include "config/load_profile.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "config/plan.hpp"

namespace kp::config {
namespace {

using namespace std::chrono_literals;

constexpr Duration kDay = 24h;

// Factors are parsed from percentages ("100%" -> 1.0); the slack keeps 100 % inside whatever the rounding.
constexpr double kFactorSlack = 1e-9;

constexpr std::string_view kFactorRule =
    "must be above 0% and at most 100% (it scales every phase's load, which is the peak)";

// "8h", "90m", "3s": a step's time as written in a plan, never "0ns".
std::string at_text(Duration at) {
  if (at == Duration::zero()) {
    return "0s";
  }
  if (at % 1h == Duration::zero()) {
    return fmt::format("{}h", std::chrono::duration_cast<std::chrono::hours>(at).count());
  }
  if (at % 1min == Duration::zero()) {
    return fmt::format("{}m", std::chrono::duration_cast<std::chrono::minutes>(at).count());
  }
  if (at % 1s == Duration::zero()) {
    return fmt::format("{}s", std::chrono::duration_cast<std::chrono::seconds>(at).count());
  }
  return format_duration(at);
}

Result<double> read_factor(const YamlField& field) {
  auto ratio = read_ratio(field);
  if (!ratio) {
    return std::unexpected(ratio.error());
  }
  if (!(ratio->fraction > 0) || ratio->fraction > 1.0 + kFactorSlack) {
    return field.fail_got(kFactorRule);
  }
  return std::min(ratio->fraction, 1.0);
}

Result<std::vector<LoadStep>> read_steps(const YamlField& field) {
  auto entries = field.items();
  if (!entries) {
    return std::unexpected(entries.error());
  }
  if (entries->empty()) {
    return field.fail("must list at least one step, got none");
  }
  std::vector<LoadStep> steps;
  for (const YamlField& entry : *entries) {
    auto map = YamlMap::open(entry, {"at", "factor"});
    if (!map) {
      return std::unexpected(map.error());
    }
    auto at_field = map->require("at");
    if (!at_field) {
      return std::unexpected(at_field.error());
    }
    auto at = read_duration(*at_field);
    if (!at) {
      return std::unexpected(at.error());
    }
    if (steps.empty() && *at != Duration::zero()) {
      // Before a first step at 1h the factor would be a guess: the profile says it from the start.
      return at_field->fail_got("the first step must be at 0s (the factor from the soak's start)");
    }
    if (!steps.empty() && *at <= steps.back().at) {
      return at_field->fail_got(
          fmt::format("must be after the step before it ({})", at_text(steps.back().at)));
    }
    auto factor_field = map->require("factor");
    if (!factor_field) {
      return std::unexpected(factor_field.error());
    }
    auto factor = read_factor(*factor_field);
    if (!factor) {
      return std::unexpected(factor.error());
    }
    steps.push_back(LoadStep{.at = *at, .factor = *factor});
  }
  return steps;
}

Result<std::vector<LoadStep>> read_daily(const YamlField& field) {
  auto entries = field.items();
  if (!entries) {
    return std::unexpected(entries.error());
  }
  if (entries->size() != kDailyFactors) {
    return field.fail(fmt::format("must list {} factors (one per hour of the day), got {}", kDailyFactors,
                                  entries->size()));
  }
  std::vector<LoadStep> steps;
  for (std::size_t hour = 0; hour < entries->size(); ++hour) {
    auto factor = read_factor((*entries)[hour]);
    if (!factor) {
      return std::unexpected(factor.error());
    }
    steps.push_back(LoadStep{.at = std::chrono::hours(hour), .factor = *factor});
  }
  return steps;
}

}  // namespace

std::string factor_text(double factor) {
  return fmt::format("{:g}%", factor * 100.0);
}

double LoadProfile::factor_at(Duration elapsed) const {
  if (steps.empty()) {
    return 1.0;
  }
  Duration at = std::max(elapsed, Duration::zero());
  if (shape == Shape::daily) {
    at %= kDay;
  }
  // The last step at or before `at`; the first is at 0, so there is always one.
  auto after = std::ranges::upper_bound(steps, at, {}, &LoadStep::at);
  return after == steps.begin() ? steps.front().factor : std::prev(after)->factor;
}

std::string LoadProfile::text() const {
  std::string out;
  if (shape == Shape::daily) {
    out = "daily:";
    for (const LoadStep& step : steps) {
      out += " " + factor_text(step.factor);
    }
    return out + " (hours 0-23 of each 24h of the soak)";
  }
  out = "steps:";
  for (const LoadStep& step : steps) {
    out +=
        fmt::format("{} {} from {}", out.size() > 6 ? "," : "", factor_text(step.factor), at_text(step.at));
  }
  return out;
}

Result<LoadProfile> read_load_profile(const YamlField& field) {
  auto map = YamlMap::open(field, {"steps", "daily"});
  if (!map) {
    return std::unexpected(map.error());
  }
  const std::optional<YamlField> steps = map->get("steps");
  const std::optional<YamlField> daily = map->get("daily");
  if (steps.has_value() == daily.has_value()) {
    return steps ? field.fail("give either steps or daily, not both")
                 : field.fail_got("must have steps or daily");
  }
  LoadProfile profile;
  profile.shape = steps ? LoadProfile::Shape::steps : LoadProfile::Shape::daily;
  auto read = steps ? read_steps(*steps) : read_daily(*daily);
  if (!read) {
    return std::unexpected(read.error());
  }
  profile.steps = std::move(*read);
  return profile;
}

double load_factor(const Plan& plan, Duration elapsed) {
  return plan.load_profile ? plan.load_profile->factor_at(elapsed) : 1.0;
}

Plan with_load_factor(Plan plan, double factor) {
  for (PhasePlan& phase : plan.phases) {
    phase.load *= factor;
  }
  return plan;
}

}  // namespace kp::config
