#include "drivers/net/test_spec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kp::drivers::net {
namespace {

std::string flag_error(const TestSpec& spec) {
  Result<void> ok = validate(spec, FieldStyle::flag);
  return ok ? std::string("valid") : ok.error().message;
}

TEST(TestSpec, ScenarioNamesAreNetperfs) {
  for (std::string_view name : {"TCP_STREAM", "UDP_STREAM", "TCP_RR", "UDP_RR", "TCP_CRR"}) {
    std::optional<Scenario> scenario = parse_scenario(name);
    ASSERT_TRUE(scenario) << name;
    EXPECT_EQ(to_string(*scenario), name);
  }
  EXPECT_FALSE(parse_scenario("tcp_stream"));
  EXPECT_FALSE(parse_scenario("TCP_MAERTS"));
}

TEST(TestSpec, DefaultsAreValid) {
  EXPECT_EQ(flag_error(TestSpec{}), "valid");
}

TEST(TestSpec, ErrorsNameTheFieldInTheCallersStyle) {
  TestSpec zero;
  zero.scenario = Scenario::tcp_rr;
  zero.request_size = 0;
  EXPECT_EQ(flag_error(zero), "--request-size: must be > 0, got 0");
  Result<void> as_key = validate(zero, FieldStyle::key);
  ASSERT_FALSE(as_key);
  EXPECT_EQ(as_key.error().message, "request_size: must be > 0, got 0");
  EXPECT_EQ(as_key.error().kind, ErrorKind::usage);

  TestSpec stream;
  stream.message_size = 0;
  EXPECT_EQ(flag_error(stream), "--message-size: must be > 0, got 0");

  TestSpec udp;
  udp.scenario = Scenario::udp_rr;
  udp.response_size = 8;
  EXPECT_EQ(flag_error(udp),
            "--response-size: must be at least 16 bytes for UDP_RR (each datagram carries a 16-byte header), "
            "got 8");
  udp.response_size = 70000;
  EXPECT_EQ(flag_error(udp), "--response-size: must be at most 65507 for UDP_RR, got 70000");

  TestSpec streams;
  streams.streams = 0;
  EXPECT_EQ(flag_error(streams), "--streams: must be within 1..256, got 0");
  streams.streams = 257;
  EXPECT_EQ(flag_error(streams), "--streams: must be within 1..256, got 257");

  TestSpec duration;
  duration.duration = Duration::zero();
  EXPECT_EQ(flag_error(duration), "--duration: must be > 0 and at most 12h, got 0ns");

  TestSpec rate;
  rate.rate = Rate{100};
  EXPECT_EQ(flag_error(rate),
            "--rate: applies to TCP_RR, UDP_RR and TCP_CRR, not TCP_STREAM (use --bandwidth for UDP_STREAM)");
  TestSpec bandwidth;
  bandwidth.bandwidth = Bandwidth{1e9};
  EXPECT_EQ(flag_error(bandwidth), "--bandwidth: applies to UDP_STREAM only, not TCP_STREAM");

  TestSpec total;
  total.total = 0;
  EXPECT_EQ(flag_error(total), "--total: must be > 0, got 0");
}

TEST(TestSpec, WireFormRoundTrips) {
  TestSpec spec;
  spec.scenario = Scenario::udp_stream;
  spec.streams = 4;
  spec.duration = std::chrono::milliseconds(2500);
  spec.warmup = std::chrono::milliseconds(100);
  spec.message_size = 1400;
  spec.bandwidth = Bandwidth{2.5e9};
  spec.total = 1000;
  Result<TestSpec> back = spec_from_json(to_json(spec));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_json(*back), to_json(spec));
  EXPECT_EQ(back->bandwidth->bits_per_second, 2.5e9);
  EXPECT_EQ(back->duration, spec.duration);
}

TEST(TestSpec, DescribeIsOneReadableLine) {
  TestSpec rr;
  rr.scenario = Scenario::tcp_rr;
  rr.duration = std::chrono::seconds(20);
  EXPECT_EQ(describe(rr), "TCP_RR, 1 stream, 64 B/64 B, closed loop, 20.00s (+1.00s warm-up)");
  TestSpec stream;
  stream.streams = 2;
  EXPECT_EQ(describe(stream), "TCP_STREAM, 2 streams, 128 KiB messages, 10.00s (+1.00s warm-up)");
}

}  // namespace
}  // namespace kp::drivers::net
