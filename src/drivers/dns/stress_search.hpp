#pragma once

// Type stress for the DNS phase: the kernel's breaking-point search (load/breaking_point.hpp) over lookup
// rates, one open-loop run per step. The ramp is the schedule's (load/schedule.hpp: 100 %..200 % of
// capacity.dns_qps by default); after the first step that breaks, bisection between the last rate held and
// the first broken. The search never runs a step above one that broke.
//
// A step breaks on the kernel's rule: usable answers below 99 % of what was offered, P99 above dns.p99's
// Critical level, errors above their Critical level. What was offered is what the generator put on the wire:
// a step on which the generator itself fell behind (load/validity.hpp) is judged on what it sent, and says so
// in its notes, so the generator's limit is never reported as the server's.
//
// A step that broke while the generator itself was INVALID on it (load/validity.hpp: its own lateness is
// inside the corrected P99, its shortfall inside the achieved rate) is not the server's break: it is recorded
// as neither held nor broken (the kernel's `cancelled`) and the search ends there, so a CPU-starved generator
// is never reported as the server's breaking point; the step's line says why.
//
// Ends early on cancellation (the step is recorded as cancelled) or when a step stopped because the server
// stopped answering (it broke; bisecting below a dead server would only wait out its failure window again).

#include <functional>
#include <vector>

#include "core/error.hpp"
#include "drivers/dns/judging.hpp"
#include "drivers/dns/load_engine.hpp"
#include "engine/cancellation.hpp"
#include "load/breaking_point.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::dns {

// One step's run, in the order the search ran them (parallel to result.steps).
struct StepLoad {
  double rate = 0;  // lookups per second
  bool bisection = false;
  LoadResult load;
  load::Validity validity;  // the generator's, on this step
  // Set when the step broke while the generator itself fell behind (its lateness or shortfall could explain
  // the break): recorded as neither held nor broken, and the search ends. Why, for the step's line.
  std::string inconclusive;
};

struct StressOutcome {
  load::StressResult result;  // series "queries", metric dns.breaking_rate, unit QPS
  std::vector<StepLoad> steps;
};

// Runs one open-loop step at `rate` lookups per second for `duration`.
using StepRunner = std::function<Result<LoadResult>(Rate rate, Duration duration, bool bisection)>;

// Errors only when a step could not start (no socket, a worker failed).
Result<StressOutcome> run_stress_search(const load::Schedule& schedule, const StepRunner& run_step,
                                        const Workload& workload, const Judging& judging,
                                        engine::CancellationToken& cancel);

}  // namespace kp::drivers::dns
