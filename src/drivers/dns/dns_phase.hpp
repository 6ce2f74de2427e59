#pragma once

// The DNS phase itself, whatever its settings came from (a plan through engine::Driver, or the
// `kubeproof agent dns` flags): prepare the queries, probe the server, read its cache counters, run the load,
// read them again, and turn it all into measurements.
//
// Measurements (metric ids of config/metric_catalog; ids the catalog does not have yet go into the first
// measurement's note, as "id = value", until it does):
//   dns.qps              answers a resolver can use (NOERROR + NXDOMAIN) per second, client side
//   dns.p99              per-query latency from the intended send time (open loop), lost queries counted at
//                        their timeout; the histogram is attached, P50/P90/P99.9 and the uncorrected P99 are
//                        in the note
//   dns.cache_hit_ratio  the server's: hits / (hits + misses) over the run (server_stats.hpp)
//   dns.loss_rate, dns.error_rate (SERVFAIL, REFUSED, ... per query sent), dns.lookup.p99 (pod resolver
//   mode: what an application waits for, the NXDOMAIN walk included): informational
//   dns.breaking_rate    type stress: the first step rate the server did not hold (stress_step_failure); its
//                        note names the last rate it held. Not found: a note says every step held, up to
//                        which rate. The other measurements judge the last step that held (the first step
//                        when none did); each step's line is in the notes.
// INVALID (PhaseRun::invalid_reasons) when the open-loop schedule fell behind (more than 1 % of lookups late
// by more than late_tolerance) or fewer than 99 % of the due lookups went out. A run stopped because the
// server stopped answering is not invalid: its numbers are the finding, and dns.qps fails.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "drivers/dns/load_engine.hpp"
#include "drivers/dns/server_stats.hpp"
#include "drivers/dns/settings.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::dns {

// Below this share of its due lookups, or above this share of late ones, an open-loop run is INVALID.
inline constexpr double kMinAchievedShare = 0.99;
inline constexpr double kMaxLateShare = 0.01;

// One step of a stress ramp and what it showed.
struct StepResult {
  StressStep step;
  LoadResult load;
  std::string failure;  // why the server did not hold the step; empty: it held
};

// Why the server did not hold a step: it answered (NOERROR/NXDOMAIN) less than kStressMinAchieved of the
// offered rate, lost more than stress_loss_limit, or its P99 went past stress_p99_limit. Empty when it held.
// A step the generator itself fell behind on is not the server's failure and never counts as one.
std::string stress_step_failure(const LoadResult& load, const Workload& workload, const Settings& settings);

// Runs the ramp in order through `run_step`, stopping after the first step that did not hold, or one that was
// cancelled or stopped early. Errors only when a step could not start.
using StepRunner = std::function<Result<LoadResult>(const StressStep&)>;
Result<std::vector<StepResult>> run_stress_ramp(const std::vector<StressStep>& steps,
                                                const StepRunner& run_step, const Workload& workload,
                                                const Settings& settings, engine::CancellationToken& cancel);

// The stress form of build_run: the measurements of the last step that held (the first one when none held),
// dns.breaking_rate when a step failed, and a line per step in the notes.
engine::PhaseRun build_stress_run(const std::vector<StepResult>& steps, std::size_t planned_steps,
                                  const std::optional<CacheDelta>& cache, const std::string& cache_source,
                                  const std::string& cache_problem, const Workload& workload,
                                  const Settings& settings, const std::vector<std::string>& notes);

class DnsPhase {
 public:
  DnsPhase(Settings settings, RunShape shape, Clock& clock, ProgressFn progress);

  // Prepares the queries, probes the server once (a silent server is noted, not an error: the run measures
  // it) and reads the cache counters. `stats` may be null (no source: the ratio is not measured).
  Result<void> prepare(ServerAddress server, std::unique_ptr<CacheStatsSource> stats);
  // Runs the load and returns the measurements; on cancellation, what was measured so far. Errors only when
  // the load could not start (no sockets).
  Result<engine::PhaseRun> run(engine::CancellationToken& cancel);

  const std::optional<LoadResult>& load() const { return load_; }
  const std::optional<CacheDelta>& cache() const { return cache_; }
  const std::string& cache_problem() const { return cache_problem_; }
  const Workload& workload() const { return workload_; }
  const RunShape& shape() const { return shape_; }

 private:
  Settings settings_;
  RunShape shape_;
  Clock& clock_;
  ProgressFn progress_;
  Workload workload_;
  std::unique_ptr<CacheStatsSource> stats_;
  std::optional<CacheCounters> before_;
  std::string cache_problem_;
  std::vector<std::string> notes_;
  std::optional<LoadResult> load_;
  std::vector<StepResult> steps_;
  std::optional<CacheDelta> cache_;
};

// Turns a run into measurements and invalid reasons (pure; unit-tested without a server).
engine::PhaseRun build_run(const LoadResult& load, const std::optional<CacheDelta>& cache,
                           const std::string& cache_source, const std::string& cache_problem,
                           const Workload& workload, const Settings& settings,
                           const std::vector<std::string>& notes);

// "NOERROR 9500, NXDOMAIN 500" (non-zero RCODEs only; "none" without responses).
std::string describe_rcodes(const Counters& counters);

}  // namespace kp::drivers::dns
