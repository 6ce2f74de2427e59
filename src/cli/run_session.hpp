#pragma once

// What `run` and `soak` share: their flags, the checks before anything starts (plan, criteria, kubeconfig,
// dry run, confirmation, permissions), the live machinery around the orchestrator (people's progress, live
// metrics, Ctrl-C), checkpoints, and the report a run's result becomes. `soak` is `run` in rounds
// (docs/soak.md), so neither duplicates the other.

#include <filesystem>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "cli/driver_registry.hpp"
#include "cli/interrupt.hpp"
#include "cli/report_output.hpp"
#include "config/plan.hpp"
#include "engine/orchestrator.hpp"
#include "report/run_report.hpp"
#include "report/timeline.hpp"

namespace kp::cli {

struct RunOptions {
  std::string plan_file;
  std::string type;  // smoke | load | stress; empty: smoke unless --plan
  std::string target;
  std::vector<std::string> only;
  bool continue_on_fail = false;
  std::string duration_scale;  // text, validated by the flag's validator
  std::string checkpoint;      // empty: the plan's (default 1m)
  std::string soak_duration;   // soak --duration; empty: the plan's soak_duration
  std::string criteria_file;
  TierFlags tiers;
  OutputOptions output;
  std::string kubeconfig;  // empty: kubectl's rules
  std::string context;
  std::string lab_dir;     // empty: lab::default_state_dir()
  std::string compare_to;  // empty: the plan's storage settings decide
  bool yes = false;
  bool dry_run = false;
  bool live_view = true;       // --no-live-view: plain progress lines even on a terminal
  std::string metrics_listen;  // empty: no live metrics endpoint
  std::string metrics_linger = "10s";
  std::optional<std::string> agent_image;          // unset: cluster::default_agent_image(); "" is an error
  std::optional<std::string> storage_agent_image;  // unset: --agent-image when given, else the default
  std::string image_pull_policy = "IfNotPresent";
  std::optional<int> agents;  // --agents: agent pods of the dns phase (overrides dns.settings.agents)
};

// Every flag of `run` but --plan and --type (each command adds its own way to choose the plan).
void add_run_flags(CLI::App& app, RunOptions& options);

// Everything decided before the first phase starts.
struct RunSetup {
  RegistryOptions registry;
  config::Plan plan;
  std::filesystem::path criteria_file;
  std::vector<config::CriteriaRow> rows;
  engine::OrchestratorOptions orchestrator;  // only, continue_on_fail, checkpoint_interval (no callback)
  Duration linger{0};
};

// Loads `plan_file` and applies the flags; checks what must be checked before anything runs (one line,
// exit 2, for bad input); --dry-run prints what would run and gives nullopt; on a cluster, asks before a
// load, stress or soak test unless --yes.
Result<std::optional<RunSetup>> set_up_run(const RunOptions& options, const std::filesystem::path& plan_file);

// The shipped plan of a test type named by --type ("" -> smoke).
std::filesystem::path shipped_plan(std::string_view type);

// People's progress, live metrics (--metrics-listen) and Ctrl-C, for as long as a run (or a soak's rounds)
// goes on. progress() is what the orchestrator's sink forwards to (wrap it in a report::TimelineProgress).
class RunHarness {
 public:
  static Result<std::unique_ptr<RunHarness>> start(const RunOptions& options, const RunSetup& setup);
  ~RunHarness();
  engine::ProgressSink& progress();
  engine::CancellationToken& cancel() { return cancel_; }
  // Stops the live view (stderr is plain again), tells live metrics the verdict, and lingers for a last
  // scrape (--metrics-linger) once the reports are delivered: call it after deliver_report.
  void stop_view();
  void run_finished(eval::Verdict overall);
  void linger();

 private:
  RunHarness() = default;
  struct State;
  std::unique_ptr<State> state_;
  engine::CancellationToken cancel_;
};

// What a failure that is not the user's (a driver's bug) still reports: every selected phase errored.
engine::RunResult failed_run(const RunSetup& setup, const Error& error, WallTime started, WallTime finished,
                             bool aborted);

// The report of a run's result (or a checkpoint's), with the per-second series of `timeline`. A phase in
// progress gets its live counts so far as a note (report/timeline.hpp: interpolated, never judged).
report::RunReport report_of(const engine::RunResult& result, const RunSetup& setup, const RunOptions& options,
                            const report::Timeline& timeline, std::string_view command);

// The note a phase in progress carries: its live series so far, e.g. "so far (live counts, not judged):
// put 1234 ok, 0 errors, P50 ~1.20ms, P99 ~3.40ms".
std::vector<std::string> in_progress_notes(const report::Timeline& timeline, Phase phase);

// --checkpoint's value, else the plan's: at least 1s. `--checkpoint: must be a duration of at least 1s, got
// "0"`.
Result<Duration> checkpoint_interval(const RunOptions& options, const config::Plan& plan);

}  // namespace kp::cli
