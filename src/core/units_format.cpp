// Formatting base-unit values for people (units.hpp: format_quantity, format_duration).

#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "core/unit_tables.hpp"
#include "core/units.hpp"

namespace kp {
namespace {

using detail::bandwidth_unit_factor;
using detail::DurationUnit;
using detail::kDurationUnits;
using detail::size_unit_factor;

// Two decimals, except for small non-zero values where two decimals would print 0.00.
std::string fixed2(double value) {
  if (value != 0 && std::fabs(value) < 0.1) {
    return fmt::format("{:.3g}", value);
  }
  return fmt::format("{:.2f}", value);
}

// Up to two decimals with trailing zeros removed: 1500 -> "1500", 12.345 -> "12.35", 0.5 -> "0.5".
std::string trimmed(double value) {
  std::string text = fmt::format("{:.2f}", value);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') {
      text.pop_back();
    }
    if (text.back() == '.') {
      text.pop_back();
    }
  }
  if (text == "-0") {
    text = "0";
  }
  return text;
}

std::string format_rate(double per_second, std::string_view display_unit) {
  std::string number;
  if (display_unit == "k") {
    return trimmed(per_second / 1e3) + "k/s";
  }
  const double magnitude = std::fabs(per_second);
  if (magnitude >= 1e9) {
    number = trimmed(per_second / 1e9) + "G";
  } else if (magnitude >= 1e6) {
    number = trimmed(per_second / 1e6) + "M";
  } else if (magnitude >= 1e4) {
    number = trimmed(per_second / 1e3) + "k";
  } else {
    number = trimmed(per_second);
  }
  if (display_unit.empty() || display_unit == "/s") {
    return number + "/s";
  }
  return fmt::format("{} {}", number, display_unit);
}

std::string format_bandwidth(double bps, std::string_view display_unit) {
  if (!display_unit.empty()) {
    if (auto factor = bandwidth_unit_factor(display_unit)) {
      return fixed2(bps / *factor) + std::string(display_unit);
    }
  }
  const double magnitude = std::fabs(bps);
  if (magnitude >= 1e12) {
    return fixed2(bps / 1e12) + "Tbps";
  }
  if (magnitude >= 1e9) {
    return fixed2(bps / 1e9) + "Gbps";
  }
  if (magnitude >= 1e6) {
    return fixed2(bps / 1e6) + "Mbps";
  }
  if (magnitude >= 1e3) {
    return fixed2(bps / 1e3) + "kbps";
  }
  return fixed2(bps) + "bps";
}

std::string format_size(double bytes, std::string_view display_unit) {
  if (!display_unit.empty()) {
    if (auto factor = size_unit_factor(display_unit)) {
      return trimmed(bytes / static_cast<double>(*factor)) + std::string(display_unit);
    }
  }
  constexpr std::array<std::string_view, 6> kNames = {"EiB", "PiB", "TiB", "GiB", "MiB", "KiB"};
  double factor = std::ldexp(1.0, 60);
  for (std::string_view name : kNames) {
    if (std::fabs(bytes) >= factor) {
      return trimmed(bytes / factor) + std::string(name);
    }
    factor /= 1024;
  }
  return trimmed(bytes) + "B";
}

std::string format_seconds(double seconds, std::string_view display_unit) {
  for (const DurationUnit& unit : kDurationUnits) {
    if (unit.name == display_unit) {
      return fixed2(seconds * 1e9 / static_cast<double>(unit.ns)) + std::string(display_unit);
    }
  }
  if (display_unit == "min") {
    return fixed2(seconds / 60) + "min";
  }
  if (std::fabs(seconds) < 9.2e9) {
    return format_duration(Duration(std::llround(seconds * 1e9)));
  }
  return fixed2(seconds) + "s";
}

}  // namespace

std::string format_quantity(Quantity quantity, double base_value, std::string_view display_unit) {
  switch (quantity) {
    case Quantity::duration:
      return format_seconds(base_value, display_unit);
    case Quantity::rate:
      return format_rate(base_value, display_unit);
    case Quantity::ratio: {
      if (display_unit.empty() || display_unit == "%") {
        return fixed2(base_value * 100) + "%";
      }
      return fmt::format("{:.4g}", base_value);
    }
    case Quantity::bandwidth:
      return format_bandwidth(base_value, display_unit);
    case Quantity::count: {
      const std::string number = std::isfinite(base_value) && std::fabs(base_value) < 9e18
                                     ? fmt::format("{}", std::llround(base_value))
                                     : fmt::format("{}", base_value);
      return display_unit.empty() ? number : fmt::format("{} {}", number, display_unit);
    }
    case Quantity::size:
      return format_size(base_value, display_unit);
  }
  return fmt::format("{}", base_value);
}

std::string format_duration(Duration duration) {
  const std::int64_t ns = duration.count();
  if (ns < 0) {
    // fmt rather than "-" + string: g++ 12 at -O3 reports a false -Wrestrict on the latter.
    const std::int64_t magnitude =
        ns == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max() : -ns;
    return fmt::format("-{}", format_duration(Duration(magnitude)));
  }
  if (ns < 1'000) {
    return fmt::format("{}ns", ns);
  }
  const auto value = static_cast<double>(ns);
  if (ns < 1'000'000) {
    return fmt::format("{:.2f}us", value / 1e3);
  }
  if (ns < 1'000'000'000) {
    return fmt::format("{:.2f}ms", value / 1e6);
  }
  if (ns < 60'000'000'000) {
    return fmt::format("{:.2f}s", value / 1e9);
  }
  // A minute or more: "2m30s", "1h30m", "1h0m5s"; sub-second digits would only be noise at this scale.
  // Rounded to the nearest second without adding first: ns + 0.5 s overflows near the int64 maximum.
  const std::int64_t total_seconds = ns / 1'000'000'000 + (ns % 1'000'000'000 >= 500'000'000 ? 1 : 0);
  const std::int64_t hours = total_seconds / 3600;
  const std::int64_t minutes = (total_seconds % 3600) / 60;
  const std::int64_t seconds = total_seconds % 60;
  std::string text;
  if (hours > 0) {
    text += fmt::format("{}h", hours);
  }
  if (minutes > 0 || (hours > 0 && seconds > 0)) {
    text += fmt::format("{}m", minutes);
  }
  if (seconds > 0) {
    text += fmt::format("{}s", seconds);
  }
  return text;
}

}  // namespace kp
