#pragma once

// What the kernel needs from the criteria, looked up one way: a row's Critical level (where a stress step
// breaks), the tightest latency target of a phase (the validity rule), and whether a rate is judged.
// The orchestrator hands drivers the run's active rows (PhaseContext::criteria). Where no rows are given (an
// agent, a unit test), the shipped criteria with the default tiers apply, so the rule never goes unchecked.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "config/criteria.hpp"
#include "core/phase.hpp"

namespace kp::load {

class CriteriaView {
 public:
  // Empty `rows`: the shipped criteria/default.yaml with the default tiers (empty if it cannot be read).
  explicit CriteriaView(std::span<const config::CriteriaRow> rows);

  const config::CriteriaRow* row(std::string_view metric) const;
  // The row's Critical level in base units (its target where it has no critical level).
  std::optional<double> critical(std::string_view metric) const;
  // The smallest target (critical where a row has none) among the phase's latency rows ("<"/"<=" on a
  // duration), in seconds. `metrics`, when not empty, limits it to those ids (the rows a generator feeds).
  std::optional<double> tightest_latency_target(Phase phase,
                                                std::span<const std::string_view> metrics = {}) const;
  // A row judges this metric.
  bool judged(std::string_view metric) const { return row(metric) != nullptr; }

 private:
  std::vector<config::CriteriaRow> owned_;
  std::span<const config::CriteriaRow> rows_;
};

}  // namespace kp::load
