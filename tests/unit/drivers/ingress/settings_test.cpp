#include "drivers/ingress/settings.hpp"

#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "drivers/ingress/driver.hpp"
#include "drivers/ingress/measurements.hpp"

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
  EXPECT_FALSE(settings->rate);
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
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->paths.size(), 2u);
  EXPECT_EQ(settings->method, "POST");
  EXPECT_EQ(settings->headers.front().first, "X-Test");
  EXPECT_TRUE(settings->insecure);
  EXPECT_EQ(settings->threads, 2);
  EXPECT_EQ(settings->connections, 128);
  EXPECT_DOUBLE_EQ(settings->rate->per_second, 20000);
  EXPECT_EQ(settings->arrival, Arrival::poisson);
  EXPECT_EQ(settings->timeout, std::chrono::seconds(2));
  EXPECT_TRUE(settings->connection_closed_loop);
  EXPECT_DOUBLE_EQ(settings->connection_share, 0.25);
}

TEST(IngressSettings, RateMaxAndConnectionRateOff) {
  Result<Settings> settings = parse("rate: max\nconnection_rate: off\n");
  ASSERT_TRUE(settings);
  EXPECT_TRUE(settings->closed_loop);
  EXPECT_FALSE(settings->connection_run);
}

TEST(IngressSettings, ErrorsNameFileLineFieldAndEchoTheValue) {
  EXPECT_EQ(parse("rate: fast\n").error().message,
            "plan.yaml:1: phases[5].settings.rate: not a rate or \"max\", got \"fast\"");
  EXPECT_EQ(
      parse("connections: 0\n").error().message,
      "plan.yaml:1: phases[5].settings.connections: must be a whole number within 1..1000000, got \"0\"");
  EXPECT_EQ(parse("\nurl: ftp://x/\n").error().message,
            "plan.yaml:2: phases[5].settings.url: not an http:// or https:// URL, got \"ftp://x/\"");
  EXPECT_EQ(parse("connection_rate: lots\n").error().message,
            "plan.yaml:1: phases[5].settings.connection_rate: not a rate, \"max\" or \"off\", got \"lots\"");
  Result<Settings> unknown = parse("rps: 10\n");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("rps"), std::string::npos) << unknown.error().message;
  EXPECT_EQ(unknown.error().kind, ErrorKind::input);
}

TEST(IngressDriver, ClusterTargetNeedsAUrl) {
  Result<config::Plan> plan =
      config::parse_plan("name: x\ntype: smoke\ntarget: cluster\nphases:\n  - phase: ingress\n", "c.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  struct Sink : engine::ProgressSink {
    void message(Phase, std::string_view) override {}
  } sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{*plan, plan->phases.back(), real_clock(), cancel, sink};
  auto driver = make_driver(*plan, "/nonexistent");
  EXPECT_EQ(driver->phase(), Phase::ingress);
  Result<void> valid = driver->validate(context);
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_NE(valid.error().message.find("phases[0].settings.url: required for --target cluster"),
            std::string::npos)
      << valid.error().message;
}

TEST(IngressDriver, LocalTargetWithoutTheLabsNginxIsUnavailable) {
  Result<config::Plan> plan =
      config::parse_plan("name: x\ntype: smoke\nphases:\n  - phase: ingress\n", "l.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  struct Sink : engine::ProgressSink {
    void message(Phase, std::string_view) override {}
  } sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{*plan, plan->phases.back(), real_clock(), cancel, sink};
  auto driver = make_driver(*plan, "/nonexistent-lab-dir");
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);  // -> SKIPPED with the reason
}

LoadResult open_loop_result() {
  LoadResult result;
  result.open_loop = true;
  result.intended_rate = 1000;
  result.window = std::chrono::seconds(10);
  result.elapsed = std::chrono::seconds(10);
  result.issued = 10000;
  result.sent_in_window = 10000;
  result.responses = 10000;
  result.status_classes[2] = 9990;
  result.status_classes[5] = 10;
  for (int i = 0; i < 10000; ++i) {
    result.latency.record(std::int64_t{1'000'000});
    result.uncorrected.record(std::int64_t{500'000});
  }
  result.pacer.sends = 10000;
  return result;
}

TEST(IngressMeasurements, RowsFromAResult) {
  std::vector<Measurement> rows = request_measurements(open_loop_result());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].metric, "ingress.rps");
  EXPECT_DOUBLE_EQ(rows[0].value, 1000);
  EXPECT_EQ(rows[1].metric, "ingress.p99");
  EXPECT_NEAR(rows[1].value, 0.001, 0.000001);
  ASSERT_TRUE(rows[1].histogram);
  EXPECT_EQ(rows[1].histogram->count(), 10000u);
  EXPECT_EQ(rows[2].metric, "ingress.error_rate_5xx");
  EXPECT_DOUBLE_EQ(rows[2].value, 0.001);
  EXPECT_TRUE(invalid_reasons(open_loop_result(), "requests").empty());
}

TEST(IngressMeasurements, OpenLoopRatesCarryTheIntendedRate) {
  std::vector<Measurement> rows = request_measurements(open_loop_result());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].offered, 1000);
  EXPECT_FALSE(rows[1].offered.has_value());  // P99 and 5xx share are no rates bounded by the offered load
  EXPECT_FALSE(rows[2].offered.has_value());

  LoadResult connections = open_loop_result();
  connections.intended_rate = 200;
  connections.connections_opened = 2000;
  std::vector<Measurement> connection_rows = connection_measurements(connections);
  ASSERT_EQ(connection_rows.size(), 1u);
  EXPECT_EQ(connection_rows[0].metric, "ingress.connection_rate");
  EXPECT_EQ(connection_rows[0].offered, 200);
}

TEST(IngressMeasurements, ClosedLoopRatesOfferNothing) {
  LoadResult closed = open_loop_result();
  closed.open_loop = false;
  closed.intended_rate = 0;
  EXPECT_FALSE(request_measurements(closed)[0].offered.has_value());
  EXPECT_FALSE(connection_measurements(closed)[0].offered.has_value());
}

TEST(IngressMeasurements, NoResponseMeansNotMeasuredNotPassed) {
  LoadResult empty;
  empty.timeouts = 5;
  std::vector<Measurement> rows = request_measurements(empty);
  ASSERT_EQ(rows.size(), 1u);  // only the rate (0): no P99, no 5xx rate
  EXPECT_EQ(rows[0].metric, "ingress.rps");
  EXPECT_FALSE(invalid_reasons(empty, "requests").empty());
}

TEST(IngressMeasurements, LateScheduleAndShortfallMakeTheRunInvalid) {
  LoadResult late = open_loop_result();
  late.pacer.late_sends = 200;  // 2 %
  std::vector<std::string> reasons = invalid_reasons(late, "requests");
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("fell behind: 2.0% of sends were late"), std::string::npos) << reasons[0];

  LoadResult short_of_rate = open_loop_result();
  short_of_rate.sent_in_window = 9800;
  reasons = invalid_reasons(short_of_rate, "requests");
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("98.0% of the intended 1000/s"), std::string::npos) << reasons[0];

  LoadResult failing = open_loop_result();
  failing.timeouts = 500;
  reasons = invalid_reasons(failing, "requests");
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_NE(reasons[0].find("got no usable response"), std::string::npos) << reasons[0];
}

}  // namespace
}  // namespace kp::drivers::ingress
