#pragma once

// The table `kubeproof criteria` prints: every threshold that will judge a run, in flow order.

#include <filesystem>
#include <string>
#include <vector>

#include "config/criteria.hpp"

namespace kp::report {

struct CriteriaLine {
  config::CriteriaRow row;
  bool active = true;  // false: a row of a tier that is not selected (shown only with --all-tiers)
};

// An aligned text table: phase, metric, table, criterion, target, critical, tier, reference.
std::string render_criteria_table(const std::filesystem::path& source, const config::TierSelection& tiers,
                                  const std::vector<CriteriaLine>& lines);

}  // namespace kp::report
