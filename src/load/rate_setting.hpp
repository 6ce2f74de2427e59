#pragma once

// How a phase's load rate is set, read one way from a plan's `settings:` and from an agent's flags:
//   rate: 1500/s     an explicit rate (operations, requests or queries per second: the phase says which)
//   rate: max        closed loop: as fast as the window of in-flight requests allows
//   rate: capacity   (or no `rate` key) capacity x load: the plan's capacity field for the phase, scaled by
//   the
//                    test type's load (schedule.hpp resolves it)
// Messages name the file, line and field, or the flag, and echo the value:
//   plans/x.yaml:14: phases[3].settings.rate: not a rate > 0 (or "max", "capacity"), got "fast"
//   --rate: not a rate > 0 (or "max", "capacity"), got "fast"

#include <string_view>

#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::load {

struct RateSetting {
  enum class Kind {
    capacity,  // capacity x load (the default)
    fixed,     // an explicit rate
    max,       // closed loop
  };
  Kind kind = Kind::capacity;
  Rate rate{};  // Kind::fixed only; > 0

  static RateSetting from_capacity() { return {}; }
  static RateSetting fixed_at(Rate rate) { return {Kind::fixed, rate}; }
  static RateSetting maximum() { return {Kind::max, {}}; }
  bool is_max() const { return kind == Kind::max; }
  bool is_fixed() const { return kind == Kind::fixed; }
  bool from_capacity_load() const { return kind == Kind::capacity; }
  friend bool operator==(const RateSetting&, const RateSetting&) = default;
};

// "max", "capacity" or a rate > 0 ("5000", "10k", "1500/s"). The error text has no location: the readers
// below add it.
Result<RateSetting> parse_rate_setting(std::string_view text);

// A plan's `rate:` value (absent keys are the caller's: they mean RateSetting::from_capacity()).
Result<RateSetting> read_rate_setting(const config::YamlField& field);

// An agent's `--rate` flag (ErrorKind::usage). `flag` is the name without dashes.
Result<RateSetting> flag_rate_setting(std::string_view flag, std::string_view text);

// An agent's `--rate`: flag_rate_setting, and "capacity" is refused with the one text every agent gives
// (an agent is handed its resolved rate: it has no plan, so no capacity to scale).
Result<RateSetting> agent_rate_setting(std::string_view flag, std::string_view text);

// For people: "1500/s", "max", "capacity x load".
std::string to_string(const RateSetting& setting);

}  // namespace kp::load
