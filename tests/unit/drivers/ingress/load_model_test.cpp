// `load:` means capacity x load for ingress as in every phase: the rates come from the load kernel's
// resolver, for both series (requests from capacity.ingress_rps, connections from
// capacity.ingress_connection_rate).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "drivers/ingress/settings.hpp"

namespace kp::drivers::ingress {
namespace {

struct Resolved {
  config::Plan plan;
  Result<Schedules> schedules;
};

Resolved resolve(const std::string& type, const std::string& load, const std::string& settings = "") {
  std::string yaml = fmt::format(
      "name: x\ntype: {}\ncapacity:\n  ingress_rps: 2000\n  ingress_connection_rate: 400/s\nphases:\n"
      "  - phase: ingress\n    duration: {}\n    load: {}\n{}",
      type, type == "stress" ? "10m" : (type == "load" ? "30m" : "5m"), load, settings);
  Result<config::Plan> plan = config::parse_plan(yaml, "plans/x.yaml");
  EXPECT_TRUE(plan) << plan.error().message;
  const config::PhasePlan& phase = plan->phases.back();
  Result<Settings> parsed = parse_settings(phase.settings, "plans/x.yaml", "phases[0].settings");
  EXPECT_TRUE(parsed) << parsed.error().message;
  return Resolved{*plan, resolve_schedules(*parsed, *plan, phase)};
}

TEST(IngressLoadModel, LoadIsCapacityTimesLoadForBothSeries) {
  Resolved smoke = resolve("smoke", "35%");
  ASSERT_TRUE(smoke.schedules) << smoke.schedules.error().message;
  ASSERT_EQ(smoke.schedules->requests.steps.size(), 1u);
  EXPECT_DOUBLE_EQ(smoke.schedules->requests.rate()->per_second, 700);  // 2000 x 35 %
  ASSERT_TRUE(smoke.schedules->connections);
  EXPECT_DOUBLE_EQ(smoke.schedules->connections->rate()->per_second, 140);  // 400 x 35 %
  // The connection run takes connection_share (20 %) of the phase, the request run the rest.
  EXPECT_EQ(smoke.schedules->requests.steps.front().duration, std::chrono::seconds(240));
  EXPECT_EQ(smoke.schedules->connections->steps.front().duration, std::chrono::seconds(60));

  Resolved load = resolve("load", "80%");
  ASSERT_TRUE(load.schedules) << load.schedules.error().message;
  EXPECT_DOUBLE_EQ(load.schedules->requests.rate()->per_second, 1600);
  EXPECT_DOUBLE_EQ(load.schedules->connections->rate()->per_second, 320);
}

TEST(IngressLoadModel, AnExplicitRateReplacesCapacityTimesLoadAndMaxIsClosedLoop) {
  Resolved fixed = resolve("load", "80%", "    settings: {rate: 5k, connection_rate: max}\n");
  ASSERT_TRUE(fixed.schedules) << fixed.schedules.error().message;
  EXPECT_DOUBLE_EQ(fixed.schedules->requests.rate()->per_second, 5000);
  EXPECT_TRUE(fixed.schedules->connections->closed_loop());

  Resolved off = resolve("smoke", "10%", "    settings: {connection_rate: off}\n");
  ASSERT_TRUE(off.schedules) << off.schedules.error().message;
  EXPECT_FALSE(off.schedules->connections);
  EXPECT_EQ(off.schedules->requests.steps.front().duration, std::chrono::minutes(5));
}

TEST(IngressLoadModel, StressRampsFromCapacityNotFromLoad) {
  // The same ramp at any load: 100 %..200 % of capacity, the spec's stress test.
  for (const char* load : {"150%", "200%"}) {
    Resolved stress = resolve("stress", load);
    ASSERT_TRUE(stress.schedules) << stress.schedules.error().message;
    const load::Schedule& requests = stress.schedules->requests;
    ASSERT_TRUE(requests.stress());
    std::vector<double> rates;
    for (const load::Step& step : requests.steps) {
      rates.push_back(step.rate->per_second);
    }
    EXPECT_EQ(rates, (std::vector<double>{2000, 2500, 3000, 3500, 4000})) << load;
    EXPECT_EQ(requests.bisect, 3);
    EXPECT_DOUBLE_EQ(stress.schedules->connections->steps.back().rate->per_second, 800);
  }
  Resolved own = resolve("stress", "150%", "    settings: {stress: {steps: [50%, 100%], bisect: 0}}\n");
  ASSERT_TRUE(own.schedules) << own.schedules.error().message;
  ASSERT_EQ(own.schedules->requests.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(own.schedules->requests.steps.front().rate->per_second, 1000);
  EXPECT_EQ(own.schedules->requests.bisect, 0);
}

TEST(IngressLoadModel, AZeroOrMissingCapacityIsAnInputError) {
  Result<config::Plan> plan = config::parse_plan(
      "name: x\ntype: smoke\ncapacity: {ingress_connection_rate: 100}\nphases:\n  - phase: ingress\n",
      "plans/x.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  Result<Schedules> schedules = resolve_schedules(Settings{}, *plan, plan->phases.back());
  ASSERT_FALSE(schedules);
  EXPECT_EQ(schedules.error().kind, ErrorKind::input);
  EXPECT_EQ(
      schedules.error().message,
      "plans/x.yaml:5: capacity.ingress_rps: is required for the ingress phase's rate (capacity x load), "
      "got nothing");
  // An explicit rate needs no capacity.
  Settings fixed;
  fixed.rate = load::RateSetting::fixed_at(Rate{300});
  EXPECT_TRUE(resolve_schedules(fixed, *plan, plan->phases.back()));
}

}  // namespace
}  // namespace kp::drivers::ingress
