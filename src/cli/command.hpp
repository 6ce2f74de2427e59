#pragma once

// The pieces main() assembles: each subcommand registers its options on the CLI11 app and hands back the
// action to run when it was chosen. Actions never exit the process: they return the exit code of a verdict or
// an Error, and only main maps errors to exit codes.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "config/criteria.hpp"
#include "core/error.hpp"

namespace kp::cli {

// What an action ends with: an exit code (0 PASS, 1 FAIL, 3 CONDITIONAL PASS, 4 invalid/aborted; 0 for
// commands without a verdict), or an error main turns into exit code 2 (usage, input) or 4 (anything else).
using Outcome = Result<int>;

struct Command {
  CLI::App* app = nullptr;
  std::function<Outcome()> run;
  // Called when CLI11 rejects the command line (main still prints the error and exits 2): agents print their
  // one JSON result line with the error even then. Optional.
  std::function<void(const Error&)> on_parse_error;
};

// The whole command line: `kubeproof` and its subcommands.
struct Cli {
  std::unique_ptr<CLI::App> app;
  std::vector<Command> commands;
};
Cli make_cli();

Command add_version_command(CLI::App& parent);
Command add_criteria_command(CLI::App& parent);
Command add_plan_command(CLI::App& parent);
Command add_evaluate_command(CLI::App& parent);
Command add_report_command(CLI::App& parent);
Command add_compare_command(CLI::App& parent);
Command add_run_command(CLI::App& parent);
Command add_soak_command(CLI::App& parent);
Command add_lab_command(CLI::App& parent);
Command add_agent_command(CLI::App& parent);
Command add_cleanup_command(CLI::App& parent);
Command add_preflight_command(CLI::App& parent);
Command add_http_command(CLI::App& parent);

// --tier, --cluster-size and --pod-images, shared by criteria, evaluate and run. Empty: not given.
struct TierFlags {
  std::string storage_tier;
  std::string cluster_size;
  std::string pod_images;

  void add_to(CLI::App& app);
  // `base` with every given flag applied.
  config::TierSelection apply(config::TierSelection base) const;
};

// A validator whose message names the choices and echoes the value: `must be ssd or nvme, got "fast"`.
// CLI11 prefixes the flag: `--tier: must be ssd or nvme, got "fast"`.
CLI::Validator one_of(std::vector<std::string> choices);

// `--lab-dir: must be an existing directory, got "x" (No such file or directory)`; likewise for a file.
CLI::Validator existing_directory();
CLI::Validator existing_file();

// Colour on stdout only on a terminal, never with --no-color or NO_COLOR set (https://no-color.org).
bool stdout_wants_color(bool no_color_flag);

}  // namespace kp::cli
