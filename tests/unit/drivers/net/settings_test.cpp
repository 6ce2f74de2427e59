#include "drivers/net/settings.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::net {
namespace {

Result<Settings> parse(const std::string& yaml) {
  return parse_settings(YAML::Load(yaml), "plans/x.yaml", "phases[2].settings");
}

std::string parse_error(const std::string& yaml) {
  Result<Settings> settings = parse(yaml);
  return settings ? std::string("parsed") : settings.error().message;
}

TEST(NetSettings, NullGivesDefaults) {
  Result<Settings> settings = parse_settings(YAML::Node(), "plans/x.yaml", "phases[2].settings");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->streams, 1);
  EXPECT_EQ(settings->request_size, 64u);
  EXPECT_TRUE(settings->rate.is_max());
  EXPECT_EQ(settings->stress, load::StressSettings{});
  EXPECT_EQ(settings->stress_streams, (std::vector<int>{1, 2, 4, 8, 16}));
  EXPECT_FALSE(settings->duration);
  EXPECT_EQ(test_duration(*settings, std::chrono::minutes(2)), std::chrono::seconds(40));
  EXPECT_EQ(test_duration(*settings, std::chrono::seconds(1)), std::chrono::seconds(1));
}

TEST(NetSettings, ParsesEveryKey) {
  Result<Settings> settings = parse(R"(
duration: 20s
warmup: 500ms
streams: 4
message_size: 64KiB
request_size: 1KiB
response_size: 2KiB
rate: 5k
arrival: poisson
client_cpu: 0
server_cpu: 1
response_timeout: 1s
connect_timeout: 3s
stress:
  steps: [50%, 100%]
  bisect: 2
stress_streams: [1, 3, 9]
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->duration, std::chrono::seconds(20));
  EXPECT_EQ(settings->warmup, std::chrono::milliseconds(500));
  EXPECT_EQ(settings->streams, 4);
  EXPECT_EQ(settings->message_size, 65536u);
  EXPECT_EQ(settings->request_size, 1024u);
  EXPECT_EQ(settings->response_size, 2048u);
  EXPECT_EQ(settings->rate, load::RateSetting::fixed_at(Rate{5000}));
  EXPECT_EQ(settings->stress, (load::StressSettings{{0.5, 1.0}, 2}));
  EXPECT_EQ(settings->stress_streams, (std::vector<int>{1, 3, 9}));
  EXPECT_EQ(settings->arrival, Arrival::poisson);
  EXPECT_EQ(settings->client_cpu, 0);
  EXPECT_EQ(settings->server_cpu, 1);
  EXPECT_EQ(settings->response_timeout, std::chrono::seconds(1));
  EXPECT_EQ(settings->connect_timeout, std::chrono::seconds(3));
  EXPECT_EQ(test_duration(*settings, std::chrono::minutes(2)), std::chrono::seconds(20));
  Result<Settings> closed = parse("rate: max");
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->rate.is_max());
}

TEST(NetSettings, ErrorsNameFileLineFieldAndValue) {
  EXPECT_EQ(
      parse_error("streams: 1\nbandwith: 5Gbps\n"),
      "plans/x.yaml:2: phases[2].settings: unknown key \"bandwith\" (expected one of: duration, warmup, "
      "streams, message_size, request_size, response_size, rate, arrival, client_cpu, server_cpu, "
      "response_timeout, connect_timeout, stress, stress_streams, placements, host_network_baseline, pairs, "
      "pods)");
  EXPECT_EQ(parse_error("request_size: 0"),
            "plans/x.yaml:1: phases[2].settings.request_size: must be > 0, got \"0\"");
  EXPECT_EQ(parse_error("message_size: huge"),
            "plans/x.yaml:1: phases[2].settings.message_size: not a size, got \"huge\"");
  EXPECT_EQ(parse_error("streams: 0"),
            "plans/x.yaml:1: phases[2].settings.streams: must be within 1..256, got \"0\"");
  EXPECT_EQ(parse_error("streams: two"),
            "plans/x.yaml:1: phases[2].settings.streams: must be a whole number, got \"two\"");
  EXPECT_EQ(parse_error("rate: 0"),
            "plans/x.yaml:1: phases[2].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
  EXPECT_EQ(parse_error("rate: capacity"),
            "plans/x.yaml:1: phases[2].settings.rate: the request/response rate has no capacity field "
            "(capacity.pod_network is the streams' bandwidth): give a rate > 0 or max, got \"capacity\"");
  EXPECT_EQ(parse_error("stress:\n  steps: [150%, 125%]\n"),
            "plans/x.yaml:2: phases[2].settings.stress.steps[1]: must be above the step before it (150%), "
            "got \"125%\"");
  EXPECT_EQ(parse_error("stress:\n  bisect: -1\n"),
            "plans/x.yaml:2: phases[2].settings.stress.bisect: must be >= 0, got \"-1\"");
  EXPECT_EQ(parse_error("stress_streams: [1, 4, 2]"),
            "plans/x.yaml:1: phases[2].settings.stress_streams[2]: must be above the step before it (4), got "
            "\"2\"");
  EXPECT_EQ(parse_error("stress_streams: [0]"),
            "plans/x.yaml:1: phases[2].settings.stress_streams[0]: must be within 1..256, got \"0\"");
  EXPECT_EQ(parse_error("arrival: bursty"),
            "plans/x.yaml:1: phases[2].settings.arrival: must be one of: constant, poisson, got \"bursty\"");
  EXPECT_EQ(parse_error("duration: 0s"),
            "plans/x.yaml:1: phases[2].settings.duration: must be > 0, got \"0s\"");
  EXPECT_EQ(parse_error("[1, 2]"), "plans/x.yaml:1: phases[2].settings: must be a mapping, got a list");
}

}  // namespace
}  // namespace kp::drivers::net
