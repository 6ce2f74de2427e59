// `kubeproof report RESULTS_DIR --format html|md|junit`: regenerates a report from the folder's report.json,
// e.g. after an upgrade that improved a report, or for a folder copied from CI. html renders report.json's
// document directly; md and junit read it back into a RunReport first (report/report_reader.hpp).

#include <fmt/format.h>

#include "cli/command.hpp"
#include "report/report_file.hpp"
#include "report/report_reader.hpp"
#include "report/run_report.hpp"

namespace kp::cli {
namespace {

struct ReportOptions {
  std::string results;
  std::string format = "html";
};

// The file each format is written to, the same name a run gives it.
std::string_view file_name(std::string_view format) {
  if (format == "md") {
    return "summary.md";
  }
  if (format == "junit") {
    return "junit.xml";
  }
  return "report.html";
}

Result<std::string> render(const nlohmann::ordered_json& document, const std::filesystem::path& file,
                           std::string_view format) {
  if (format == "html") {
    return report::render_html(document);
  }
  Result<report::RunReport> read = report::read_report(document, file);
  if (!read) {
    return std::unexpected(read.error());
  }
  return format == "md" ? report::render_markdown(*read) : report::render_junit(*read);
}

Outcome regenerate(const ReportOptions& options) {
  Result<nlohmann::ordered_json> json = report::load_report_json(options.results);
  if (!json) {
    return std::unexpected(json.error());
  }
  const std::filesystem::path file = report::report_json_path(options.results);
  Result<std::string> contents = render(*json, file, options.format);
  if (!contents) {
    return std::unexpected(contents.error());
  }
  const std::filesystem::path out = file.parent_path() / file_name(options.format);
  if (Result<void> written = report::write_file_atomically(out, *contents); !written) {
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
      ->check(one_of({"html", "md", "junit"}))
      ->capture_default_str();
  command.app->footer(
      "Writes report.html, summary.md or junit.xml beside the report.json. Exit codes: 0 written, 2 no "
      "report.json, another schema version, malformed JSON or a field of the wrong kind.");
  command.run = [options]() { return regenerate(*options); };
  return command;
}

}  // namespace kp::cli
