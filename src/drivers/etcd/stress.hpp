#pragma once

// The etcd phase's stress runs: one breaking-point search (load/breaking_point.hpp) per series, writes and
// reads. Each step is a stage at the step's rate; it breaks where the kernel says (achieved < 99 % of
// offered, P99 above the row's Critical level, errors above Critical), with the Critical levels of the run's
// criteria: etcd.write.p99 for writes, etcd.read.p99 for reads (both for a mixed series), etcd.error_rate
// where a row exists. The search never runs a step above one that broke.

#include <functional>
#include <string_view>
#include <vector>

#include "drivers/etcd/run_plan.hpp"
#include "drivers/etcd/workload.hpp"
#include "engine/cancellation.hpp"
#include "load/breaking_point.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::etcd {

using ProgressFn = std::function<void(std::string_view)>;
// Runs one stage (a step) and returns what it measured; an error (a worker failed) ends the run.
using StageRunner = std::function<Result<StageResult>(const Stage&)>;

struct SearchLimits {
  load::BreakLimits writes;
  load::BreakLimits reads;
};
SearchLimits search_limits(const load::CriteriaView& criteria);

// What a step of `series` measured, as the kernel judges it: the series' own operations (Put for writes,
// Range for reads, both for mixed), achieved over the step's sending window.
load::StepRecord step_record(const StageResult& stage);

// "" when the step held; else why it broke. A mixed step is held to both latency limits.
std::string step_broke(const StageResult& stage, const SearchLimits& limits);

// Runs the search of `series`, appending each step's result to `stages`. A step that stopped early (the
// server is gone) ends the search: the next steps would only count errors.
Result<load::StressResult> search_breaking_point(const StressSeries& series, const SearchLimits& limits,
                                                 const StageRunner& run_step,
                                                 std::vector<StageResult>& stages,
                                                 const engine::CancellationToken& cancel,
                                                 const ProgressFn& progress);

}  // namespace kp::drivers::etcd
