#include "drivers/ingress/settings.hpp"

#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "drivers/ingress/driver.hpp"

namespace kp::drivers::ingress {
namespace {

Result<Settings> parse(const std::string& yaml) {
  YAML::Node node = YAML::Load(yaml);
  return parse_settings(node, "plan.yaml", "phases[5].settings");
}

TEST(IngressSettings, DefaultsWhenAbsent) {
  Result<Settings> settings = parse_settings(YAML::Node(), "plan.yaml", "phases[5].settings");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->connections, 64);
  EXPECT_TRUE(settings->rate.from_capacity_load());
  EXPECT_TRUE(settings->connection_rate.from_capacity_load());
  EXPECT_EQ(settings->stress, load::StressSettings{});
  EXPECT_TRUE(settings->connection_run);
  EXPECT_DOUBLE_EQ(settings->connection_share, 0.2);
}

TEST(IngressSettings, ReadsEveryKey) {
  Result<Settings> settings = parse(R"(
url: https://shop.example.com/healthz
paths: [/, /cart]
method: POST
body: "{}"
host: shop.example.com
headers: {X-Test: "1"}
insecure: true
cacert: /etc/ca.pem
server_name: shop.example.com
threads: 2
connections: 128
rate: 20k
arrival: poisson
timeout: 2s
connection_rate: max
connection_share: 25%
stress: {steps: [50%, 100%, 300%], bisect: 2}
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->paths.size(), 2u);
  EXPECT_EQ(settings->method, "POST");
  EXPECT_EQ(settings->headers.front().first, "X-Test");
  EXPECT_TRUE(settings->insecure);
  EXPECT_EQ(settings->threads, 2);
  EXPECT_EQ(settings->connections, 128);
  EXPECT_EQ(settings->rate, load::RateSetting::fixed_at(Rate{20000}));
  EXPECT_EQ(settings->arrival, Arrival::poisson);
  EXPECT_EQ(settings->timeout, std::chrono::seconds(2));
  EXPECT_TRUE(settings->connection_rate.is_max());
  EXPECT_DOUBLE_EQ(settings->connection_share, 0.25);
  EXPECT_EQ(settings->stress.steps, (std::vector<double>{0.5, 1.0, 3.0}));
  EXPECT_EQ(settings->stress.bisect, 2);
}

TEST(IngressSettings, RateMaxAndConnectionRateOff) {
  Result<Settings> settings = parse("rate: max\nconnection_rate: off\n");
  ASSERT_TRUE(settings);
  EXPECT_TRUE(settings->rate.is_max());
  EXPECT_FALSE(settings->connection_run);
  Result<Settings> capacity = parse("rate: capacity\nconnection_rate: 2k/s\n");
  ASSERT_TRUE(capacity) << capacity.error().message;
  EXPECT_TRUE(capacity->rate.from_capacity_load());
  EXPECT_EQ(capacity->connection_rate, load::RateSetting::fixed_at(Rate{2000}));
}

TEST(IngressSettings, ErrorsNameFileLineFieldAndEchoTheValue) {
  EXPECT_EQ(parse("rate: fast\n").error().message,
            "plan.yaml:1: phases[5].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  EXPECT_EQ(parse("rate: 0\n").error().message,
            "plan.yaml:1: phases[5].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
  EXPECT_EQ(
      parse("connections: 0\n").error().message,
      "plan.yaml:1: phases[5].settings.connections: must be a whole number within 1..1000000, got \"0\"");
  EXPECT_EQ(parse("\nurl: ftp://x/\n").error().message,
            "plan.yaml:2: phases[5].settings.url: not an http:// or https:// URL, got \"ftp://x/\"");
  EXPECT_EQ(parse("connection_rate: lots\n").error().message,
            "plan.yaml:1: phases[5].settings.connection_rate: not a rate > 0 (or \"max\", \"capacity\", "
            "\"off\"), got \"lots\"");
  EXPECT_EQ(parse("stress:\n  steps: [100%, 150%, 125%]\n").error().message,
            "plan.yaml:2: phases[5].settings.stress.steps[2]: must be above the step before it (150%), got "
            "\"125%\"");
  EXPECT_EQ(parse("stress:\n  steps: [100%, 600%]\n").error().message,
            "plan.yaml:2: phases[5].settings.stress.steps[1]: must be within 0%..500% of capacity, got "
            "\"600%\"");
  EXPECT_EQ(parse("stress:\n  bisect: -1\n").error().message,
            "plan.yaml:2: phases[5].settings.stress.bisect: must be >= 0, got \"-1\"");
  Result<Settings> unknown = parse("rps: 10\n");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("rps"), std::string::npos) << unknown.error().message;
  EXPECT_EQ(unknown.error().kind, ErrorKind::input);
}

// The driver's validate (and, when asked, prepare) for the last phase of a plan given as YAML.
struct DriverCheck {
  Result<void> valid = {};
  Result<void> prepared = {};
};

DriverCheck check_driver(const std::string& yaml, const std::string& file, bool prepare) {
  Result<config::Plan> plan = config::parse_plan(yaml, file);
  EXPECT_TRUE(plan) << plan.error().message;
  struct Sink : engine::ProgressSink {
    void message(Phase, std::string_view) override {}
  } sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{*plan, plan->phases.back(), real_clock(), cancel, sink};
  auto driver = make_driver(*plan, "/nonexistent-lab-dir");
  EXPECT_EQ(driver->phase(), Phase::ingress);
  DriverCheck out;
  out.valid = driver->validate(context);
  if (out.valid && prepare) {
    out.prepared = driver->prepare(context);
  }
  return out;
}

TEST(IngressDriver, ClusterTargetNeedsAUrl) {
  Result<void> valid =
      check_driver("name: x\ntype: smoke\ntarget: cluster\nphases:\n  - phase: ingress\n", "c.yaml", false)
          .valid;
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_NE(valid.error().message.find("phases[0].settings.url: required for --target cluster"),
            std::string::npos)
      << valid.error().message;
}

TEST(IngressDriver, LocalTargetWithoutTheLabsNginxIsUnavailable) {
  DriverCheck checked = check_driver(
      "name: x\ntype: smoke\ncapacity: {ingress_rps: 1000, ingress_connection_rate: 100}\n"
      "phases:\n  - phase: ingress\n",
      "l.yaml", true);
  ASSERT_TRUE(checked.valid) << checked.valid.error().message;
  ASSERT_FALSE(checked.prepared);
  EXPECT_EQ(checked.prepared.error().kind, ErrorKind::unavailable);  // -> SKIPPED with the reason
}

TEST(IngressDriver, AMissingCapacityIsAnInputErrorBeforeAnythingRuns) {
  Result<void> valid =
      check_driver("name: x\ntype: load\ncapacity: {ingress_rps: 1000}\nphases:\n  - phase: ingress\n",
                   "plans/x.yaml", false)
          .valid;
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_EQ(valid.error().message,
            "plans/x.yaml:5: capacity.ingress_connection_rate: is required for the ingress phase's rate "
            "(capacity x load), got nothing");
}

}  // namespace
}  // namespace kp::drivers::ingress
