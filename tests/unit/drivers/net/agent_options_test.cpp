#include "drivers/net/agent.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::net {
namespace {

std::string client_error(ClientAgentOptions options) {
  if (options.server.empty()) {
    options.server = "10.237.0.2:7410";
  }
  Result<ClientOptions> parsed = to_client_options(options);
  return parsed ? std::string("parsed") : parsed.error().message;
}

TEST(ClientFlags, DefaultsPerScenario) {
  ClientAgentOptions options;
  options.server = "10.237.0.2:7410";
  Result<ClientOptions> tcp = to_client_options(options);
  ASSERT_TRUE(tcp) << tcp.error().message;
  EXPECT_EQ(tcp->spec.message_size, 128u * 1024);
  EXPECT_EQ(tcp->spec.duration, std::chrono::seconds(10));
  EXPECT_FALSE(tcp->spec.rate);
  options.scenario = "UDP_STREAM";
  Result<ClientOptions> udp = to_client_options(options);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->spec.message_size, 1400u);  // one 1500-byte frame with IP and UDP headers
}

TEST(ClientFlags, ParsesUnits) {
  ClientAgentOptions options;
  options.server = "[fd00::2]:7410";
  options.scenario = "TCP_RR";
  options.duration = "1.5s";
  options.warmup = "250ms";
  options.request_size = "1KiB";
  options.response_size = "2k";
  options.rate = "10k";
  options.arrival = "poisson";
  Result<ClientOptions> parsed = to_client_options(options);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->spec.duration, std::chrono::milliseconds(1500));
  EXPECT_EQ(parsed->spec.warmup, std::chrono::milliseconds(250));
  EXPECT_EQ(parsed->spec.request_size, 1024u);
  EXPECT_EQ(parsed->spec.response_size, 2000u);
  EXPECT_EQ(parsed->spec.rate->per_second, 10000);
  EXPECT_EQ(parsed->spec.arrival, Arrival::poisson);
}

TEST(ClientFlags, BadValuesGetOneLineNamingTheFlag) {
  ClientAgentOptions zero;
  zero.scenario = "TCP_RR";
  zero.request_size = "0";
  EXPECT_EQ(client_error(zero), "--request-size: must be > 0, got 0");

  ClientAgentOptions message_zero;
  message_zero.message_size = "0";
  EXPECT_EQ(client_error(message_zero), "--message-size: must be > 0, got 0");

  ClientAgentOptions scenario;
  scenario.scenario = "TCP_FOO";
  EXPECT_EQ(client_error(scenario),
            "--scenario: must be one of TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, TCP_CRR, got \"TCP_FOO\"");

  ClientAgentOptions duration;
  duration.duration = "soon";
  EXPECT_EQ(client_error(duration), "--duration: not a duration, got \"soon\"");

  ClientAgentOptions size;
  size.request_size = "big";
  EXPECT_EQ(client_error(size), "--request-size: not a size, got \"big\"");

  ClientAgentOptions rate;
  rate.scenario = "TCP_RR";
  rate.rate = "fast";
  EXPECT_EQ(client_error(rate), "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  rate.rate = "capacity";
  EXPECT_EQ(
      client_error(rate),
      "--rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, got \"capacity\"");

  ClientAgentOptions arrival;
  arrival.arrival = "bursty";
  EXPECT_EQ(client_error(arrival), "--arrival: must be constant or poisson, got \"bursty\"");

  ClientAgentOptions server;
  server.server = "10.237.0.2";
  EXPECT_EQ(client_error(server), "--server: \"10.237.0.2\": expected host:port or [ipv6]:port");
  server.server = "10.237.0.2:http";
  EXPECT_EQ(client_error(server), "--server: \"10.237.0.2:http\": the port must be a number within 0..65535");

  ClientAgentOptions udp;
  udp.scenario = "UDP_RR";
  udp.request_size = "8";
  EXPECT_EQ(
      client_error(udp),
      "--request-size: must be at least 16 bytes for UDP_RR (each datagram carries a 16-byte header), got 8");

  for (const std::string& message : {client_error(zero), client_error(scenario), client_error(server)}) {
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(ServerFlags, HoldIsADuration) {
  ServerAgentOptions options;
  options.hold = "5ms";
  Result<ServerOptions> parsed = to_server_options(options);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->hold, std::chrono::milliseconds(5));
  options.hold = "long";
  Result<ServerOptions> bad = to_server_options(options);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "--hold: not a duration, got \"long\"");
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  options.hold = "1m";
  EXPECT_EQ(to_server_options(options).error().message, "--hold: must be at most 10s, got \"1m\"");
}

TEST(ClientFlags, CliParsesTheSubcommandFlags) {
  CLI::App app("test");
  ClientAgentOptions options;
  attach_client_options(app, options);
  std::vector<std::string> args = {"--server",  "1.2.3.4:5", "--scenario", "TCP_CRR",
                                   "--streams", "3",         "--total",    "99"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(options.server, "1.2.3.4:5");
  EXPECT_EQ(options.scenario, "TCP_CRR");
  EXPECT_EQ(options.streams, 3);
  EXPECT_EQ(options.total, 99u);
}

}  // namespace
}  // namespace kp::drivers::net
