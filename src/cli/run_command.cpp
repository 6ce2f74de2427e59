#include <fmt/format.h>
#include <charconv>
#include <set>

#include "cli/command.hpp"
#include "cli/driver_registry.hpp"
#include "cli/interrupt.hpp"
#include "cli/progress.hpp"
#include "cli/report_output.hpp"
#include "config/plan.hpp"
#include "core/clock.hpp"
#include "engine/orchestrator.hpp"

namespace kp::cli {
namespace {

struct RunOptions {
  std::string plan_file;
  std::string type;  // smoke | load | stress; empty: smoke unless --plan
  std::string target;
  std::vector<std::string> only;
  bool continue_on_fail = false;
  std::string duration_scale;  // text, validated by the flag's validator
  std::string criteria_file;
  TierFlags tiers;
  OutputOptions output;
};

std::optional<double> parse_scale(std::string_view text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !(value > 0 && value <= 1)) {
    return std::nullopt;
  }
  return value;
}

CLI::Validator scale_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (parse_scale(value)) {
          return {};
        }
        return fmt::format("must be a number > 0 and <= 1, got \"{}\"", value);
      },
      "X");
}

CLI::Validator phase_validator() {
  std::vector<std::string> names;
  for (Phase phase : kFlowOrder) {
    names.emplace_back(to_string(phase));
  }
  return one_of(names);
}

config::TestType test_type_of(std::string_view name) {
  if (name == "load") {
    return config::TestType::load;
  }
  if (name == "stress") {
    return config::TestType::stress;
  }
  return config::TestType::smoke;
}

// A failure that is not the user's (a driver's bug, an internal error) still gets a report: every selected
// phase is marked as errored with the message, so the record shows what happened instead of nothing.
engine::RunResult failed_run(const config::Plan& plan, const std::set<Phase>& only, const Error& error,
                             WallTime started, WallTime finished) {
  engine::RunResult result;
  result.started = started;
  result.finished = finished;
  for (Phase phase : kFlowOrder) {
    eval::PhaseInput input;
    input.phase = phase;
    input.status = eval::PhaseStatus::skipped;
    input.reason = "not run: the run failed before this phase";
    for (const config::PhasePlan& planned : plan.phases) {
      if (planned.phase == phase && planned.enabled && (only.empty() || only.contains(phase))) {
        input.status = eval::PhaseStatus::error;
        input.reason = error.message;
        input.invalid_reasons.push_back(error.message);
      }
    }
    result.inputs.push_back(std::move(input));
  }
  return result;
}

// --criteria wins over the plan's own criteria file, which wins over the shipped one.
std::filesystem::path criteria_file_for(const RunOptions& options, const config::Plan& plan) {
  if (!options.criteria_file.empty()) {
    return options.criteria_file;
  }
  if (plan.criteria_file) {
    return *plan.criteria_file;
  }
  return config::default_criteria_path();
}

