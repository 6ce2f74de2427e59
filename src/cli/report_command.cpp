// `kubeproof report RESULTS_DIR --format html`: regenerates a report from the folder's report.json, e.g.
// after an upgrade that improved report.html, or for a folder copied from CI.

#include <fmt/format.h>

#include "cli/command.hpp"
#include "report/report_file.hpp"
#include "report/run_report.hpp"

namespace kp::cli {
namespace {

struct ReportOptions {
  std::string results;
  std::string format = "html";
};

Outcome regenerate(const ReportOptions& options) {
  Result<nlohmann::ordered_json> json = report::load_report_json(options.results);
  if (!json) {
    return std::unexpected(json.error());
  }
  const std::filesystem::path folder = std::filesystem::is_directory(options.results)
                                           ? std::filesystem::path(options.results)
                                           : std::filesystem::path(options.results).parent_path();
  const std::filesystem::path out = folder / "report.html";
  if (Result<void> written = report::write_file_atomically(out, report::render_html(*json)); !written) {
    return std::unexpected(written.error());
  }
  fmt::print(stderr, "report: {}\n", out.string());
  return 0;
}

}  // namespace

Command add_report_command(CLI::App& parent) {
  auto options = std::make_shared<ReportOptions>();
  Command command;
  command.app = parent.add_subcommand("report", "Regenerate a report from a results folder's report.json");
  command.app->add_option("results", options->results, "A results folder (or its report.json)")->required();
  command.app->add_option("--format", options->format, "Which report to write into the folder")
      ->check(one_of({"html"}))
      ->capture_default_str();
  command.app->footer(
      "Writes RESULTS/report.html. Exit codes: 0 written, 2 no report.json, another schema "
      "version or malformed JSON.");
  command.run = [options]() { return regenerate(*options); };
  return command;
}

}  // namespace kp::cli
