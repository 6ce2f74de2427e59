#pragma once

// The words the evaluation writes into reasons and checklist evidence, shared by evaluation.cpp and
// checklist.cpp so a level reads the same in both ("< 500ms", "10k QPS"). Internal to src/eval.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/criteria.hpp"
#include "core/phase.hpp"

namespace kp::eval::detail {

// The phase a metric id belongs to: the catalog's, else by its prefix ("dns." -> dns); nullopt if neither.
std::optional<Phase> phase_of_metric(std::string_view id);

// Formats a base-unit value of `metric` in `display_unit` (the row's unit; empty: the catalog's).
std::string format_value(std::string_view metric, double value, std::string_view display_unit);

// "< 500ms": a level with its comparison, durations at the scale that suits each level.
std::string level_text(std::string_view metric, config::Comparison comparison, double level,
                       std::string_view unit);
std::string level_text(const config::CriteriaRow& row, double level);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

}  // namespace kp::eval::detail
