#include "report/criteria_table.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <array>

#include "config/metric_catalog.hpp"
#include "report/report_text.hpp"

namespace kp::report {
namespace {

constexpr std::size_t kColumns = 8;

Phase phase_of(const config::CriteriaRow& row) {
  const config::MetricInfo* info = config::find_metric(row.metric);
  return info == nullptr ? Phase::etcd : info->phase;
}

std::string padded(std::string_view text, std::size_t width) {
  std::string out(text);
  std::size_t shown = detail::display_width(text);
  if (shown < width) {
    out.append(width - shown, ' ');
  }
  return out;
}

}  // namespace

std::string render_criteria_table(const std::filesystem::path& source, const config::TierSelection& tiers,
                                  const std::vector<CriteriaLine>& lines) {
  // Flow order first (the order a run judges them), the criteria file's order within a phase.
  std::vector<const CriteriaLine*> ordered;
  for (const CriteriaLine& line : lines) {
    ordered.push_back(&line);
  }
  std::stable_sort(ordered.begin(), ordered.end(), [](const CriteriaLine* a, const CriteriaLine* b) {
    return phase_of(a->row) < phase_of(b->row);
  });

  std::vector<std::array<std::string, kColumns>> cells;
  cells.push_back({"PHASE", "METRIC", "TABLE", "CRITERION", "TARGET", "CRITICAL", "TIER", "REFERENCE"});
  for (const CriteriaLine* line : ordered) {
    const config::CriteriaRow& row = line->row;
    std::string criterion =
        row.component.empty() ? row.label : fmt::format("{}: {}", row.component, row.label);
    if (!row.note.empty()) {
      criterion += fmt::format(" ({})", row.note);
    }
    std::string tier = "-";
    if (row.tier) {
      tier = fmt::format("{}={}{}", row.tier->group, row.tier->name, line->active ? "" : " (not selected)");
    }
    cells.push_back({std::string(to_string(phase_of(row))), row.metric, row.table, criterion,
                     row.target ? detail::format_level(row, row.target) : std::string("-"),
                     row.critical ? detail::format_level(row, row.critical) : std::string("none defined"),
                     tier, row.reference.empty() ? std::string("-") : row.reference});
  }

  std::array<std::size_t, kColumns> widths{};
  for (const auto& row : cells) {
    for (std::size_t i = 0; i < kColumns; ++i) {
      widths[i] = std::max(widths[i], detail::display_width(row[i]));
    }
  }

  std::string out = fmt::format("criteria: {}\ntiers: {}\n\n", source.string(), detail::tiers_text(tiers));
  for (const auto& row : cells) {
    std::string text;
    for (std::size_t i = 0; i < kColumns; ++i) {
      text += i + 1 == kColumns ? row[i] : padded(row[i], widths[i]) + "  ";
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text + "\n";
  }
  return out;
}

}  // namespace kp::report
