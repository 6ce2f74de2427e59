#pragma once

// The storage phase's stress test (issue 13: "iodepth until P99 crosses Critical"): the random 4K jobs run
// closed loop at each queue depth of a ramp, lowest first, each step one bounded fio run on the volume. A
// step breaks when the worse P99 of the random read and write jobs crosses the Critical level of
// storage.rand_4k.p99, or when fio fails at that depth (an I/O error or a run that hung: the device gave up).
// After the first break, load::BreakingPointSearch bisects on whole depths between the last depth held and
// the first broken. The breaking point is storage.rand_4k.breaking_iodepth.
//
// Why depth, not rate: a volume is judged on what it can do, so fio runs closed loop and the knob the issue
// names is the queue depth; the achieved IOPS of each step are reported beside it.
//
// Pure planning and bookkeeping; StoragePhase runs the steps (storage_phase.hpp).

#include <optional>
#include <string>
#include <vector>

#include "core/measurement.hpp"
#include "drivers/storage/jobs.hpp"
#include "drivers/storage/results.hpp"
#include "drivers/storage/settings.hpp"
#include "load/breaking_point.hpp"

namespace kp::drivers::storage {

inline constexpr std::string_view kBreakingIodepth = "storage.rand_4k.breaking_iodepth";

// The default ramp: a device's knee can sit anywhere from 1 to 128 outstanding I/Os, so it doubles across
// that range instead of the kernel's 100 %..200 % of a capacity.
inline constexpr int kDefaultDepthRamp[] = {1, 2, 4, 8, 16, 32, 64, 128};

struct DepthSearchPlan {
  std::vector<double> ramp;  // queue depths, ascending, whole
  int bisect = 3;
  int nominal_iodepth = 32;  // settings.iodepth: what a step's factor divides by
  load::BreakLimits limits;  // p99_critical: storage.rand_4k.p99's Critical level, seconds
};

// The ramp (settings.stress_steps x iodepth, rounded to whole depths, or kDefaultDepthRamp) and the limits.
DepthSearchPlan plan_depth_search(const Settings& settings, std::optional<double> p99_critical);

// The random workloads the search runs (randread, randwrite, whichever the settings run).
std::vector<Workload> search_workloads(const Settings& settings);

// fio job runs a full search can take: (ramp steps + bisection steps) x random jobs. Each gets the same slot
// of the phase's time as a main job (plan_jobs' JobPlanOptions::search_slots).
int search_slots(const Settings& settings, const DepthSearchPlan& plan);

// One step's jobs: the random jobs at `iodepth`, closed loop, named "randread-4k-qd16", with `main`'s runtime
// and ramp.
JobSet step_jobs(const Settings& settings, int iodepth, const JobSet& main);

// What a step measured: P99 and P50 of the worse random job (the P99 row is the worse of read and write),
// achieved = the jobs' IOPS added up, completed = their I/Os. Closed loop: nothing offered.
load::StepRecord step_record(const std::vector<JobSummary>& jobs);

// "qd16: 41.2k IOPS, P99 3.10ms: held" / "... : broke (P99 6.2ms > critical 5ms)".
std::string step_line(const load::StepRecord& step);

// The finished search as PhaseRun::stress holds it (series "random 4K I/Os", unit "iodepth").
load::StressResult finish_search(const load::BreakingPointSearch& search);

// storage.rand_4k.breaking_iodepth when a step broke (value: the lowest depth broken; note: the summary).
std::optional<Measurement> breaking_measurement(const load::StressResult& result);

}  // namespace kp::drivers::storage
