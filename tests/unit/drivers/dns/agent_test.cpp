#include "drivers/dns/agent.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

AgentOptions with_rate(std::string rate) {
  AgentOptions options;
  options.server = "127.0.0.1:5353";
  options.rate = std::move(rate);
  return options;
}

// The agent's --rate goes through the kernel's flag reader, so it means what a plan's `rate:` means.
TEST(DnsAgent, RateFlagIsTheKernelsRateSetting) {
  Result<AgentPlan> fixed = to_agent_plan(with_rate("5k"));
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_EQ(fixed->settings.rate, load::RateSetting::fixed_at(Rate{5000}));
  ASSERT_TRUE(fixed->shape.load.rate);
  EXPECT_DOUBLE_EQ(fixed->shape.load.rate->per_second, 5000);

  Result<AgentPlan> max = to_agent_plan(with_rate("max"));
  ASSERT_TRUE(max);
  EXPECT_FALSE(max->shape.load.rate);

  Result<AgentPlan> bad = to_agent_plan(with_rate("fast"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  EXPECT_EQ(bad.error().message, "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");

  // An agent has no plan, so no capacity to scale.
  Result<AgentPlan> capacity = to_agent_plan(with_rate("capacity"));
  ASSERT_FALSE(capacity);
  EXPECT_EQ(
      capacity.error().message,
      "--rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, got \"capacity\"");
}

}  // namespace
}  // namespace kp::drivers::dns
