#include "eval/eval_text.hpp"

#include <utility>

#include <fmt/format.h>

#include "config/metric_catalog.hpp"
#include "core/units.hpp"

namespace kp::eval::detail {
namespace {

// Levels are round numbers from the criteria file: "500ms" reads better than the "500.00ms" that suits a
// measured value, so the first number's trailing fractional zeros go.
std::string trim_zeros(std::string text) {
  const std::size_t start = text.find_first_of("0123456789");
  if (start == std::string::npos) {
    return text;
  }
  std::size_t end = text.find_first_not_of("0123456789", start);
  if (end == std::string::npos || text[end] != '.') {
    return text;
  }
  const std::size_t dot = end;
  end = text.find_first_not_of("0123456789", dot + 1);
  if (end == std::string::npos) {
    end = text.size();
  }
  std::size_t keep = end;
  while (keep > dot + 1 && text[keep - 1] == '0') {
    --keep;
  }
  if (keep == dot + 1) {
    keep = dot;
  }
  return text.erase(keep, end - keep);
}

}  // namespace

// The catalog knows every shipped id; a row or measurement with an id it does not know (the loaders reject
// those, but evaluate() is also a library entry point) is placed by its prefix so it is never silently lost.
std::optional<Phase> phase_of_metric(std::string_view id) {
  if (const config::MetricInfo* info = config::find_metric(id); info != nullptr) {
    return info->phase;
  }
  static constexpr std::pair<std::string_view, Phase> kPrefixes[] = {
      {"etcd.", Phase::etcd}, {"api.", Phase::api},         {"net.", Phase::network},
      {"dns.", Phase::dns},   {"storage.", Phase::storage}, {"ingress.", Phase::ingress}};
  for (const auto& [prefix, phase] : kPrefixes) {
    if (id.starts_with(prefix)) {
      return phase;
    }
  }
  return std::nullopt;
}

// Formats a base-unit value of `metric` in `display_unit` (the row's unit; empty: the catalog's).
std::string format_value(std::string_view metric, double value, std::string_view display_unit) {
  const config::MetricInfo* info = config::find_metric(metric);
  if (info == nullptr) {
    return display_unit.empty() ? fmt::format("{:g}", value) : fmt::format("{:g} {}", value, display_unit);
  }
  return format_quantity(info->quantity, value, display_unit.empty() ? info->display_unit : display_unit);
}

// "< 500ms". Duration levels take the scale that suits each level, as the seed writes them ("< 500ms" and
// "< 1s" in one row), rather than the row's display unit ("< 1000ms").
std::string level_text(std::string_view metric, config::Comparison comparison, double level,
                       std::string_view unit) {
  const config::MetricInfo* info = config::find_metric(metric);
  const std::string text = info != nullptr && info->quantity == Quantity::duration
                               ? format_quantity(Quantity::duration, level)
                               : format_value(metric, level, unit);
  return fmt::format("{} {}", config::to_string(comparison), trim_zeros(text));
}

std::string level_text(const config::CriteriaRow& row, double level) {
  return level_text(row.metric, row.comparison, level, row.unit);
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& part : parts) {
    if (!out.empty()) {
      out += separator;
    }
    out += part;
  }
  return out;
}

}  // namespace kp::eval::detail
