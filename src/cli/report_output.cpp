#include "cli/report_output.hpp"

#include <fmt/format.h>
#include <cstdio>
#include <memory>

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

ReportFolder::ReportFolder(std::filesystem::path results_root, std::optional<std::filesystem::path> existing)
    : results_root_(std::move(results_root)), folder_(std::move(existing)) {}

Result<std::filesystem::path> ReportFolder::write(const report::RunReport& report) {
  const std::lock_guard lock(mutex_);
  if (!folder_) {
    Result<std::filesystem::path> created = report::create_report_folder(report, results_root_);
    if (!created) {
      return std::unexpected(created.error());
    }
    folder_ = *created;
  }
  if (Result<void> written = report::write_reports_into(report, *folder_); !written) {
    return std::unexpected(written.error());
  }
  return *folder_;
}

std::optional<std::filesystem::path> ReportFolder::path() const {
  const std::lock_guard lock(mutex_);
  return folder_;
}

std::function<void(const report::RunReport&)> checkpoint_writer(ReportFolder& folder) {
  auto said = std::make_shared<bool>(false);
  return [&folder, said](const report::RunReport& report) {
    Result<std::filesystem::path> written = folder.write(report);
    if (!written && !*said) {
      *said = true;
      fmt::print(stderr, "kubeproof: checkpoint not written (the run goes on): {}\n",
                 written.error().message);
    }
  };
}

Outcome deliver_report(const report::RunReport& report, const OutputOptions& options) {
  ReportFolder folder(options.results_dir);
  return deliver_report(report, options, folder);
}

Outcome deliver_report(const report::RunReport& report, const OutputOptions& options, ReportFolder& into) {
  if (options.format == "json") {
    fmt::print("{}", report::render_json(report));
  } else {
    fmt::print("{}", report::render_console(report, {.color = stdout_wants_color(options.no_color)}));
  }
  std::fflush(stdout);
  Result<std::filesystem::path> folder = [&] {
    // A second Ctrl-C while the files are written waits for the whole set: never a part of one.
    engine::ExitDeferral whole_set;
    return into.write(report);
  }();
  if (!folder) {
    return std::unexpected(folder.error());
  }
  fmt::print(stderr, "reports: {}/ (report.json, report.html, junit.xml, summary.md, metrics.prom)\n",
             folder->string());
  return eval::exit_code_for(report.evaluation.overall);
}

}  // namespace kp::cli
