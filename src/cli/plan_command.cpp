#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/driver_registry.hpp"
#include "cli/progress.hpp"
#include "config/plan.hpp"
#include "core/clock.hpp"
#include "engine/cancellation.hpp"
#include "lab/lab.hpp"

namespace kp::cli {
namespace {

struct PlanValidateOptions {
  std::string file;
};

// The plan parses and validates; its criteria file (if it names one) loads and knows the plan's tiers; every
// phase that has a driver accepts its settings. Nothing is prepared or run.
Outcome validate_plan(const PlanValidateOptions& options) {
  Result<config::Plan> plan = config::load_plan(options.file);
  if (!plan) {
    return std::unexpected(plan.error());
  }
  std::filesystem::path criteria_file = plan->criteria_file.value_or(config::default_criteria_path());
  Result<config::Criteria> criteria = config::load_criteria(criteria_file);
  if (!criteria) {
    return std::unexpected(criteria.error());
  }
  if (Result<std::vector<config::CriteriaRow>> rows = criteria->active_rows(plan->tiers); !rows) {
    return std::unexpected(with_context(rows.error(), fmt::format("{}: criteria: ", options.file)));
  }

  RegistryOptions registry;
  registry.lab_dir = lab::default_state_dir();
  std::map<Phase, engine::DriverFactory> drivers = driver_registry(registry);
  StderrProgress progress;
  engine::CancellationToken cancel;
  std::string phases;
  for (const config::PhasePlan& phase : plan->phases) {
    std::string checked = phase.enabled ? "no driver yet: a run reports it SKIPPED" : "disabled";
    if (auto factory = drivers.find(phase.phase);
        phase.enabled && factory != drivers.end() && factory->second) {
      std::unique_ptr<engine::Driver> driver = factory->second(*plan);
      if (driver != nullptr) {
        const engine::PhaseContext context{*plan, phase, real_clock(), cancel, progress};
        if (Result<void> valid = driver->validate(context); !valid) {
          return std::unexpected(valid.error());
        }
        checked = "settings valid";
      }
    }
    phases +=
        plan->type == config::TestType::stress
            ? fmt::format("  {:<8} {:>6} ramp to the breaking point  ({})\n", to_string(phase.phase),
                          format_duration(phase.duration), checked)
            : fmt::format("  {:<8} {:>6} at {:>4}% of capacity  ({})\n", to_string(phase.phase),
                          format_duration(phase.duration), fmt::format("{:g}", phase.load * 100), checked);
  }
  fmt::print("{}: valid {} plan \"{}\", target {}, criteria {}\n{}", options.file, to_string(plan->type),
             plan->name, plan->target == config::Target::local ? "local" : "cluster", criteria_file.string(),
             phases);
  if (plan->load_profile) {
    // The phases' loads above are the peak; each soak round runs them x the factor at its start.
    fmt::print("  load profile {}\n", plan->load_profile->text());
  }
  return 0;
}

}  // namespace

Command add_plan_command(CLI::App& parent) {
  auto options = std::make_shared<PlanValidateOptions>();
  Command command;
  command.app =
      parent.add_subcommand("plan", "Work with test plans (plans/smoke.yaml, load.yaml, stress.yaml)");
  CLI::App* validate = command.app->add_subcommand(
      "validate", "Check a plan file: fields, units, profile bounds, criteria tiers and driver settings");
  validate->add_option("FILE", options->file, "The plan file")->required();
  command.run = [options, validate]() -> Outcome {
    if (validate->parsed()) {
      return validate_plan(*options);
    }
    return fail(ErrorKind::usage, "plan: a subcommand is required: validate FILE (see --help)");
  };
  return command;
}

}  // namespace kp::cli
