#include "load/rate_setting.hpp"

#include <fmt/format.h>

#include "core/flag_values.hpp"

namespace kp::load {
namespace {

constexpr std::string_view kExpected = "not a rate > 0 (or \"max\", \"capacity\")";

}  // namespace

Result<RateSetting> parse_rate_setting(std::string_view text) {
  if (text == "max") {
    return RateSetting::maximum();
  }
  if (text == "capacity") {
    return RateSetting::from_capacity();
  }
  Result<Rate> rate = parse_rate(text);
  if (!rate || !(rate->per_second > 0)) {
    return fail(ErrorKind::input, fmt::format("{}, got \"{}\"", kExpected, text));
  }
  return RateSetting::fixed_at(*rate);
}

Result<RateSetting> read_rate_setting(const config::YamlField& field) {
  if (!field.is_scalar()) {
    return field.fail_got(kExpected);
  }
  Result<RateSetting> setting = parse_rate_setting(field.text());
  if (!setting) {
    return field.fail_got(kExpected);
  }
  return *setting;
}

Result<RateSetting> flag_rate_setting(std::string_view flag, std::string_view text) {
  Result<RateSetting> setting = parse_rate_setting(text);
  if (!setting) {
    return flag_error(flag, kExpected, text);
  }
  return *setting;
}

Result<RateSetting> agent_rate_setting(std::string_view flag, std::string_view text) {
  Result<RateSetting> setting = flag_rate_setting(flag, text);
  if (setting && setting->from_capacity_load()) {
    return flag_error(flag, "an agent has no plan, so no capacity to scale: give a rate > 0 or max", text);
  }
  return setting;
}

std::string to_string(const RateSetting& setting) {
  switch (setting.kind) {
    case RateSetting::Kind::capacity:
      return "capacity x load";
    case RateSetting::Kind::max:
      return "max";
    case RateSetting::Kind::fixed:
      return format_quantity(Quantity::rate, setting.rate.per_second);
  }
  return "?";
}

}  // namespace kp::load
