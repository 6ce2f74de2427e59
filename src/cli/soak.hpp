#pragma once

// `kubeproof soak` (and `kubeproof run` with a plan of type soak): the plan's phases in rounds at a steady
// light load until the soak's duration is spent, with checkpoints, latency hour by hour, and --resume after a
// kill (docs/soak.md). The rounds are ordinary runs of the orchestrator, set up and reported as `run` does
// (cli/run_session.hpp).

#include <filesystem>
#include <optional>
#include <string>

#include "cli/command.hpp"
#include "cli/run_session.hpp"
#include "report/run_report.hpp"

namespace kp::cli {

struct SoakFlags {
  std::string duration;                // empty: the plan's soak_duration (24h by default)
  std::string resume;                  // empty: a new soak
  std::string watch_interval = "10s";  // how often the cluster watches list (--watch-interval)
};

// A killed (or Ctrl-C'd) soak's last checkpoint, to continue from.
struct ResumePoint {
  std::filesystem::path folder;
  report::RunReport report;  // report.soak is set
};

// The folder's report.json, if it is a soak that has not ended. Errors (ErrorKind::usage, one line):
// `--resume results/x: not a soak (its report.json is from \`kubeproof run\`)`, `... that soak has ended
// (PASS); nothing to resume`, and whatever reading report.json says.
Result<ResumePoint> load_resume_point(const std::filesystem::path& folder);

// What must not change between a soak and its resume: the plan file's text and the flags that change what
// runs (--target, --only, --continue-on-fail, --duration-scale, the tiers, --criteria). FNV-1a, 16 hex
// digits.
Result<std::string> soak_digest(const std::filesystem::path& plan_file, const RunOptions& options);

// Runs the soak of `setup` (a plan of type soak) and delivers its report; `resume` continues that soak.
// `cluster_watch_interval`: how often the watches list nodes, CoreDNS pods and API server Leases on
// --target cluster (cli/soak_watches.hpp).
Outcome run_soak(const RunOptions& options, RunSetup& setup, Duration planned, std::string digest,
                 std::optional<ResumePoint> resume,
                 Duration cluster_watch_interval = std::chrono::seconds(10));

}  // namespace kp::cli
