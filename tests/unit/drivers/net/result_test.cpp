#include "drivers/net/result.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drivers/net/result_series.hpp"
#include "drivers/net/stress.hpp"

namespace kp::drivers::net {
namespace {

ClientResult sample() {
  ClientResult r;
  r.spec.scenario = Scenario::tcp_rr;
  r.spec.rate = Rate{1000};
  r.server = "10.237.1.10:80";
  r.server_hold = std::chrono::milliseconds(5);
  r.complete = false;
  r.error = "stream 0: the server closed the connection (1.20s into the 3.00s window)";
  r.measured = std::chrono::milliseconds(1200);
  r.transactions = 3;
  r.transactions_total = 4;
  r.transaction_rate = 2.5;
  r.per_second_tps = {2.0};
  r.timeouts = 1;
  const TimePoint t0{};
  for (int i = 1; i <= 3; ++i) {
    r.latency.record(t0, t0 + std::chrono::microseconds(i), t0 + std::chrono::microseconds(20 * i));
  }
  r.latency_series = {SecondSnapshot{0, 3, 3.0, 40000, 60000}};
  PacerStats stats;
  stats.sends = 4;
  stats.late_sends = 1;
  stats.max_lag = std::chrono::milliseconds(3);
  r.pacer = stats;
  SendAccount sends;
  sends.due = 5;
  sends.sent = 4;
  sends.queued_for_server = 2;
  sends.unsent_for_server = 1;
  sends.own_lateness.record(12'000);
  r.sends = sends;
  r.retransmits = 2;
  r.client_cpu =
      CpuUse{std::chrono::milliseconds(10), std::chrono::milliseconds(30), std::chrono::milliseconds(1200)};
  r.server_cpu =
      CpuUse{std::chrono::milliseconds(5), std::chrono::milliseconds(15), std::chrono::milliseconds(1190)};
  ServerReport report;
  report.bytes_received = 256;
  report.transactions = 4;
  report.connections = 1;
  report.window = std::chrono::milliseconds(1190);
  r.server_report = report;
  return r;
}

TEST(ClientResultJson, OneLineThatReadsBack) {
  const ClientResult r = sample();
  const std::string line = to_json_line(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  Result<ClientResult> back = result_from_json_line(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(to_json_line(*back), line);
  EXPECT_EQ(back->latency.corrected, r.latency.corrected);  // lossless: results of many agents merge exactly
  EXPECT_EQ(back->latency.uncorrected, r.latency.uncorrected);
  EXPECT_EQ(back->error, r.error);
  EXPECT_EQ(back->server_report, r.server_report);
  EXPECT_EQ(back->pacer->late_sends, 1u);
  // The send account travels whole: the driver judges validity from the agent's line.
  ASSERT_TRUE(back->sends);
  EXPECT_EQ(*back->sends, *r.sends);
  EXPECT_EQ(back->server_cpu, r.server_cpu);

  const nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["kind"], "kubeproof.agent.net-client");
  EXPECT_NEAR(parsed["latency"]["p50_s"].get<double>(), 40e-6, 40e-9);  // within a histogram bucket
  EXPECT_DOUBLE_EQ(parsed["cpu"]["client"]["utilization"].get<double>(), 40.0 / 1200.0);
}

TEST(ClientResultJson, TheAgentsThrottlingIsReadBackAndJudged) {
  // What cli/agent_command.cpp adds to the agent's line in a pod with a CPU quota.
  nlohmann::json line = nlohmann::json::parse(to_json_line(sample()));
  line["cpu_budget"] = {
      {"quota_cpus", 0.5},
      {"usable_cpus", 1},
      {"throttling", {{"periods", 40}, {"throttled", 10}, {"throttled_s", 0.8}, {"share", 0.25}}}};
  Result<ClientResult> back = result_from_json_line(line.dump());
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->throttling);
  EXPECT_EQ(back->throttling->throttled, 10u);
  EXPECT_EQ(back->throttling->throttled_time, std::chrono::milliseconds(800));
  const load::Validity validity = load::judge_validity(account_of(*back), 0.1);
  ASSERT_FALSE(validity.valid());
  EXPECT_NE(validity.invalid_reasons.back().find("throttled it in 25.0 %"), std::string::npos)
      << validity.invalid_reasons.back();
  // Without quota accounting (null) or from a lab agent (absent): nothing is known, nothing judged.
  line["cpu_budget"]["throttling"] = nullptr;
  back = result_from_json_line(line.dump());
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->throttling, std::nullopt);
  EXPECT_EQ(result_from_json_line(to_json_line(sample()))->throttling, std::nullopt);
}

TEST(ClientResultJson, ForeignOrTruncatedLinesAreOneLineErrors) {
  auto error_of = [](std::string_view text) {
    Result<ClientResult> r = result_from_json_line(text);
    return r ? std::string("parsed") : r.error().message;
  };
  EXPECT_EQ(error_of("Connecting to host 10.0.0.2, port 5201"), "net-client result: not a JSON object");
  EXPECT_EQ(error_of("{\"kind\":\"iperf\"}"),
            "net-client result: kind \"iperf\", expected \"kubeproof.agent.net-client\"");
  nlohmann::json line = nlohmann::json::parse(to_json_line(sample()));
  line["throughput"].erase("bits_per_second");
  EXPECT_EQ(error_of(line.dump()), "net-client result: \"throughput.bits_per_second\" is missing");
  line = nlohmann::json::parse(to_json_line(sample()));
  line["latency"]["corrected"] = "fast";
  EXPECT_EQ(error_of(line.dump()).rfind("net-client result: \"latency.corrected\" must be a histogram", 0),
            0u);
  line = nlohmann::json::parse(to_json_line(sample()));
  line["version"] = 9;
  EXPECT_EQ(error_of(line.dump()), "net-client result: version 9 is not supported");
}

// Found by fuzz_net_result's review: times and nanosecond figures beyond a Duration's range were converted
// unchecked (undefined behaviour, and CPU sums that overflowed).
TEST(ClientResultJson, FiguresBeyondADurationsRangeAreErrors) {
  auto error_of = [](const nlohmann::json& line) {
    Result<ClientResult> r = result_from_json_line(line.dump());
    return r ? std::string("parsed") : r.error().message;
  };
  nlohmann::json line = nlohmann::json::parse(to_json_line(sample()));
  line["latency"]["per_second"][0]["second"] = 1e300;
  EXPECT_EQ(error_of(line), "net-client result: \"second\" must be a number from 0 to 9.2e+18, got 1e+300");
  line = nlohmann::json::parse(to_json_line(sample()));
  line["latency"]["per_second"][0]["p99_ns"] = -5;
  EXPECT_EQ(error_of(line), "net-client result: \"p99_ns\" must be a number from 0 to 9.2e+18, got -5");
  line = nlohmann::json::parse(to_json_line(sample()));
  line["cpu"]["client"]["user_s"] = 5e9;
  EXPECT_EQ(
      error_of(line),
      "net-client result: \"cpu.client.user_s\" must be a number of seconds from 0 to 1e+08, got 5000000000");
  line = nlohmann::json::parse(to_json_line(sample()));
  line["measured_s"] = -1.0;
  EXPECT_EQ(error_of(line),
            "net-client result: \"measured_s\" must be a number of seconds from 0 to 1e+08, got -1");
  // The limits leave every real figure alone.
  line = nlohmann::json::parse(to_json_line(sample()));
  line["measured_s"] = 86400.0;
  EXPECT_EQ(error_of(line), "parsed");
}

TEST(ClientResultJson, SummaryForPeople) {
  ClientResult stream;
  stream.throughput_bps = 9.41e9;
  stream.throughput_source = "receiver";
  stream.retransmits = 12;
  stream.complete = true;
  EXPECT_EQ(summary(stream), "TCP_STREAM 9.41Gbps (receiver), 12 retransmits, client CPU 0.00");
  EXPECT_NE(summary(sample()).find("(incomplete: stream 0: the server closed the connection"),
            std::string::npos);
}

// The per-second series the report's timeline gets from a result (result_series.hpp).
TEST(ClientResultSeries, RequestResponseGivesTransactionsAndPercentilesPerSecond) {
  ClientResult r = sample();
  r.per_second_tps = {2.9, 1.1, 0.0};  // the control thread's samples
  r.latency_series = {SecondSnapshot{0, 3, 3.0, 40000, 60000}, SecondSnapshot{1, 1, 1.0, 20000, 20000}};
  const FinishedSeries series = finished_series(r, "TCP_RR net.pod_to_pod.latency.p99");
  EXPECT_EQ(series.phase, Phase::network);
  EXPECT_EQ(series.series, "TCP_RR net.pod_to_pod.latency.p99");
  EXPECT_EQ(series.offered, 1000.0);
  ASSERT_EQ(series.seconds.size(), 3u);
  EXPECT_EQ(series.seconds[0].completions, 3.0);  // the snapshot's exact count, not the sample
  EXPECT_DOUBLE_EQ(*series.seconds[0].p50, 40e-6);
  EXPECT_DOUBLE_EQ(*series.seconds[0].p99, 60e-6);
  EXPECT_EQ(series.seconds[1].completions, 1.0);
  EXPECT_EQ(series.seconds[2].completions, 0.0);  // no snapshot: no transaction ended in it
  EXPECT_FALSE(series.seconds[2].p99.has_value());
  EXPECT_FALSE(series.seconds[0].bits_per_second.has_value());

  r.latency_series.clear();  // merged from several agents: the samples, without percentiles
  const FinishedSeries merged = finished_series(r, "x");
  EXPECT_EQ(merged.seconds[0].completions, 2.9);
  EXPECT_FALSE(merged.seconds[0].p50.has_value());
}

TEST(ClientResultSeries, StreamGivesThroughputPerSecond) {
  ClientResult r;
  r.spec.scenario = Scenario::tcp_stream;
  r.per_second_bps = {9.1e9, 9.3e9};
  const FinishedSeries series = finished_series(r, "TCP_STREAM net.pod_to_pod.throughput");
  ASSERT_EQ(series.seconds.size(), 2u);
  EXPECT_EQ(series.seconds[1].bits_per_second, 9.3e9);
  EXPECT_FALSE(series.seconds[1].completions.has_value());
  EXPECT_FALSE(series.offered.has_value());
}

}  // namespace
}  // namespace kp::drivers::net
