#include <fmt/format.h>

#include "cli/command.hpp"

namespace kp::cli {

Cli make_cli() {
  Cli cli;
  cli.app = std::make_unique<CLI::App>(
      "kubeproof proves a Kubernetes cluster is production-ready: it tests etcd, the API server, the pod\n"
      "network, CoreDNS, storage and ingress in that order against the published SLOs and thresholds, and\n"
      "ends with PASS, CONDITIONAL PASS or FAIL plus the pre-production checklist.",
      "kubeproof");
  CLI::App& app = *cli.app;
  app.set_version_flag("--version", fmt::format("kubeproof {}", KP_VERSION));
  // No require_subcommand(): CLI11 would then report "A subcommand is required" even for `kubeproof
  // frobnicate`, hiding the unknown word. main reports a missing command itself.
  app.footer(
      "Exit codes: 0 PASS, 1 FAIL, 2 usage or input error, 3 CONDITIONAL PASS,\n"
      "            4 run invalid, incomplete or aborted (or its reports could not be written).\n"
      "Run `kubeproof COMMAND --help` for a command's options.");
  cli.commands.push_back(add_version_command(app));
  cli.commands.push_back(add_criteria_command(app));
  cli.commands.push_back(add_plan_command(app));
  cli.commands.push_back(add_evaluate_command(app));
  cli.commands.push_back(add_report_command(app));
  cli.commands.push_back(add_compare_command(app));
  cli.commands.push_back(add_run_command(app));
  cli.commands.push_back(add_soak_command(app));
  cli.commands.push_back(add_cleanup_command(app));
  cli.commands.push_back(add_preflight_command(app));
  cli.commands.push_back(add_lab_command(app));
  cli.commands.push_back(add_http_command(app));
  cli.commands.push_back(add_agent_command(app));
  return cli;
}

}  // namespace kp::cli
