#include "drivers/storage/depth_search.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kp::drivers::storage {

DepthSearchPlan plan_depth_search(const Settings& settings, std::optional<double> p99_critical) {
  DepthSearchPlan plan;
  plan.bisect = settings.stress_bisect;
  plan.nominal_iodepth = settings.iodepth;
  plan.limits.p99_critical = p99_critical;
  if (settings.stress_steps) {
    for (double factor : *settings.stress_steps) {
      plan.ramp.push_back(std::max(1.0, std::round(factor * settings.iodepth)));
    }
  } else {
    plan.ramp.assign(std::begin(kDefaultDepthRamp), std::end(kDefaultDepthRamp));
  }
  // Two factors can round to one depth (10 % and 12 % of 8): run it once.
  plan.ramp.erase(std::unique(plan.ramp.begin(), plan.ramp.end()), plan.ramp.end());
  return plan;
}

std::vector<Workload> search_workloads(const Settings& settings) {
  std::vector<Workload> out;
  for (Workload workload : {Workload::randread, Workload::randwrite}) {
    if (settings.runs(workload)) {
      out.push_back(workload);
    }
  }
  return out;
}

int search_slots(const Settings& settings, const DepthSearchPlan& plan) {
  return static_cast<int>((plan.ramp.size() + static_cast<std::size_t>(plan.bisect)) *
                          search_workloads(settings).size());
}

JobSet step_jobs(const Settings& settings, int iodepth, const JobSet& main) {
  Settings step = settings;
  step.workloads = search_workloads(settings);
  step.iodepth = iodepth;
  step.qd_sweep = std::vector<int>{};
  step.runtime = std::max<Duration>(main.runtime, std::chrono::seconds(1));
  step.ramp_time = main.ramp_time;
  step.compare_to.reset();
  JobSet set = plan_jobs(step, config::TestType::stress, Duration(0));
  set.notes.clear();
  for (FioJob& job : set.jobs) {
    job.name = fmt::format("{}-qd{}", job.name, iodepth);
    job.nominal = iodepth == settings.iodepth;
  }
  return set;
}

load::StepRecord step_record(const std::vector<JobSummary>& jobs) {
  load::StepRecord step;
  const JobSummary* worse = nullptr;
  Duration longest{0};
  for (const JobSummary& job : jobs) {
    step.achieved += job.iops;
    step.completed += job.ios;
    longest = std::max(longest, job.runtime);
    if (job.p99 && (worse == nullptr || *job.p99 > *worse->p99)) {
      worse = &job;
    }
  }
  if (worse != nullptr) {
    step.p99 = worse->p99;
    step.p50 = worse->p50;
  }
  step.duration = longest;
  return step;
}

std::string step_line(const load::StepRecord& step) {
  std::string text = fmt::format("qd{:g} (x{:.3g}): {}", step.level, step.factor,
                                 format_quantity(Quantity::rate, step.achieved, "IOPS"));
  if (step.p99) {
    text += fmt::format(", P99 {}", format_quantity(Quantity::duration, *step.p99, "ms"));
  }
  if (step.cancelled) {
    return text + ": interrupted";
  }
  return text + (step.held() ? ": held" : fmt::format(": broke ({})", step.broke));
}

load::StressResult finish_search(const load::BreakingPointSearch& search) {
  load::StressResult result =
      load::summarize(search, "random 4K I/Os", std::string(kBreakingIodepth), "iodepth");
  result.achieved_unit = "IOPS";
  return result;
}

std::optional<Measurement> breaking_measurement(const load::StressResult& result) {
  if (!result.breaking_level) {
    return std::nullopt;
  }
  return Measurement{.metric = result.metric,
                     .value = *result.breaking_level,
                     .offered = std::nullopt,
                     .histogram = std::nullopt,
                     .source = "fio",
                     .note = result.note};
}

}  // namespace kp::drivers::storage
