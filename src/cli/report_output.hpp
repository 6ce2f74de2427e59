#pragma once

// What evaluate and run do at the end: show the verdict on stdout, write the report files, return the exit
// code.

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

}  // namespace kp::cli
