#pragma once

// Command-line values the agents and `kubeproof http` share, parsed at the edge with one wording for every
// tool: `--rate: not a rate > 0 (or "max"), got "fast"`. Errors are ErrorKind::usage. `flag` is the flag's
// name without the dashes.

#include <optional>
#include <string_view>

#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"

namespace kp {

std::unexpected<Error> flag_error(std::string_view flag, std::string_view message, std::string_view value);

// "max": nullopt (closed loop, as fast as the window allows); otherwise a rate > 0 ("5000", "10k", "1500/s").
Result<std::optional<Rate>> flag_rate_or_max(std::string_view flag, std::string_view text);

// "constant" or "poisson".
Result<Arrival> flag_arrival(std::string_view flag, std::string_view text);

Result<Duration> flag_duration(std::string_view flag, std::string_view text);
// A duration > 0.
Result<Duration> flag_positive_duration(std::string_view flag, std::string_view text);

}  // namespace kp
