#pragma once

// A soak's load profile (the plan's optional `load_profile:`, docs/soak.md): a factor on every phase's `load`
// by soak time, so a soak can replay the shape of a day. Two shapes:
//
//   load_profile:
//     steps:                      # from `at` (soak time) on, every phase runs at its load x factor
//       - {at: 0s, factor: 20%}   # the first step is at 0s; `at` strictly ascending
//       - {at: 8h, factor: 100%}
//
//   load_profile:
//     daily: [20%, 15%, ...]      # 24 factors, one per hour, repeating every 24h of soak time
//
// A factor is above 0 % and at most 100 %: the phases' `load` is the peak of the day and a factor only scales
// it down, so the effective load (load x factor) always stays within a soak's "above 0 % and at most 100 %"
// with nothing to clamp. Soak time is the soak's elapsed time: it survives --resume, and --duration-scale
// (which shortens phases, not the soak) does not move it. A round runs at the factor of its start.
// Without a profile the factor is 100 %: every round runs at the phases' own load.

#include <string>
#include <vector>

#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::config {

struct Plan;

struct LoadStep {
  Duration at{0};  // soak time (daily: time within the day)
  double factor = 1.0;
  friend bool operator==(const LoadStep&, const LoadStep&) = default;
};

struct LoadProfile {
  enum class Shape { steps, daily };
  Shape shape = Shape::steps;
  // Ascending by `at`, the first at 0. daily: 24 steps, one per hour, and the day repeats.
  std::vector<LoadStep> steps;

  // The factor in force `elapsed` into the soak.
  double factor_at(Duration elapsed) const;
  // As people read it: "steps: 20% from 0s, 100% from 8h" or "daily: 20% 15% ... (hours 0-23 of each 24h)".
  std::string text() const;
  friend bool operator==(const LoadProfile&, const LoadProfile&) = default;
};

inline constexpr std::size_t kDailyFactors = 24;

// Reads `load_profile:`. Errors name file:line: field and echo the value, e.g.
//   `plans/x.yaml:9: load_profile.steps[1].at: must be after the step before it (8h), got "4h"`
//   `plans/x.yaml:7: load_profile.daily: must list 24 factors (one per hour), got 23`
//   `plans/x.yaml:8: load_profile.steps[0].factor: must be above 0% and at most 100% (...), got "0%"`
Result<LoadProfile> read_load_profile(const YamlField& field);

// "20%": a factor as the report and messages show it.
std::string factor_text(double factor);

// The factor of a soak round that starts `elapsed` into the soak: the plan's profile's, 1 without one.
double load_factor(const Plan& plan, Duration elapsed);

// `plan` with every phase's load multiplied by `factor` (0 < factor <= 1, so each stays within its bounds).
Plan with_load_factor(Plan plan, double factor);

}  // namespace kp::config
