#include "core/unit_tables.hpp"

namespace kp::detail {
namespace {

struct Prefix {
  std::string_view name;
  std::uint64_t factor;
};

// Decimal and binary prefixes; longest match wins ("Ki" before "K").
constexpr std::array<Prefix, 14> kPrefixes = {{
    {"", 1},
    {"k", 1'000},
    {"K", 1'000},
    {"M", 1'000'000},
    {"G", 1'000'000'000},
    {"T", 1'000'000'000'000},
    {"P", 1'000'000'000'000'000},
    {"E", 1'000'000'000'000'000'000},
    {"Ki", std::uint64_t{1} << 10},
    {"Mi", std::uint64_t{1} << 20},
    {"Gi", std::uint64_t{1} << 30},
    {"Ti", std::uint64_t{1} << 40},
    {"Pi", std::uint64_t{1} << 50},
    {"Ei", std::uint64_t{1} << 60},
}};

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    const char y = (b[i] >= 'A' && b[i] <= 'Z') ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) {
      return false;
    }
  }
  return true;
}

std::optional<std::uint64_t> size_unit_factor(std::string_view unit) {
  if (unit.empty() || unit == "B" || iequals(unit, "bytes") || iequals(unit, "byte")) {
    return 1;
  }
  std::string_view base = unit;
  if (base.ends_with("B")) {
    base.remove_suffix(1);
  }
  for (const Prefix& prefix : kPrefixes) {
    if (!prefix.name.empty() && base == prefix.name) {
      return prefix.factor;
    }
  }
  return std::nullopt;
}

std::optional<double> bandwidth_unit_factor(std::string_view unit) {
  if (unit.empty()) {
    return 1.0;
  }
  struct Base {
    std::string_view name;
    double bits;
  };
  constexpr std::array<Base, 8> kBases = {{
      {"bps", 1},
      {"bit/s", 1},
      {"bits/s", 1},
      {"b/s", 1},
      {"Bps", 8},
      {"B/s", 8},
      {"byte/s", 8},
      {"bytes/s", 8},
  }};
  for (const Base& base : kBases) {
    if (!unit.ends_with(base.name)) {
      continue;
    }
    const std::string_view prefix = unit.substr(0, unit.size() - base.name.size());
    for (const Prefix& candidate : kPrefixes) {
      if (prefix == candidate.name) {
        return base.bits * static_cast<double>(candidate.factor);
      }
    }
  }
  return std::nullopt;
}

}  // namespace kp::detail
