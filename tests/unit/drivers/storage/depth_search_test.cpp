#include "drivers/storage/depth_search.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

using std::chrono::seconds;

JobSummary summary(std::string name, Workload workload, int depth, double iops, double p50, double p99) {
  JobSummary job;
  job.job.name = std::move(name);
  job.job.workload = workload;
  job.job.iodepth = depth;
  job.iops = iops;
  job.ios = static_cast<std::uint64_t>(iops * 10);
  job.runtime = seconds(10);
  job.p50 = p50;
  job.p99 = p99;
  return job;
}

TEST(StorageDepthSearch, DefaultRampDoublesFromOneTo128) {
  const DepthSearchPlan plan = plan_depth_search(Settings{}, 5e-3);
  EXPECT_EQ(plan.ramp, (std::vector<double>{1, 2, 4, 8, 16, 32, 64, 128}));
  EXPECT_EQ(plan.bisect, 3);
  EXPECT_EQ(plan.nominal_iodepth, 32);
  EXPECT_EQ(plan.limits.p99_critical, 5e-3);
  EXPECT_EQ(search_slots(Settings{}, plan), (8 + 3) * 2);
}

TEST(StorageDepthSearch, PlanStepsAreMultiplesOfTheIodepthInWholeDepths) {
  Settings settings;
  settings.iodepth = 32;
  settings.stress_steps = std::vector<double>{0.25, 0.5, 1.0, 2.0, 5.0};
  settings.stress_bisect = 1;
  settings.workloads = {Workload::randwrite, Workload::seqread};
  const DepthSearchPlan plan = plan_depth_search(settings, std::nullopt);
  EXPECT_EQ(plan.ramp, (std::vector<double>{8, 16, 32, 64, 160}));
  EXPECT_EQ(search_slots(settings, plan), 6);  // one random job
  // 10 % and 12 % of 8 both round to a depth of 1: it runs once.
  settings.iodepth = 8;
  settings.stress_steps = std::vector<double>{0.10, 0.12, 1.0};
  EXPECT_EQ(plan_depth_search(settings, std::nullopt).ramp, (std::vector<double>{1, 8}));
  settings.workloads = {Workload::seqread};
  EXPECT_EQ(search_slots(settings, plan_depth_search(settings, std::nullopt)), 0);
}

TEST(StorageDepthSearch, AStepRunsTheRandomJobsClosedLoopAtItsDepth) {
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{5e3});
  JobSet main = plan_jobs(settings, config::TestType::stress, std::chrono::minutes(15),
                          JobPlanOptions{.random_rate = Rate{5e3}, .search_slots = 22});
  const JobSet step = step_jobs(settings, 16, main);
  ASSERT_EQ(step.jobs.size(), 2u);
  EXPECT_EQ(step.jobs[0].name, "randread-4k-qd16");
  EXPECT_EQ(step.jobs[1].name, "randwrite-4k-qd16");
  for (const FioJob& job : step.jobs) {
    EXPECT_EQ(job.iodepth, 16);
    EXPECT_FALSE(job.rate_iops) << "the search ramps depth, closed loop";
    EXPECT_FALSE(job.nominal);
    EXPECT_EQ(job.runtime, main.runtime);
    EXPECT_EQ(job.ramp_time, main.ramp_time);
  }
  EXPECT_TRUE(step_jobs(settings, 32, main).jobs[0].nominal);
}

TEST(StorageDepthSearch, AStepIsJudgedOnTheWorseP99AndAddsUpIops) {
  const load::StepRecord step =
      step_record({summary("randread-4k-qd8", Workload::randread, 8, 20e3, 0.3e-3, 1.2e-3),
                   summary("randwrite-4k-qd8", Workload::randwrite, 8, 10e3, 0.6e-3, 4.5e-3)});
  EXPECT_DOUBLE_EQ(step.achieved, 30e3);
  EXPECT_EQ(step.completed, 300000u);
  EXPECT_EQ(step.p99, 4.5e-3);
  EXPECT_EQ(step.p50, 0.6e-3);
  EXPECT_EQ(step.offered, 0);  // closed loop: achieved is never held against an offered rate
  EXPECT_EQ(step.duration, seconds(10));
}

// The search as StoragePhase drives it, on a device whose P99 grows 0.2 ms per outstanding I/O against a 5 ms
// Critical level: 16 holds (3.2 ms), 32 breaks (6.4 ms); bisection: 24 holds (4.8), 28 breaks (5.6), 26
// breaks (5.2). The breaking iodepth is 26, the last held 24.
TEST(StorageDepthSearch, FindsTheDepthWhereP99CrossesCritical) {
  const DepthSearchPlan plan = plan_depth_search(Settings{}, 5e-3);
  load::BreakingPointSearch search(plan.ramp, plan.bisect, plan.nominal_iodepth, /*integral=*/true);
  std::vector<double> ran;
  while (const std::optional<double> level = search.next_level()) {
    ran.push_back(*level);
    const double p99 = *level * 0.2e-3;
    load::StepRecord step = step_record(
        {summary("randread", Workload::randread, static_cast<int>(*level), *level * 1000, p99 / 3, p99)});
    step.broke = load::step_break_reason(step, plan.limits, "iodepth");
    search.record(std::move(step));
  }
  EXPECT_EQ(ran, (std::vector<double>{1, 2, 4, 8, 16, 32, 24, 28, 26}));
  const load::StressResult result = finish_search(search);
  EXPECT_EQ(result.metric, "storage.rand_4k.breaking_iodepth");
  EXPECT_EQ(result.unit, "iodepth");
  EXPECT_EQ(result.breaking_level, 26);
  EXPECT_EQ(result.last_held, 24);
  EXPECT_EQ(result.note,
            "broke at 26 iodepth (x0.812): P99 5.20ms > critical 5.00ms; last step held 24 iodepth (x0.75)");
  const std::optional<Measurement> breaking = breaking_measurement(result);
  ASSERT_TRUE(breaking);
  EXPECT_EQ(breaking->metric, kBreakingIodepth);
  EXPECT_EQ(breaking->value, 26);
  EXPECT_EQ(breaking->note, result.note);
  EXPECT_EQ(step_line(result.steps[5]),
            "qd32 (x1): 32k IOPS, P99 6.40ms: broke (P99 6.40ms > critical 5.00ms)");
  EXPECT_EQ(step_line(result.steps[4]), "qd16 (x0.5): 16k IOPS, P99 3.20ms: held");
}

TEST(StorageDepthSearch, NoBreakingPointNoMeasurement) {
  load::BreakingPointSearch search({1, 2}, 3, 32, true);
  load::BreakLimits limits;
  limits.p99_critical = 5e-3;
  for (int i = 0; i < 2; ++i) {
    load::StepRecord step = step_record({summary("randread", Workload::randread, 1, 1000, 1e-4, 2e-4)});
    step.broke = load::step_break_reason(step, limits, "iodepth");
    search.record(std::move(step));
  }
  const load::StressResult result = finish_search(search);
  EXPECT_FALSE(result.breaking_level);
  EXPECT_FALSE(breaking_measurement(result));
  EXPECT_EQ(result.note, "breaking point not reached: every step held, up to 2 iodepth (x0.0625)");
}

}  // namespace
}  // namespace kp::drivers::storage
