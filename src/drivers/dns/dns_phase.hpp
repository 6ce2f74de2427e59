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
//   dns.breaking_rate    type stress: the lowest rate at which a step broke, found by the kernel's search
//                        (load/breaking_point.hpp: the ramp, then bisection between the last rate held and
//                        the first broken); its note names the last rate held. Not reached: no measurement,
//                        a note says every step held. The other measurements judge the last step held (the
//                        first step when none did); every step is in PhaseRun::stress.
// Validity is the kernel's one rule (load/validity.hpp), judged on the lookups: INVALID only when the
// generator's own share of due lookups is below 99 % while dns.qps is judged, or its own send lateness P99 is
// above 10 % of the tightest dns latency target. Lookups that waited because every in-flight slot was held by
// a slow server are the server's ("queued for a connection"), never INVALID. The generator's statement
// (offered, sent, lateness P50/P99/max, queued) is in PhaseRun::notes. A run stopped because the server
// stopped answering is not invalid: its numbers are the finding, and dns.qps fails.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "drivers/dns/load_engine.hpp"
#include "drivers/dns/server_stats.hpp"
#include "drivers/dns/settings.hpp"
#include "drivers/dns/stress_search.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::dns {

class DnsPhase {
 public:
  DnsPhase(Settings settings, RunShape shape, Clock& clock, ProgressFn progress, Judging judging);

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
  Judging judging_;
  std::optional<LoadResult> load_;
  std::optional<StressOutcome> stress_;
  std::optional<CacheDelta> cache_;

  Result<void> run_stress(engine::CancellationToken& cancel);
};

// Turns a run into measurements, invalid reasons (judge_validity) and notes (`notes`, then the generator's
// statement). Pure; unit-tested without a server.
engine::PhaseRun build_run(const LoadResult& load, const std::optional<CacheDelta>& cache,
                           const std::string& cache_source, const std::string& cache_problem,
                           const Workload& workload, const Settings& settings,
                           const std::vector<std::string>& notes, const Judging& judging);

// The stress form of build_run: the measurements of the last step held (the first step when none held),
// dns.breaking_rate when a step broke, the search in PhaseRun::stress and a line per step in the notes.
engine::PhaseRun build_stress_run(const StressOutcome& outcome, const std::optional<CacheDelta>& cache,
                                  const std::string& cache_source, const std::string& cache_problem,
                                  const Workload& workload, const Settings& settings,
                                  const std::vector<std::string>& notes, const Judging& judging);

// "NOERROR 9500, NXDOMAIN 500" (non-zero RCODEs only; "none" without responses).
std::string describe_rcodes(const Counters& counters);

}  // namespace kp::drivers::dns
