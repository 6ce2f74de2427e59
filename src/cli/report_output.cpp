#include "cli/report_output.hpp"

#include <fmt/format.h>
#include <cstdio>

#include "engine/exit_deferral.hpp"
#include "eval/verdict.hpp"

namespace kp::cli {

void add_output_options(CLI::App& app, OutputOptions& options) {
  app.add_option("--results", options.results_dir,
                 "Folder that receives <UTC timestamp>-<profile>/ with the report files")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            return value.empty() ? "must name a folder, got \"\"" : "";
          },
          "DIR"))
      ->capture_default_str();
  app.add_option("--format", options.format, "What to print on stdout: the table or the JSON report")
      ->check(one_of({"table", "json"}))
      ->capture_default_str();
  app.add_flag("--no-color", options.no_color,
               "No colour in the table (also: NO_COLOR set, or not a terminal)");
}

Outcome deliver_report(const report::RunReport& report, const OutputOptions& options) {
  if (options.format == "json") {
    fmt::print("{}", report::render_json(report));
  } else {
    fmt::print("{}", report::render_console(report, {.color = stdout_wants_color(options.no_color)}));
  }
  std::fflush(stdout);
  Result<std::filesystem::path> folder = [&] {
    // A second Ctrl-C while the files are written waits for the whole set: never a part of one.
    engine::ExitDeferral whole_set;
    return report::write_reports(report, options.results_dir);
  }();
  if (!folder) {
    return std::unexpected(folder.error());
  }
  fmt::print(stderr, "reports: {}/ (report.json, report.html, junit.xml, summary.md, metrics.prom)\n",
             folder->string());
  return eval::exit_code_for(report.evaluation.overall);
}

}  // namespace kp::cli
