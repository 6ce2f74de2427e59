#pragma once

// The unit tables that both parsing (units.cpp) and formatting (units_format.cpp) read, so "ms" or "MB/s"
// means the same factor in both directions. Internal to src/core.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kp::detail {

// ASCII case-insensitive equality ("QPS" == "qps").
bool iequals(std::string_view a, std::string_view b);

struct DurationUnit {
  std::string_view name;
  std::uint64_t ns;
};

// Longest names first so "ms" is not read as "m" followed by garbage.
inline constexpr std::array<DurationUnit, 9> kDurationUnits = {{
    {"ns", 1},
    {"us", 1'000},
    {"\xC2\xB5s", 1'000},  // µs (micro sign)
    {"\xCE\xBCs", 1'000},  // μs (Greek mu)
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
    {"d", 86'400'000'000'000},
}};

// Bytes in one `unit` ("KiB" -> 1024, "MB" -> 1e6, "" or "B" -> 1); nullopt if not a size unit.
std::optional<std::uint64_t> size_unit_factor(std::string_view unit);

// Bits per second for one unit of `unit` ("Gbps" -> 1e9, "MB/s" -> 8e6, "GiB/s" -> 8 * 2^30).
std::optional<double> bandwidth_unit_factor(std::string_view unit);

}  // namespace kp::detail
