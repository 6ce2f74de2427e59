#include <fmt/format.h>

#include "cli/command.hpp"
#include "report/criteria_table.hpp"

namespace kp::cli {
namespace {

struct CriteriaOptions {
  std::string criteria_file;
  TierFlags tiers;
  bool all_tiers = false;
};

bool same_row(const config::CriteriaRow& a, const config::CriteriaRow& b) {
  return a.line == b.line && a.metric == b.metric && a.table == b.table;
}

Outcome print_criteria(const CriteriaOptions& options) {
  std::filesystem::path file = options.criteria_file.empty() ? config::default_criteria_path()
                                                             : std::filesystem::path(options.criteria_file);
  Result<config::Criteria> criteria = config::load_criteria(file);
  if (!criteria) {
    return std::unexpected(criteria.error());
  }
  config::TierSelection tiers = options.tiers.apply(config::TierSelection{});
  Result<std::vector<config::CriteriaRow>> active = criteria->active_rows(tiers);
  if (!active) {
    return std::unexpected(active.error());
  }
  std::vector<report::CriteriaLine> lines;
  if (options.all_tiers) {
    for (const config::CriteriaRow& row : criteria->rows) {
      bool is_active = false;
      for (const config::CriteriaRow& chosen : *active) {
        is_active = is_active || same_row(row, chosen);
      }
      lines.push_back({row, is_active});
    }
  } else {
    for (const config::CriteriaRow& row : *active) {
      lines.push_back({row, true});
    }
  }
  fmt::print("{}", report::render_criteria_table(file, tiers, lines));
  return 0;
}

}  // namespace

Command add_criteria_command(CLI::App& parent) {
  auto options = std::make_shared<CriteriaOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "criteria", "Print every active threshold (target and critical level) that judges a run");
  command.app->add_option("--criteria", options->criteria_file,
                          "Criteria file (default: the shipped criteria/default.yaml)");
  options->tiers.add_to(*command.app);
  command.app->add_flag("--all-tiers", options->all_tiers,
                        "Also list the rows of the tiers that are not selected");
  command.run = [options]() { return print_criteria(*options); };
  return command;
}

}  // namespace kp::cli
