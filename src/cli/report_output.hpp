#pragma once

// What evaluate and run do at the end: show the verdict on stdout, write the report files, return the exit
// code.

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "cli/command.hpp"
#include "report/run_report.hpp"

namespace kp::cli {

struct OutputOptions {
  std::string results_dir = "results";
  std::string format = "table";  // "table" | "json": what goes to stdout
  bool no_color = false;
};

// --results, --format, --no-color.
void add_output_options(CLI::App& app, OutputOptions& options);

// Prints the console table (or the JSON report) to stdout, writes report.json, junit.xml, summary.md and
// metrics.prom into a new folder under the results folder, names that folder on stderr, and returns the exit
// code of the overall verdict. A report that cannot be written is an error: a verdict without its record is
// not one a team can sign.
Outcome deliver_report(const report::RunReport& report, const OutputOptions& options);

// Where one run's report files go. The folder is created under the results folder at the first write (a
// checkpoint, or the end), or is the one given (a resumed soak's); every later write rewrites its files in
// place, each atomically. Thread-safe (checkpoints come from the orchestrator's ticker thread).
class ReportFolder {
 public:
  explicit ReportFolder(std::filesystem::path results_root,
                        std::optional<std::filesystem::path> existing = std::nullopt);
  Result<std::filesystem::path> write(const report::RunReport& report);
  std::optional<std::filesystem::path> path() const;

 private:
  std::filesystem::path results_root_;
  mutable std::mutex mutex_;
  std::optional<std::filesystem::path> folder_;
};

// deliver_report into `folder` (the one its checkpoints were written to).
Outcome deliver_report(const report::RunReport& report, const OutputOptions& options, ReportFolder& folder);

// The callback that writes a checkpoint's report into `folder`: a failure is said once on stderr and the run
// goes on (the final write reports its own error).
std::function<void(const report::RunReport&)> checkpoint_writer(ReportFolder& folder);

}  // namespace kp::cli
