#pragma once

// The resolver: (rate setting, capacity, load, test type, duration) -> the schedule of one load series, the
// same in every phase.
//   smoke and load: one steady step at capacity x load for the whole duration;
//   stress: a ramp of steps, by default 100 %..200 % of capacity in 25 % steps, or the plan's own
//   `stress.steps`;
//           the duration is split evenly over the ramp's steps and the bisection's extra steps, so a search
//           that runs every step ends on time (breaking_point.hpp runs the search);
//   an explicit rate replaces capacity x load (stress: the ramp multiplies the explicit rate);
//   max runs closed loop, one steady step (stress: one step: there is no rate to ramp).
// A phase names its capacity field (CapacityRef) and converts a step's rate into its own knob.
//
// Settings, in a phase's `settings:`:
//   stress:
//     steps: [100%, 125%, 150%, 175%, 200%]  # multiples of capacity, strictly ascending, each in (0 %, 500
//     %] bisect: 3                             # extra short steps between the last held and the first broken
//     step

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/plan.hpp"
#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "load/rate_setting.hpp"

namespace kp::load {

// The highest ramp step accepted: five times capacity.
inline constexpr double kMaxStressFactor = 5.0;

struct StressSettings {
  std::vector<double> steps = {1.0, 1.25, 1.5, 1.75, 2.0};
  int bisect = 3;
  friend bool operator==(const StressSettings&, const StressSettings&) = default;
};

// Reads a `stress:` mapping (keys `steps`, `bisect`). Errors name file:line: field and echo the value:
//   `...stress.steps[2]: must be above the step before it (150%), got "125%"`
//   `...stress.steps[0]: must be within 0%..500% of capacity, got "600%"`
//   `...stress.bisect: must be >= 0, got "-1"`
Result<StressSettings> read_stress_settings(const config::YamlField& field);

// The capacity field a phase's load derives from, and its value when the plan states one.
struct CapacityRef {
  std::string field;                 // "capacity.dns_qps": for messages and notes
  std::optional<double> per_second;  // unset: the plan does not state it
  std::string unit = "/s";           // how the phase counts: "/s", "QPS", "RPS", "IOPS"
};

// Takes a capacity field from the plan: `plan.capacity.dns_qps` -> {"capacity.dns_qps", 10000}.
CapacityRef capacity_ref(std::string field, const std::optional<Rate>& value, std::string unit = "/s");

struct Step {
  double factor = 1.0;       // the step's multiple of capacity (or of the explicit rate); 1 for a steady run
  std::optional<Rate> rate;  // unset: closed loop (max)
  Duration duration{0};
  bool bisection = false;  // an extra step of the breaking-point search
};

struct Schedule {
  config::TestType type = config::TestType::smoke;
  // smoke and load: one step. stress: the ramp, lowest first (the search may stop before the last, and adds
  // bisection steps of `bisect_step_duration` as it goes).
  std::vector<Step> steps;
  int bisect = 0;
  Duration bisect_step_duration{0};
  std::optional<Rate> base;        // capacity x 1 (or the explicit rate): what a stress factor multiplies
  std::vector<std::string> notes;  // "rate 1k/s = capacity.dns_qps 10k/s x 10 %"

  bool stress() const { return type == config::TestType::stress && steps.size() > 0 && base.has_value(); }
  bool closed_loop() const { return !steps.empty() && !steps.front().rate.has_value(); }
  // The steady step's rate (the first step's, for stress).
  std::optional<Rate> rate() const { return steps.empty() ? std::nullopt : steps.front().rate; }
};

struct ScheduleInput {
  RateSetting rate;
  CapacityRef capacity;
  double load = 1.0;  // the phase's load, a fraction of capacity
  config::TestType type = config::TestType::smoke;
  Duration duration{0};
  StressSettings stress;
  // Where a missing capacity is reported: the plan file ("plans/load.yaml"), or "" for an agent.
  std::string where;
  std::string owner = "the phase";  // whose rate it is, for the message: "the dns phase"
};

// Errors (ErrorKind::input): the rate derives from capacity and the plan states none, or 0:
//   `plans/load.yaml: capacity.dns_qps: is required for the dns phase's rate (capacity x load), got nothing`
//   `plans/load.yaml: capacity.dns_qps: must be > 0, got "0/s"`
Result<Schedule> resolve_schedule(const ScheduleInput& input);

}  // namespace kp::load
