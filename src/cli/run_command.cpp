#include <fmt/format.h>
#include <algorithm>

#include "cli/command.hpp"
#include "cli/run_session.hpp"
#include "cli/soak.hpp"
#include "core/clock.hpp"
#include "engine/orchestrator.hpp"
#include "report/timeline.hpp"

namespace kp::cli {
namespace {

Outcome run_plan(const RunOptions& options) {
  const WallTime started = real_clock().wall_now();
  const std::filesystem::path plan_file =
      options.plan_file.empty() ? shipped_plan(options.type) : std::filesystem::path(options.plan_file);
  Result<std::optional<RunSetup>> set_up = set_up_run(options, plan_file);
  if (!set_up) {
    return std::unexpected(set_up.error());
  }
  if (!set_up->has_value()) {
    return 0;  // --dry-run said what would run
  }
  RunSetup& setup = **set_up;
  if (setup.plan.type == config::TestType::soak) {
    // A plan of type soak is a soak whichever command runs it (docs/soak.md).
    Result<std::string> digest = soak_digest(plan_file, options);
    if (!digest) {
      return std::unexpected(digest.error());
    }
    if (setup.plan.soak_duration < setup.orchestrator.checkpoint_interval) {
      return fail(ErrorKind::usage,
                  fmt::format("--checkpoint: must be at most the soak's duration ({}), got {}",
                              format_duration(setup.plan.soak_duration),
                              format_duration(setup.orchestrator.checkpoint_interval)));
    }
    return run_soak(options, setup, setup.plan.soak_duration, std::move(*digest), std::nullopt);
  }
  Result<std::unique_ptr<RunHarness>> harness_or = RunHarness::start(options, setup);
  if (!harness_or) {
    return std::unexpected(harness_or.error());
  }
  RunHarness& harness = **harness_or;
  // Every run records its per-second series for report.json and report.html (issue 17).
  report::Timeline timeline(real_clock());
  report::TimelineProgress progress(harness.progress(), timeline);
  ReportFolder folder(options.output.results_dir);
  // A checkpoint rewrites the report files with the run so far (engine/checkpoint.hpp): a run killed outright
  // keeps its data up to the last one.
  auto write_checkpoint = checkpoint_writer(folder);
  engine::OrchestratorOptions orchestrator_options = setup.orchestrator;
  int checkpoints = 0;
  orchestrator_options.on_checkpoint = [&](const engine::RunResult& so_far) {
    write_checkpoint(report_of(so_far, setup, options, timeline, "run"));
    const auto running = std::ranges::find_if(so_far.inputs, [](const eval::PhaseInput& input) {
      return input.status == eval::PhaseStatus::in_progress;
    });
    if (std::optional<std::filesystem::path> written = folder.path();
        written && running != so_far.inputs.end()) {
      // Said, so whoever watches (a person, a test that kills the run on purpose) knows what is safe.
      progress.message(running->phase,
                       fmt::format("checkpoint {} written to {}/", ++checkpoints, written->string()));
    }
  };
  engine::Orchestrator orchestrator(driver_registry(setup.registry), setup.rows, orchestrator_options,
                                    real_clock(), progress);
  Result<engine::RunResult> ran = orchestrator.run(setup.plan, harness.cancel());
  harness.stop_view();
  if (!ran && (ran.error().kind == ErrorKind::usage || ran.error().kind == ErrorKind::input)) {
    // A phase's settings were rejected before anything ran: nothing to report.
    return std::unexpected(ran.error());
  }
  engine::RunResult result;
  if (ran) {
    result = std::move(*ran);
  } else {
    fmt::print(stderr, "kubeproof: {}\n", ran.error().message);
    result = failed_run(setup, ran.error(), started, real_clock().wall_now(), harness.cancel().requested());
  }
  harness.run_finished(result.evaluation.overall);
  Outcome delivered =
      deliver_report(report_of(result, setup, options, timeline, "run"), options.output, folder);
  harness.linger();
  return delivered;
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
  add_run_flags(*command.app, *options);
  command.run = [options]() { return run_plan(*options); };
  return command;
}

}  // namespace kp::cli
