#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/soak.hpp"
#include "core/units.hpp"

namespace kp::cli {
namespace {

struct SoakCommandOptions {
  RunOptions run;
  SoakFlags soak;
};

// The plan's soak_duration (--duration applied by set_up_run), never under the checkpoint interval: a soak
// that could end before its first checkpoint would not be one.
Result<Duration> soak_duration(const RunSetup& setup) {
  if (setup.plan.soak_duration < setup.orchestrator.checkpoint_interval) {
    return fail(
        ErrorKind::usage,
        fmt::format("{}: soak_duration: must be at least the checkpoint interval ({}), "
                    "got {}",
                    setup.plan.source.string(), format_duration(setup.orchestrator.checkpoint_interval),
                    format_duration(setup.plan.soak_duration)));
  }
  return setup.plan.soak_duration;
}

Outcome soak(const SoakCommandOptions& options) {
  RunOptions run = options.run;
  run.soak_duration = options.soak.duration;
  const std::filesystem::path plan_file = run.plan_file.empty()
                                              ? config::default_plan_path(config::TestType::soak)
                                              : std::filesystem::path(run.plan_file);
  Result<Duration> watch_interval = parse_duration(options.soak.watch_interval);
  if (!watch_interval || *watch_interval < std::chrono::seconds(1) ||
      *watch_interval > std::chrono::hours(1)) {
    return fail(ErrorKind::usage,
                fmt::format("--watch-interval: must be a duration from 1s to 1h, got \"{}\"",
                            options.soak.watch_interval));
  }
  std::optional<ResumePoint> resume;
  if (!options.soak.resume.empty()) {
    Result<ResumePoint> point = load_resume_point(options.soak.resume);
    if (!point) {
      return std::unexpected(point.error());
    }
    resume = std::move(*point);
  }
  Result<std::string> digest = soak_digest(plan_file, run);
  if (!digest) {
    return std::unexpected(digest.error());
  }
  if (resume && resume->report.soak->plan_digest != *digest) {
    const report::SoakRecord& before = *resume->report.soak;
    return fail(
        ErrorKind::usage,
        fmt::format("--resume {}: the plan differs from the soak's (it ran {} with digest {}; this is {} "
                    "with digest {}: the plan file's text, --target, --only, --continue-on-fail, "
                    "--duration-scale, --criteria and the tiers must be the same)",
                    options.soak.resume, before.plan_file, before.plan_digest, plan_file.string(), *digest));
  }
  Result<std::optional<RunSetup>> set_up = set_up_run(run, plan_file);
  if (!set_up) {
    return std::unexpected(set_up.error());
  }
  if (!set_up->has_value()) {
    return 0;  // --dry-run
  }
  RunSetup& setup = **set_up;
  if (setup.plan.type != config::TestType::soak) {
    return fail(ErrorKind::usage, fmt::format("--plan {}: kubeproof soak runs a plan of type soak, got {}",
                                              plan_file.string(), config::to_string(setup.plan.type)));
  }
  Result<Duration> planned = resume ? Result<Duration>(resume->report.soak->planned) : soak_duration(setup);
  if (!planned) {
    return std::unexpected(planned.error());
  }
  if (*planned < setup.orchestrator.checkpoint_interval) {
    return fail(
        ErrorKind::usage,
        fmt::format("--checkpoint: must be at most the soak's duration ({}), got {}",
                    format_duration(*planned), format_duration(setup.orchestrator.checkpoint_interval)));
  }
  return run_soak(run, setup, *planned, std::move(*digest), std::move(resume), *watch_interval);
}

}  // namespace

Command add_soak_command(CLI::App& parent) {
  auto options = std::make_shared<SoakCommandOptions>();
  Command command;
  command.app = parent.add_subcommand(
      "soak", "Hold a steady light load on every phase for hours (default 24h), in rounds, with checkpoints");
  command.app->footer(
      "Rounds run every selected phase for its slice (the plan's phase durations) until --duration is "
      "spent.\n"
      "The report files are rewritten at every checkpoint; after a kill, --resume RESULTS_DIR continues.\n"
      "Latency is kept hour by hour (P50/P99 from merged histograms). See docs/soak.md.\n"
      "Exit codes: 0 PASS, 1 FAIL, 2 usage or input error, 3 CONDITIONAL PASS, 4 invalid, incomplete or "
      "aborted.");
  command.app->add_option("--plan", options->run.plan_file,
                          "Plan of type soak (default: the shipped plans/soak.yaml)");
  CLI::Option* duration =
      command.app->add_option("--duration", options->soak.duration,
                              "How long the soak lasts (default: the plan's soak_duration, 24h)");
  CLI::Option* resume = command.app->add_option(
      "--resume", options->soak.resume,
      "Continue the soak whose results folder this is, from its last checkpoint (same plan and flags)");
  command.app->add_option(
      "--watch-interval", options->soak.watch_interval,
      "On --target cluster, how often the soak lists nodes, CoreDNS pods and API server "
      "Leases for NotReady nodes and restarts (default 10s; etcd's leader: every second)");
  duration->excludes(resume);
  resume->excludes(duration);
  add_run_flags(*command.app, options->run);
  command.run = [options]() { return soak(*options); };
  return command;
}

}  // namespace kp::cli
