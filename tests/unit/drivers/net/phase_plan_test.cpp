#include "drivers/net/phase_plan.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::net {
namespace {

struct Input {
  explicit Input(config::TestType type, double load, const std::string& settings_yaml = "") {
    plan.source = "plans/x.yaml";
    plan.type = type;
    plan.capacity.pod_network = Bandwidth{5e9};
    phase.phase = Phase::network;
    phase.duration = std::chrono::seconds(120);
    phase.load = load;
    phase.path = "phases[2]";
    Result<Settings> parsed = parse_settings(settings_yaml.empty() ? YAML::Node() : YAML::Load(settings_yaml),
                                             "plans/x.yaml", "phases[2].settings");
    EXPECT_TRUE(parsed) << parsed.error().message;
    settings = parsed.value_or(Settings{});
  }
  Result<NetPhasePlan> resolve() const { return plan_phase(settings, plan, phase, lab::NetnsLayout{}); }

  config::Plan plan;
  config::PhasePlan phase;
  Settings settings;
};

bool has_note(const NetPhasePlan& plan, const std::string& text) {
  for (const std::string& note : plan.notes) {
    if (note.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// The same `load:` means the same in every phase: capacity x load.
TEST(NetPhasePlan, LoadMeansCapacityTimesLoad) {
  Input load(config::TestType::load, 0.8);
  Result<NetPhasePlan> plan = load.resolve();
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(plan->expected_bps);
  EXPECT_DOUBLE_EQ(*plan->expected_bps, 5e9 * 0.8);
  EXPECT_TRUE(has_note(*plan, "capacity.pod_network 5.00Gbps x load 80 %")) << plan->notes.front();

  Input smoke(config::TestType::smoke, 0.1);
  Result<NetPhasePlan> small = smoke.resolve();
  ASSERT_TRUE(small);
  EXPECT_DOUBLE_EQ(*small->expected_bps, 5e8);

  Input stress(config::TestType::stress, 1.5);
  Result<NetPhasePlan> big = stress.resolve();
  ASSERT_TRUE(big);
  EXPECT_DOUBLE_EQ(*big->expected_bps, 7.5e9);
}

TEST(NetPhasePlan, SmokeAndLoadRunTheThreeTestsOverAThirdEach) {
  Input input(config::TestType::load, 1.0);
  Result<NetPhasePlan> plan = input.resolve();
  ASSERT_TRUE(plan);
  ASSERT_EQ(plan->tests.size(), 3u);
  EXPECT_EQ(plan->tests[0].metric, "net.pod_to_pod.throughput");
  EXPECT_EQ(plan->tests[0].spec.scenario, Scenario::tcp_stream);
  EXPECT_EQ(plan->tests[1].metric, "net.pod_to_pod.latency.p99");
  EXPECT_EQ(plan->tests[2].metric, "net.pod_to_service.latency.p99");
  EXPECT_EQ(plan->tests[2].target, "10.237.1.10:80");
  for (const PlannedTest& test : plan->tests) {
    EXPECT_EQ(test.spec.duration, std::chrono::seconds(40));
  }
  // RR defaults to closed loop, and says so.
  EXPECT_FALSE(plan->tests[1].spec.rate);
  EXPECT_TRUE(has_note(*plan, "TCP_RR: rate max: closed loop"));
  EXPECT_FALSE(plan->stress());
}

TEST(NetPhasePlan, AnExplicitRrRateIsKeptAsSet) {
  Input input(config::TestType::load, 0.7, "rate: 2k\n");
  Result<NetPhasePlan> plan = input.resolve();
  ASSERT_TRUE(plan);
  ASSERT_TRUE(plan->tests[1].spec.rate);
  EXPECT_DOUBLE_EQ(plan->tests[1].spec.rate->per_second, 2000);
  EXPECT_TRUE(has_note(*plan, "set explicitly"));
}

TEST(NetPhasePlan, WithoutPodNetworkCapacityThroughputIsJudgedByTheCriteriaOnly) {
  Input input(config::TestType::load, 1.0);
  input.plan.capacity.pod_network.reset();
  Result<NetPhasePlan> plan = input.resolve();
  ASSERT_TRUE(plan);
  EXPECT_FALSE(plan->expected_bps);
  EXPECT_TRUE(has_note(*plan, "states no capacity.pod_network"));

  input.plan.capacity.pod_network = Bandwidth{0};
  Result<NetPhasePlan> zero = input.resolve();
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().kind, ErrorKind::input);
  EXPECT_EQ(zero.error().message, "plans/x.yaml: capacity.pod_network: must be > 0, got \"0.00bps\"");
}

TEST(NetPhasePlan, StressRampsStreamsAndSplitsTheTime) {
  Input input(config::TestType::stress, 1.5, "stress_streams: [1, 2, 4]\nstress:\n  bisect: 1\n");
  Result<NetPhasePlan> plan = input.resolve();
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_TRUE(plan->stress());
  // The two latency rows; throughput comes from the stream ramp.
  ASSERT_EQ(plan->tests.size(), 2u);
  EXPECT_EQ(plan->tests[0].metric, "net.pod_to_pod.latency.p99");
  EXPECT_EQ(plan->stream_steps, (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(plan->bisect, 1);
  // 120 s over four series = 30 s; the stream series over 3 steps + 1 bisection = 7.5 s a step.
  EXPECT_EQ(plan->rr_series, std::chrono::seconds(30));
  EXPECT_EQ(plan->stream_step, std::chrono::milliseconds(7500));
  EXPECT_EQ(plan->stream.duration, plan->stream_step);
  ASSERT_TRUE(plan->probe.rate);
  EXPECT_DOUBLE_EQ(plan->probe.rate->per_second, kProbeRate.per_second);

  // The RR ramp: 100 %..200 % of the base rate.
  Result<load::Schedule> schedule = rr_stress_schedule(input.settings, *plan, Rate{20000}, false);
  ASSERT_TRUE(schedule) << schedule.error().message;
  ASSERT_EQ(schedule->steps.size(), 5u);
  EXPECT_DOUBLE_EQ(schedule->steps.front().rate->per_second, 20000);
  EXPECT_DOUBLE_EQ(schedule->steps.back().rate->per_second, 40000);
  // A measured closed-loop rate: the ramp spans half of it to all of it.
  Result<load::Schedule> measured = rr_stress_schedule(input.settings, *plan, Rate{40000}, true);
  ASSERT_TRUE(measured);
  EXPECT_DOUBLE_EQ(measured->steps.front().rate->per_second, 20000);
  EXPECT_DOUBLE_EQ(measured->steps.back().rate->per_second, 40000);
  EXPECT_NE(measured->notes.front().find("half the closed-loop TCP_RR rate"), std::string::npos)
      << measured->notes.front();
  EXPECT_EQ(schedule->bisect, 1);
  EXPECT_EQ(schedule->steps.front().duration, std::chrono::seconds(5));  // 30 s over 5 + 1
}

}  // namespace
}  // namespace kp::drivers::net
