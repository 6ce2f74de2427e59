#include "load/rate_setting.hpp"

#include <gtest/gtest.h>

namespace kp::load {
namespace {

config::YamlField field(const std::string& yaml) {
  Result<config::YamlField> root = config::parse_yaml("rate: " + yaml + "\n", "plans/x.yaml");
  EXPECT_TRUE(root.has_value());
  return *config::YamlMap::open(config::YamlField(root->node(), "plans/x.yaml", "phases[3].settings"),
                                {"rate"})
              ->get("rate");
}

TEST(RateSetting, ParsesTheThreeKinds) {
  EXPECT_EQ(*parse_rate_setting("max"), RateSetting::maximum());
  EXPECT_EQ(*parse_rate_setting("capacity"), RateSetting::from_capacity());
  Result<RateSetting> fixed = parse_rate_setting("1500/s");
  ASSERT_TRUE(fixed.has_value());
  EXPECT_TRUE(fixed->is_fixed());
  EXPECT_DOUBLE_EQ(fixed->rate.per_second, 1500);
  EXPECT_DOUBLE_EQ(parse_rate_setting("10k")->rate.per_second, 10000);
}

TEST(RateSetting, RejectsZeroNegativeAndWords) {
  for (std::string_view bad : {"0", "-5", "fast", "", "0/s"}) {
    EXPECT_FALSE(parse_rate_setting(bad).has_value()) << bad;
  }
}

TEST(RateSetting, YamlErrorNamesFileLineFieldAndValue) {
  Result<RateSetting> bad = read_rate_setting(field("fast"));
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(
      bad.error().message,
      "plans/x.yaml:1: phases[3].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  EXPECT_TRUE(read_rate_setting(field("max"))->is_max());
}

TEST(RateSetting, FlagErrorIsUsageAndNamesTheFlag) {
  Result<RateSetting> bad = flag_rate_setting("rate", "0");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  EXPECT_EQ(bad.error().message, "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
  EXPECT_DOUBLE_EQ(flag_rate_setting("rate", "250")->rate.per_second, 250);
}

TEST(RateSetting, AnAgentRefusesCapacityWithOneText) {
  Result<RateSetting> capacity = agent_rate_setting("rate", "capacity");
  ASSERT_FALSE(capacity.has_value());
  EXPECT_EQ(capacity.error().kind, ErrorKind::usage);
  EXPECT_EQ(
      capacity.error().message,
      "--rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, got \"capacity\"");
  EXPECT_TRUE(agent_rate_setting("rate", "max")->is_max());
  EXPECT_DOUBLE_EQ(agent_rate_setting("rate", "1k")->rate.per_second, 1000);
  EXPECT_EQ(agent_rate_setting("rate", "0").error().message,
            "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
}

TEST(RateSetting, SaysWhatItIs) {
  EXPECT_EQ(to_string(RateSetting::maximum()), "max");
  EXPECT_EQ(to_string(RateSetting::from_capacity()), "capacity x load");
}

}  // namespace
}  // namespace kp::load
