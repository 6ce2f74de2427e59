#include "load/criteria_view.hpp"

#include <algorithm>

#include "config/metric_catalog.hpp"

namespace kp::load {

CriteriaView::CriteriaView(std::span<const config::CriteriaRow> rows) : rows_(rows) {
  if (rows_.empty()) {
    Result<config::Criteria> shipped = config::load_criteria(config::default_criteria_path());
    if (shipped) {
      Result<std::vector<config::CriteriaRow>> active = shipped->active_rows(config::TierSelection{});
      if (active) {
        owned_ = std::move(*active);
      }
    }
    rows_ = owned_;
  }
}

const config::CriteriaRow* CriteriaView::row(std::string_view metric) const {
  for (const config::CriteriaRow& row : rows_) {
    if (row.metric == metric) {
      return &row;
    }
  }
  return nullptr;
}

std::optional<double> CriteriaView::critical(std::string_view metric) const {
  const config::CriteriaRow* found = row(metric);
  if (found == nullptr) {
    return std::nullopt;
  }
  return found->critical ? found->critical : found->target;
}

std::optional<double> CriteriaView::tightest_latency_target(Phase phase,
                                                            std::span<const std::string_view> metrics) const {
  std::optional<double> tightest;
  for (const config::CriteriaRow& row : rows_) {
    const config::MetricInfo* info = config::find_metric(row.metric);
    if (info == nullptr || info->phase != phase || info->quantity != Quantity::duration) {
      continue;
    }
    if (row.comparison != config::Comparison::less && row.comparison != config::Comparison::less_equal) {
      continue;
    }
    if (!metrics.empty() && std::find(metrics.begin(), metrics.end(), row.metric) == metrics.end()) {
      continue;
    }
    const std::optional<double> level = row.target ? row.target : row.critical;
    if (level && (!tightest || *level < *tightest)) {
      tightest = level;
    }
  }
  return tightest;
}

}  // namespace kp::load
