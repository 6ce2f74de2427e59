#include "config/load_profile.hpp"

#include <gtest/gtest.h>

#include <string>

#include "config/plan.hpp"

namespace kp::config {
namespace {

using namespace std::chrono_literals;

Result<Plan> parse(std::string_view text) {
  return parse_plan(text, "plans/x.yaml");
}

std::string error_of(const Result<Plan>& result) {
  EXPECT_FALSE(result.has_value());
  if (result.has_value()) {
    return "";
  }
  EXPECT_EQ(result.error().kind, ErrorKind::input);
  return result.error().message;
}

// A soak plan whose last key is `load_profile`, followed by `profile` (its body, indented by the caller).
std::string soak_with(std::string_view profile) {
  return "type: soak\nsoak_duration: 1h\nphases:\n  - phase: etcd\n    load: 50%\nload_profile:\n" +
         std::string(profile);
}

std::string daily(std::size_t count, std::string_view value = "50%") {
  std::string out = "  daily: [";
  for (std::size_t i = 0; i < count; ++i) {
    out += (i == 0 ? "" : ", ") + std::string(value);
  }
  return out + "]\n";
}

TEST(LoadProfile, ReadsStepsAsWritten) {
  auto plan =
      parse(soak_with("  steps:\n    - {at: 0h, factor: 20%}\n    - {at: 8h, factor: 100%}\n"
                      "    - at: 20h\n      factor: 0.5\n"));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  ASSERT_TRUE(plan->load_profile.has_value());
  EXPECT_EQ(plan->load_profile->shape, LoadProfile::Shape::steps);
  EXPECT_EQ(plan->load_profile->steps, (std::vector<LoadStep>{{0h, 0.2}, {8h, 1.0}, {20h, 0.5}}));
  EXPECT_EQ(plan->load_profile->text(), "steps: 20% from 0s, 100% from 8h, 50% from 20h");
}

TEST(LoadProfile, ReadsDailyAsOneStepAnHour) {
  auto plan = parse(soak_with(daily(24, "25%")));
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  ASSERT_TRUE(plan->load_profile.has_value());
  EXPECT_EQ(plan->load_profile->shape, LoadProfile::Shape::daily);
  ASSERT_EQ(plan->load_profile->steps.size(), 24U);
  EXPECT_EQ(plan->load_profile->steps[23], (LoadStep{23h, 0.25}));
  EXPECT_TRUE(plan->load_profile->text().starts_with("daily: 25% 25% "));
}

TEST(LoadProfile, NoneByDefault) {
  auto plan = parse("type: soak\n");
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_FALSE(plan->load_profile.has_value());
  EXPECT_EQ(load_factor(*plan, 5h), 1.0);
}

TEST(LoadProfile, StepFactorHoldsUntilTheNextStep) {
  const LoadProfile profile{.shape = LoadProfile::Shape::steps, .steps = {{0s, 0.2}, {8h, 1.0}, {20h, 0.5}}};
  EXPECT_EQ(profile.factor_at(0s), 0.2);
  EXPECT_EQ(profile.factor_at(8h - 1ns), 0.2);
  EXPECT_EQ(profile.factor_at(8h), 1.0);
  EXPECT_EQ(profile.factor_at(19h), 1.0);
  EXPECT_EQ(profile.factor_at(20h), 0.5);
  // The last step holds to the end of the soak, however long: steps do not repeat.
  EXPECT_EQ(profile.factor_at(100h), 0.5);
  EXPECT_EQ(profile.factor_at(-1s), 0.2);
}

TEST(LoadProfile, DailyFactorRepeatsEveryTwentyFourHours) {
  LoadProfile profile{.shape = LoadProfile::Shape::daily, .steps = {}};
  for (int hour = 0; hour < 24; ++hour) {
    profile.steps.push_back({std::chrono::hours(hour), (hour + 1) / 100.0});
  }
  EXPECT_EQ(profile.factor_at(0s), 0.01);
  EXPECT_EQ(profile.factor_at(59min), 0.01);
  EXPECT_EQ(profile.factor_at(1h), 0.02);
  EXPECT_EQ(profile.factor_at(23h + 59min), 0.24);
  EXPECT_EQ(profile.factor_at(24h), 0.01);
  EXPECT_EQ(profile.factor_at(24h * 3 + 5h + 30min), 0.06);
}

TEST(LoadProfile, ScalesEveryPhasesLoad) {
  auto plan = parse(
      "type: soak\nphases:\n  - phase: etcd\n    load: 50%\n  - phase: dns\n    load: 10%\n"
      "load_profile:\n  steps:\n    - {at: 0s, factor: 20%}\n    - {at: 2h, factor: 100%}\n");
  ASSERT_TRUE(plan.has_value()) << plan.error().message;
  EXPECT_EQ(load_factor(*plan, 1h), 0.2);
  const Plan scaled = with_load_factor(*plan, load_factor(*plan, 1h));
  EXPECT_DOUBLE_EQ(scaled.phases[0].load, 0.1);
  EXPECT_DOUBLE_EQ(scaled.phases[1].load, 0.02);
  const Plan peak = with_load_factor(*plan, load_factor(*plan, 2h));
  EXPECT_EQ(peak.phases[0].load, 0.5);
  EXPECT_EQ(peak.phases[1].load, 0.1);
}

TEST(LoadProfile, BadInputNamesTheFieldAndTheValue) {
  EXPECT_EQ(
      error_of(parse("type: load\nload_profile:\n  daily: []\n")),
      R"(plans/x.yaml:2: load_profile: only a plan of type soak has a load profile (this one is load), )"
      R"(got a mapping)");
  EXPECT_EQ(error_of(parse(soak_with("  steps:\n    - {at: 0s, factor: 20%}\n    - {at: 8h, factor: 50%}\n"
                                     "    - {at: 4h, factor: 100%}\n"))),
            R"(plans/x.yaml:10: load_profile.steps[2].at: must be after the step before it (8h), got "4h")");
  EXPECT_EQ(
      error_of(parse(soak_with("  steps:\n    - {at: 0s, factor: 20%}\n    - {at: 0s, factor: 50%}\n"))),
      R"(plans/x.yaml:9: load_profile.steps[1].at: must be after the step before it (0s), got "0s")");
  EXPECT_EQ(error_of(parse(soak_with("  steps:\n    - {at: 1h, factor: 20%}\n"))),
            R"(plans/x.yaml:8: load_profile.steps[0].at: the first step must be at 0s (the factor from the )"
            R"(soak's start), got "1h")");
  EXPECT_EQ(error_of(parse(soak_with("  steps:\n    - {at: 0s, factor: 0%}\n"))),
            R"(plans/x.yaml:8: load_profile.steps[0].factor: must be above 0% and at most 100% (it scales )"
            R"(every phase's load, which is the peak), got "0%")");
  EXPECT_EQ(error_of(parse(soak_with("  steps:\n    - {at: 0s, factor: 150%}\n"))),
            R"(plans/x.yaml:8: load_profile.steps[0].factor: must be above 0% and at most 100% (it scales )"
            R"(every phase's load, which is the peak), got "150%")");
  EXPECT_EQ(
      error_of(parse(soak_with("  steps:\n    - {at: 0s, factor: lots}\n"))),
      R"(plans/x.yaml:8: load_profile.steps[0].factor: not a ratio, got "lots" (use e.g. 99.9% or 0.001))");
  EXPECT_EQ(error_of(parse(soak_with("  steps:\n    - {at: 0s}\n"))),
            R"(plans/x.yaml:8: load_profile.steps[0]: missing key "factor")");
  EXPECT_EQ(error_of(parse(soak_with("  steps:\n    - {at: 0s, factor: 20%, ramp: 1h}\n"))),
            R"(plans/x.yaml:8: load_profile.steps[0]: unknown key "ramp" (expected one of: at, factor))");
  EXPECT_EQ(error_of(parse(soak_with("  steps: []\n"))),
            R"(plans/x.yaml:7: load_profile.steps: must list at least one step, got none)");
  EXPECT_EQ(error_of(parse(soak_with(daily(23)))),
            R"(plans/x.yaml:7: load_profile.daily: must list 24 factors (one per hour of the day), got 23)");
  EXPECT_EQ(error_of(parse(soak_with(daily(25)))),
            R"(plans/x.yaml:7: load_profile.daily: must list 24 factors (one per hour of the day), got 25)");
  EXPECT_EQ(error_of(parse(soak_with(daily(24, "101%")))),
            R"(plans/x.yaml:7: load_profile.daily[0]: must be above 0% and at most 100% (it scales every )"
            R"(phase's load, which is the peak), got "101%")");
  EXPECT_EQ(error_of(parse(soak_with("  hourly: [1]\n"))),
            R"(plans/x.yaml:7: load_profile: unknown key "hourly" (expected one of: steps, daily))");
  EXPECT_EQ(error_of(parse(soak_with("  {}\n"))),
            R"(plans/x.yaml:6: load_profile: must have steps or daily, got a mapping)");
  EXPECT_EQ(error_of(parse(soak_with("  steps: [{at: 0s, factor: 1}]\n" + daily(24)))),
            R"(plans/x.yaml:6: load_profile: give either steps or daily, not both)");
  EXPECT_EQ(error_of(parse("type: soak\nload_profile: 50%\n")),
            R"(plans/x.yaml:2: load_profile: must be a mapping, got "50%")");
}

}  // namespace
}  // namespace kp::config
