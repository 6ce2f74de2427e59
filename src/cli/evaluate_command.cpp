#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/measurements_file.hpp"
#include "cli/report_output.hpp"
#include "core/clock.hpp"
#include "eval/evaluation.hpp"

namespace kp::cli {
namespace {

struct EvaluateOptions {
  std::string measurements_file;
  std::string criteria_file;
  TierFlags tiers;
  OutputOptions output;
};

// Judges imported values exactly as a run judges its own: same criteria, same verdict rules, same reports.
Outcome evaluate_file(const EvaluateOptions& options) {
  WallTime started = real_clock().wall_now();
  Result<ImportedMeasurements> imported = load_measurements(options.measurements_file);
  if (!imported) {
    return std::unexpected(imported.error());
  }
  std::filesystem::path criteria_file = options.criteria_file.empty()
                                            ? config::default_criteria_path()
                                            : std::filesystem::path(options.criteria_file);
  Result<config::Criteria> criteria = config::load_criteria(criteria_file);
  if (!criteria) {
    return std::unexpected(criteria.error());
  }
  config::TierSelection tiers = options.tiers.apply(config::TierSelection{});
  Result<std::vector<config::CriteriaRow>> rows = criteria->active_rows(tiers);
  if (!rows) {
    return std::unexpected(rows.error());
  }

  eval::EvaluationOptions evaluation_options;
  evaluation_options.tiers = tiers;
  evaluation_options.soak_duration = imported->soak_duration;
  // The load level behind imported values is unknown: test_type stays empty and the checklist says so.

  report::RunReport report;
  report.meta.tool_version = KP_VERSION;
  report.meta.command = "evaluate";
  report.meta.profile = "imported";
  report.meta.target = "imported";
  report.meta.criteria_file = criteria_file;
  report.meta.measurements_file = options.measurements_file;
  report.meta.tiers = tiers;
  report.meta.started = started;
  report.evaluation = eval::evaluate(imported->inputs, *rows, evaluation_options);
  report.inputs = std::move(imported->inputs);
  report.meta.finished = real_clock().wall_now();
  return deliver_report(report, options.output);
}

}  // namespace

Command add_evaluate_command(CLI::App& parent) {
  auto options = std::make_shared<EvaluateOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "evaluate", "Judge measured values from a JSON file against the criteria and write the reports");
  command.app->footer(
      "The file: {\"measurements\": {\"etcd.write.p99\": \"30ms\", \"dns.qps\": 12000, ...}}\n"
      "Numbers are base units (s, 1/s, ratio, bit/s); strings carry units (30ms, 10k, 5Gbps, 96%).\n"
      "Exit codes: 0 PASS, 1 FAIL, 2 usage or input error, 3 CONDITIONAL PASS, 4 incomplete or invalid.");
  command.app->add_option("--measurements", options->measurements_file, "The measurements JSON file")
      ->required();
  command.app->add_option("--criteria", options->criteria_file,
                          "Criteria file (default: the shipped criteria/default.yaml)");
  options->tiers.add_to(*command.app);
  add_output_options(*command.app, options->output);
  command.run = [options]() { return evaluate_file(*options); };
  return command;
}

}  // namespace kp::cli
