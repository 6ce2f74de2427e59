#include "drivers/net/merge.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::net {
namespace {

ClientResult rr(int first_us, int count, bool complete = true) {
  ClientResult r;
  r.spec.scenario = Scenario::tcp_rr;
  r.spec.streams = 1;
  r.spec.rate = Rate{500};
  r.complete = complete;
  r.error = complete ? "" : "stream 0: reset";
  r.measured = std::chrono::seconds(2);
  r.transactions = static_cast<std::uint64_t>(count);
  r.transaction_rate = count / 2.0;
  r.per_second_tps = {count / 2.0, count / 2.0};
  const TimePoint t0{};
  for (int i = 0; i < count; ++i) {
    r.latency.record(t0, t0, t0 + std::chrono::microseconds(first_us + i));
  }
  SendAccount sends;
  sends.due = static_cast<std::uint64_t>(count);
  sends.sent = static_cast<std::uint64_t>(count);
  r.sends = sends;
  r.client_cpu =
      CpuUse{std::chrono::milliseconds(100), std::chrono::milliseconds(100), std::chrono::seconds(2)};
  return r;
}

TEST(NetSplitSpec, StreamsAndRateAreSharedOut) {
  TestSpec spec;
  spec.scenario = Scenario::tcp_rr;
  spec.streams = 5;
  spec.rate = Rate{1000};
  Result<std::vector<TestSpec>> parts = split_spec(spec, 2);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].streams, 3);
  EXPECT_EQ((*parts)[1].streams, 2);
  EXPECT_DOUBLE_EQ((*parts)[0].rate->per_second, 600);
  EXPECT_DOUBLE_EQ((*parts)[1].rate->per_second, 400);

  Result<std::vector<TestSpec>> too_many = split_spec(spec, 6);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().message, "6 agents cannot share 5 streams: every agent needs at least one");
}

// Two agents' latencies merged are exactly the latencies recorded in one histogram: the P99 is read from the
// merged histogram, not averaged from the two P99s.
TEST(NetMergeResults, HistogramsMergeExactlyAndCountsAddUp) {
  const ClientResult fast = rr(100, 1000);
  const ClientResult slow = rr(5000, 100);
  Result<ClientResult> merged = merge_results({fast, slow});
  ASSERT_TRUE(merged) << merged.error().message;

  LatencyRecorder together;
  together.merge(fast.latency);
  together.merge(slow.latency);
  EXPECT_EQ(merged->latency.corrected.count(), 1100u);
  EXPECT_EQ(merged->latency.corrected.value_at_percentile(99), together.corrected.value_at_percentile(99));
  const double averaged =
      (fast.latency.corrected.value_at_percentile(99) + slow.latency.corrected.value_at_percentile(99)) / 2.0;
  EXPECT_NE(double(merged->latency.corrected.value_at_percentile(99)), averaged);

  EXPECT_EQ(merged->transactions, 1100u);
  EXPECT_DOUBLE_EQ(merged->transaction_rate, 550);
  EXPECT_EQ(merged->per_second_tps, (std::vector<double>{550, 550}));
  EXPECT_EQ(merged->spec.streams, 2);
  EXPECT_DOUBLE_EQ(merged->spec.rate->per_second, 1000);
  ASSERT_TRUE(merged->sends);
  EXPECT_EQ(merged->sends->due, 1100u);
  EXPECT_DOUBLE_EQ(merged->client_cpu.utilization(), 0.2);
  EXPECT_TRUE(merged->complete);
}

TEST(NetMergeResults, ThroughputAddsUpAndOneIncompleteAgentMakesItIncomplete) {
  ClientResult a;
  a.spec.scenario = Scenario::tcp_stream;
  a.throughput_bps = 4e9;
  a.throughput_source = "receiver";
  a.measured = std::chrono::seconds(3);
  a.complete = true;
  ClientResult b = a;
  b.throughput_bps = 3e9;
  b.complete = false;
  b.error = "server closed the connection";
  b.measured = std::chrono::seconds(2);
  Result<ClientResult> merged = merge_results({a, b});
  ASSERT_TRUE(merged);
  EXPECT_DOUBLE_EQ(merged->throughput_bps, 7e9);
  EXPECT_FALSE(merged->complete);
  EXPECT_EQ(merged->error, "agent 1: server closed the connection");
  EXPECT_EQ(merged->measured, std::chrono::seconds(2));
}

TEST(NetMergeResults, MixedScenariosAndNothingAreErrors) {
  ClientResult stream;
  stream.spec.scenario = Scenario::tcp_stream;
  EXPECT_FALSE(merge_results({rr(1, 1), stream}));
  EXPECT_FALSE(merge_results({}));
}

TEST(NetMergeResults, AgentSummaryNamesAgentNodeAndServer) {
  ClientResult r = rr(100, 10);
  r.server = "10.1.0.5:7410";
  const std::string text = agent_summary("net-client-cross-node-3", "node-b", r);
  EXPECT_TRUE(text.starts_with("net-client-cross-node-3 on node-b -> 10.1.0.5:7410: TCP_RR")) << text;
}

}  // namespace
}  // namespace kp::drivers::net
