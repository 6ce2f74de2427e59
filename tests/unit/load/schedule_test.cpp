#include "load/schedule.hpp"

#include <gtest/gtest.h>

namespace kp::load {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

ScheduleInput input(config::TestType type, double load, std::optional<double> capacity = 10000) {
  ScheduleInput in;
  in.rate = RateSetting::from_capacity();
  in.capacity = CapacityRef{.field = "capacity.dns_qps", .per_second = capacity, .unit = "QPS"};
  in.load = load;
  in.type = type;
  in.duration = minutes(10);
  in.where = "plans/x.yaml";
  in.owner = "the dns phase";
  return in;
}

Result<StressSettings> stress_yaml(const std::string& yaml) {
  Result<config::YamlField> root = config::parse_yaml(yaml, "plans/x.yaml");
  EXPECT_TRUE(root.has_value());
  Result<config::YamlMap> map = config::YamlMap::open(
      config::YamlField(root->node(), "plans/x.yaml", "phases[0].settings"), {"stress"});
  return read_stress_settings(*map->get("stress"));
}

TEST(Schedule, SmokeAndLoadAreCapacityTimesLoadForTheWholeDuration) {
  for (auto [type, load] :
       {std::pair{config::TestType::smoke, 0.1}, std::pair{config::TestType::load, 0.7}}) {
    Result<Schedule> schedule = resolve_schedule(input(type, load));
    ASSERT_TRUE(schedule.has_value());
    ASSERT_EQ(schedule->steps.size(), 1u);
    EXPECT_DOUBLE_EQ(schedule->rate()->per_second, 10000 * load);
    EXPECT_EQ(schedule->steps[0].duration, minutes(10));
    EXPECT_FALSE(schedule->stress());
  }
}

TEST(Schedule, StressRampsFromOneToTwoTimesCapacityWithRoomForTheBisection) {
  Result<Schedule> schedule = resolve_schedule(input(config::TestType::stress, 1.5));
  ASSERT_TRUE(schedule.has_value());
  ASSERT_TRUE(schedule->stress());
  std::vector<double> rates;
  for (const Step& step : schedule->steps) {
    rates.push_back(step.rate->per_second);
  }
  EXPECT_EQ(rates, (std::vector<double>{10000, 12500, 15000, 17500, 20000}));
  // Five ramp steps and three bisection steps share ten minutes.
  EXPECT_EQ(schedule->steps[0].duration, seconds(75));
  EXPECT_EQ(schedule->bisect_step_duration, seconds(75));
  EXPECT_EQ(schedule->bisect, 3);
}

TEST(Schedule, AnExplicitRateWinsAndStressMultipliesIt) {
  ScheduleInput in = input(config::TestType::load, 0.7, std::nullopt);
  in.rate = RateSetting::fixed_at(Rate{2000});
  EXPECT_DOUBLE_EQ(resolve_schedule(in)->rate()->per_second, 2000);
  in.type = config::TestType::stress;
  in.stress.steps = {1.0, 3.0};
  Result<Schedule> stress = resolve_schedule(in);
  ASSERT_TRUE(stress.has_value());
  EXPECT_DOUBLE_EQ(stress->steps.back().rate->per_second, 6000);
}

TEST(Schedule, MaxIsOneClosedLoopStep) {
  ScheduleInput in = input(config::TestType::stress, 1.5, std::nullopt);
  in.rate = RateSetting::maximum();
  Result<Schedule> schedule = resolve_schedule(in);
  ASSERT_TRUE(schedule.has_value());
  EXPECT_TRUE(schedule->closed_loop());
  EXPECT_FALSE(schedule->stress());
  EXPECT_EQ(schedule->steps.size(), 1u);
}

TEST(Schedule, MissingOrZeroCapacityIsAnInputErrorNamingTheField) {
  Result<Schedule> missing = resolve_schedule(input(config::TestType::load, 1.0, std::nullopt));
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::input);
  EXPECT_EQ(
      missing.error().message,
      "plans/x.yaml: capacity.dns_qps: is required for the dns phase's rate (capacity x load), got nothing");
  Result<Schedule> zero = resolve_schedule(input(config::TestType::load, 1.0, 0.0));
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().message, "plans/x.yaml: capacity.dns_qps: must be > 0, got \"0 QPS\"");
}

TEST(StressSettings, ReadsStepsAndBisect) {
  Result<StressSettings> settings = stress_yaml("stress:\n  steps: [100%, 150%, 300%]\n  bisect: 2\n");
  ASSERT_TRUE(settings.has_value()) << settings.error().message;
  EXPECT_EQ(settings->steps, (std::vector<double>{1.0, 1.5, 3.0}));
  EXPECT_EQ(settings->bisect, 2);
  EXPECT_EQ(*stress_yaml("stress:\n"), StressSettings{});
}

TEST(StressSettings, BadInputIsOneLineWithFileLineFieldAndValue) {
  EXPECT_EQ(
      stress_yaml("stress:\n  steps: [100%, 150%, 125%]\n").error().message,
      "plans/x.yaml:2: phases[0].settings.stress.steps[2]: must be above the step before it (150%), got "
      "\"125%\"");
  EXPECT_EQ(stress_yaml("stress:\n  steps: [100%, 600%]\n").error().message,
            "plans/x.yaml:2: phases[0].settings.stress.steps[1]: must be within 0%..500% of capacity, got "
            "\"600%\"");
  EXPECT_EQ(stress_yaml("stress:\n  bisect: -1\n").error().message,
            "plans/x.yaml:2: phases[0].settings.stress.bisect: must be >= 0, got \"-1\"");
  EXPECT_EQ(stress_yaml("stress:\n  bisect: two\n").error().message,
            "plans/x.yaml:2: phases[0].settings.stress.bisect: not a whole number, got \"two\"");
  EXPECT_FALSE(stress_yaml("stress:\n  steps: []\n").has_value());
  EXPECT_FALSE(stress_yaml("stress:\n  ramp: [1]\n").has_value());
  // 500 % itself is the highest step accepted.
  EXPECT_TRUE(stress_yaml("stress:\n  steps: [500%]\n").has_value());
}

}  // namespace
}  // namespace kp::load
