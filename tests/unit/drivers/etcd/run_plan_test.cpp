#include "drivers/etcd/run_plan.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::etcd {
namespace {

using std::chrono::seconds;

PlanInput input(config::TestType type, std::optional<double> capacity, double load, Duration duration) {
  PlanInput in;
  in.type = type;
  if (capacity) {
    in.capacity = Rate{*capacity};
  }
  in.load = load;
  in.duration = duration;
  in.where = "plans/x.yaml";
  return in;
}

// The same `load:` means the same in every phase: capacity x load, for smoke as for load.
TEST(EtcdRunPlan, LoadMeansCapacityTimesLoad) {
  Settings settings;  // rate: capacity (the default), write-then-read
  Result<RunPlan> load = plan_run(settings, input(config::TestType::load, 5000, 0.8, seconds(100)));
  ASSERT_TRUE(load) << load.error().message;
  ASSERT_EQ(load->stages.size(), 2u);
  EXPECT_EQ(load->stages[0].name, "write");
  EXPECT_DOUBLE_EQ(load->stages[0].rate->per_second, 4000);
  EXPECT_EQ(load->stages[0].duration, seconds(50));
  EXPECT_EQ(load->stages[1].name, "read");
  EXPECT_DOUBLE_EQ(load->stages[1].read_fraction, 1.0);
  EXPECT_DOUBLE_EQ(load->stages[1].rate->per_second, 4000);
  EXPECT_EQ(load->stages[1].duration, seconds(50));
  EXPECT_TRUE(load->stress.empty());
  ASSERT_EQ(load->notes.size(), 1u);
  EXPECT_EQ(load->notes[0], "rate 4000/s = capacity.etcd_ops 5000/s x 80%");

  // Smoke is no longer a fixed 150/s: the kernel's rule, capacity x load, like every phase.
  Result<RunPlan> smoke = plan_run(settings, input(config::TestType::smoke, 5000, 0.1, seconds(60)));
  ASSERT_TRUE(smoke);
  EXPECT_DOUBLE_EQ(smoke->stages[0].rate->per_second, 500);
  EXPECT_DOUBLE_EQ(smoke->stages[1].rate->per_second, 500);
}

TEST(EtcdRunPlan, AMissingOrZeroCapacityIsAnInputError) {
  Result<RunPlan> missing =
      plan_run(Settings{}, input(config::TestType::load, std::nullopt, 1.0, seconds(10)));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::input);
  EXPECT_EQ(missing.error().message,
            "plans/x.yaml: capacity.etcd_ops: is required for the etcd phase's rate (capacity x load), got "
            "nothing");
  Result<RunPlan> zero = plan_run(Settings{}, input(config::TestType::smoke, 0, 1.0, seconds(10)));
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message, "plans/x.yaml: capacity.etcd_ops: must be > 0, got \"0/s\"");
}

TEST(EtcdRunPlan, AnExplicitRateOrMaxNeedsNoCapacity) {
  Settings settings;
  settings.workload = Workload::write;
  settings.rate = load::RateSetting::fixed_at(Rate{1500});
  Result<RunPlan> fixed = plan_run(settings, input(config::TestType::load, std::nullopt, 0.5, seconds(10)));
  ASSERT_TRUE(fixed) << fixed.error().message;
  ASSERT_EQ(fixed->stages.size(), 1u);
  EXPECT_DOUBLE_EQ(fixed->stages[0].rate->per_second, 1500);  // explicit: load does not scale it
  settings.rate = load::RateSetting::maximum();
  settings.total = 500;
  Result<RunPlan> max = plan_run(settings, input(config::TestType::load, std::nullopt, 1.0, seconds(10)));
  ASSERT_TRUE(max);
  EXPECT_FALSE(max->stages[0].rate.has_value());
  EXPECT_EQ(max->stages[0].total, 500u);
}

TEST(EtcdRunPlan, StressSearchesWritesThenReadsOnTheKernelRamp) {
  Settings settings;
  settings.stress.bisect = 2;
  Result<RunPlan> stress = plan_run(settings, input(config::TestType::stress, 5000, 1.5, seconds(140)));
  ASSERT_TRUE(stress) << stress.error().message;
  EXPECT_TRUE(stress->stages.empty());
  ASSERT_EQ(stress->stress.size(), 2u);
  EXPECT_EQ(stress->stress[0].series, "writes");
  EXPECT_EQ(stress->stress[0].metric, "etcd.write.breaking_rate");
  EXPECT_DOUBLE_EQ(stress->stress[0].read_fraction, 0.0);
  EXPECT_EQ(stress->stress[1].series, "reads");
  EXPECT_EQ(stress->stress[1].metric, "etcd.read.breaking_rate");
  EXPECT_DOUBLE_EQ(stress->stress[1].read_fraction, 1.0);
  // Half the duration each, over 5 ramp steps + 2 bisection steps: 10 s per step; 100 %..200 % of capacity.
  const load::Schedule& writes = stress->stress[0].schedule;
  ASSERT_EQ(writes.steps.size(), 5u);
  EXPECT_DOUBLE_EQ(writes.steps.front().rate->per_second, 5000);
  EXPECT_DOUBLE_EQ(writes.steps.back().rate->per_second, 10000);
  EXPECT_EQ(writes.steps.front().duration, seconds(10));
  EXPECT_EQ(writes.bisect, 2);
  EXPECT_EQ(writes.bisect_step_duration, seconds(10));

  settings.workload = Workload::read;
  Result<RunPlan> reads = plan_run(settings, input(config::TestType::stress, 5000, 1.5, seconds(70)));
  ASSERT_TRUE(reads);
  ASSERT_EQ(reads->stress.size(), 1u);
  EXPECT_EQ(reads->stress[0].series, "reads");
  EXPECT_EQ(reads->stress[0].schedule.steps.front().duration, seconds(10));
}

}  // namespace
}  // namespace kp::drivers::etcd
