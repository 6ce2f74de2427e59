#include "core/flag_values.hpp"

#include <fmt/format.h>

namespace kp {

std::unexpected<Error> flag_error(std::string_view flag, std::string_view message, std::string_view value) {
  return fail(ErrorKind::usage, fmt::format("--{}: {}, got \"{}\"", flag, message, value));
}

Result<std::optional<Rate>> flag_rate_or_max(std::string_view flag, std::string_view text) {
  if (text == "max") {
    return std::optional<Rate>();
  }
  Result<Rate> rate = parse_rate(text);
  if (!rate || !(rate->per_second > 0)) {
    return flag_error(flag, "not a rate > 0 (or \"max\")", text);
  }
  return std::optional<Rate>(*rate);
}

Result<Arrival> flag_arrival(std::string_view flag, std::string_view text) {
  if (text == "constant") {
    return Arrival::constant;
  }
  if (text == "poisson") {
    return Arrival::poisson;
  }
  return flag_error(flag, "must be constant or poisson", text);
}

Result<Duration> flag_duration(std::string_view flag, std::string_view text) {
  Result<Duration> value = parse_duration(text);
  if (!value) {
    return flag_error(flag, "not a duration", text);
  }
  return *value;
}

Result<Duration> flag_positive_duration(std::string_view flag, std::string_view text) {
  Result<Duration> value = parse_duration(text);
  if (!value || value->count() <= 0) {
    return flag_error(flag, "not a duration > 0", text);
  }
  return *value;
}

}  // namespace kp