Outcome run_plan(const RunOptions& options) {
  WallTime started = real_clock().wall_now();
  std::filesystem::path plan_file = options.plan_file.empty()
                                        ? config::default_plan_path(test_type_of(options.type))
                                        : std::filesystem::path(options.plan_file);
  Result<config::Plan> loaded = config::load_plan(plan_file);
  if (!loaded) {
    return std::unexpected(loaded.error());
  }
  config::Plan& plan = *loaded;
  if (!options.target.empty()) {
    plan.target = options.target == "cluster" ? config::Target::cluster : config::Target::local;
  }
  plan.tiers = options.tiers.apply(plan.tiers);
  if (!options.duration_scale.empty()) {
    if (Result<void> scaled = config::apply_duration_scale(plan, *parse_scale(options.duration_scale));
        !scaled) {
      return std::unexpected(scaled.error());
    }
  }

  std::filesystem::path criteria_file = criteria_file_for(options, plan);
  Result<config::Criteria> criteria = config::load_criteria(criteria_file);
  if (!criteria) {
    return std::unexpected(criteria.error());
  }
  Result<std::vector<config::CriteriaRow>> rows = criteria->active_rows(plan.tiers);
  if (!rows) {
    return std::unexpected(rows.error());
  }

  engine::OrchestratorOptions orchestrator_options;
  orchestrator_options.continue_on_fail = options.continue_on_fail;
  for (const std::string& name : options.only) {
    orchestrator_options.only.insert(*parse_phase(name));
  }
  StderrProgress progress;
  engine::Orchestrator orchestrator(driver_registry(), *rows, orchestrator_options, real_clock(), progress);

  engine::CancellationToken cancel;
  // Ctrl-C cancels from here until the reports are written (they are atomic, but a half-finished set of files
  // would still confuse whoever reads the folder).
  InterruptWatcher interrupts(cancel);
  Result<engine::RunResult> ran = orchestrator.run(plan, cancel);
  if (!ran && (ran.error().kind == ErrorKind::usage || ran.error().kind == ErrorKind::input)) {
    // A phase's settings were rejected before anything ran: nothing to report.
    return std::unexpected(ran.error());
  }
  engine::RunResult result;
  if (ran) {
    result = std::move(*ran);
  } else {
    fmt::print(stderr, "kubeproof: {}\n", ran.error().message);
    result = failed_run(plan, orchestrator_options.only, ran.error(), started, real_clock().wall_now());
    eval::EvaluationOptions evaluation_options;
    evaluation_options.tiers = plan.tiers;
    evaluation_options.test_type = plan.type;
    evaluation_options.aborted = cancel.requested();
    result.evaluation = eval::evaluate(result.inputs, *rows, evaluation_options);
  }

  report::RunReport report;
  report.meta.tool_version = KP_VERSION;
  report.meta.command = "run";
  report.meta.profile = std::string(config::to_string(plan.type));
  report.meta.plan_name = plan.name;
  report.meta.target = plan.target == config::Target::cluster ? "cluster" : "local";
  report.meta.criteria_file = criteria_file;
  report.meta.tiers = plan.tiers;
  report.meta.duration_scale = plan.duration_scale;
  report.meta.continue_on_fail = options.continue_on_fail;
  report.meta.started = result.started;
  report.meta.finished = result.finished;
  report.inputs = std::move(result.inputs);
  report.timings = std::move(result.timings);
  report.evaluation = std::move(result.evaluation);
  return deliver_report(report, options.output);
}

}  // namespace

Command add_run_command(CLI::App& parent) {
  auto options = std::make_shared<RunOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "run", "Run a test plan phase by phase (etcd, api, network, dns, storage, ingress) and judge it");
  command.app->footer(
      "Phases run foundation first; a FAIL skips the phases above it unless --continue-on-fail.\n"
      "Phases without a driver yet are reported SKIPPED. Ctrl-C stops the run and still writes the reports;\n"
      "a second Ctrl-C quits at once.\n"
      "Exit codes: 0 PASS, 1 FAIL, 2 usage or input error, 3 CONDITIONAL PASS, 4 invalid, incomplete or "
      "aborted.");
  CLI::Option* plan = command.app->add_option("--plan", options->plan_file, "Plan file to run");
  CLI::Option* type =
      command.app->add_option("--type", options->type, "Run the shipped plan for this test type")
          ->check(one_of({"smoke", "load", "stress"}));
  plan->excludes(type);
  type->excludes(plan);
  command.app->add_option("--target", options->target, "Where the system under test is (default: the plan's)")
      ->check(one_of({"local", "cluster"}));
  command.app->add_option("--only", options->only, "Run only these phases (comma-separated)")
      ->delimiter(',')
      ->check(phase_validator());
  command.app->add_flag("--continue-on-fail", options->continue_on_fail,
                        "Run the phases above a failed phase anyway (the report says so)");
  command.app
      ->add_option("--duration-scale", options->duration_scale,
                   "Shorten every duration by this factor for a quick run (the report says so loudly)")
      ->check(scale_validator());
  command.app->add_option("--criteria", options->criteria_file,
                          "Criteria file (default: the plan's, else the shipped criteria/default.yaml)");
  options->tiers.add_to(*command.app);
  add_output_options(*command.app, options->output);
  command.run = [options]() { return run_plan(*options); };
  return command;
}

}  // namespace kp::cli
