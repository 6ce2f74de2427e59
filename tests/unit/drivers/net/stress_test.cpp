// The network phase's two breaking-point searches, driven with made-up client results (the lab runs the real
// ones in tests/integration/net), and the client's account for the validity rule.

#include "drivers/net/stress.hpp"

#include <map>

#include <gtest/gtest.h>

#include "drivers/net/phase_plan.hpp"

namespace kp::drivers::net {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

ClientResult stream_result(double bps) {
  ClientResult r;
  r.spec.scenario = Scenario::tcp_stream;
  r.complete = true;
  r.measured = std::chrono::seconds(2);
  r.throughput_bps = bps;
  return r;
}

// An RR result with every round trip `rtt` long, `rate` transactions/s achieved.
ClientResult rr_result(double offered, double achieved, Duration rtt) {
  ClientResult r;
  r.spec.scenario = Scenario::tcp_rr;
  r.spec.rate = Rate{offered};
  r.complete = true;
  r.measured = std::chrono::seconds(1);
  r.transaction_rate = achieved;
  r.transactions = static_cast<std::uint64_t>(achieved);
  const TimePoint t0{};
  for (int i = 0; i < 100; ++i) {
    r.latency.record(t0, t0, t0 + rtt);
  }
  return r;
}

auto never = [] { return false; };

TEST(NetStress, StreamsBreakWhenThroughputStopsGrowing) {
  // 1 -> 2 streams doubles, 2 -> 4 adds 2 %: no more capacity at 4; bisection finds 3 grows 10 %.
  const std::map<int, double> carried = {{1, 4e9}, {2, 8e9}, {3, 8.8e9}, {4, 8.16e9}};
  std::vector<int> ran;
  StreamSearch search = search_streams(
      {1, 2, 4, 8, 16}, 3, 0.005,
      [&](int streams, bool) {
        ran.push_back(streams);
        return StreamStepResult{stream_result(carried.at(streams)), rr_result(1000, 1000, microseconds(50))};
      },
      never, {});
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 4, 3}));
  const load::StressResult& result = search.result;
  EXPECT_EQ(result.metric, "net.pod_to_pod.breaking_streams");
  ASSERT_TRUE(result.breaking_level);
  EXPECT_EQ(*result.breaking_level, 4);
  EXPECT_EQ(*result.last_held, 3);
  EXPECT_NE(result.steps[2].broke.find("grew 2.0 % over 8.00Gbps at 2 streams (less than 5 %)"),
            std::string::npos)
      << result.steps[2].broke;
  EXPECT_DOUBLE_EQ(search.best_bps, 8.8e9);
  ASSERT_TRUE(search.best);
  EXPECT_DOUBLE_EQ(search.best->throughput_bps, 8.8e9);
}

TEST(NetStress, StreamsBreakWhenTheLatencyAlongsideCrossesCritical) {
  StreamSearch search = search_streams(
      {1, 2, 4}, 0, 0.005,
      [&](int streams, bool) {
        return StreamStepResult{stream_result(streams * 1e9),
                                rr_result(1000, 1000, streams >= 2 ? milliseconds(8) : microseconds(50))};
      },
      never, {});
  ASSERT_TRUE(search.result.breaking_level);
  EXPECT_EQ(*search.result.breaking_level, 2);
  EXPECT_NE(search.result.steps[1].broke.find("P99 8"), std::string::npos) << search.result.steps[1].broke;
  EXPECT_NE(search.result.steps[1].broke.find("> critical 5"), std::string::npos);
}

TEST(NetStress, AStreamStepThatCouldNotRunBreaksSayingWhy) {
  StreamSearch search =
      search_streams({1, 2}, 0, 0.005,
                     [&](int, bool) {
                       return StreamStepResult{std::unexpected(Error{ErrorKind::network, "cannot connect"}),
                                               rr_result(1000, 1000, microseconds(50))};
                     },
                     never, {});
  ASSERT_EQ(search.result.steps.size(), 1u);
  EXPECT_EQ(search.result.steps[0].broke, "not measured: cannot connect");
  EXPECT_FALSE(search.best);
}

TEST(NetStress, RateBreaksWhenAchievedFallsShortOrP99CrossesCritical) {
  // One connection carries 30k/s; above that the backlog's latency grows.
  auto step = [](Rate rate, bool) -> Result<ClientResult> {
    const double achieved = std::min(rate.per_second, 30000.0);
    return rr_result(rate.per_second, achieved,
                     rate.per_second > 30000 ? milliseconds(20) : microseconds(40));
  };
  std::vector<std::string> lines;
  load::StressResult result =
      search_rate({20000, 25000, 30000, 35000, 40000}, 3, 20000, 0.005, step, never,
                  [&](const load::StepRecord& s) { lines.push_back(describe_step(s, "/s")); });
  EXPECT_EQ(result.metric, "net.pod_to_pod.breaking_rate");
  ASSERT_TRUE(result.breaking_level);
  // Broke at 35k (achieved 85.7 %), then bisection: 32.5k breaks, 31.25k breaks, 30.625k breaks.
  EXPECT_DOUBLE_EQ(*result.last_held, 30000);
  EXPECT_LT(*result.breaking_level, 31000);
  EXPECT_GT(*result.breaking_level, 30000);
  ASSERT_EQ(result.steps.size(), 7u);
  EXPECT_NE(result.steps[3].broke.find("achieved"), std::string::npos) << result.steps[3].broke;
  EXPECT_NE(result.steps[3].broke.find("P99 20"), std::string::npos) << result.steps[3].broke;
  EXPECT_EQ(lines.size(), 7u);
  EXPECT_NE(lines[0].find("held"), std::string::npos) << lines[0];
}

TEST(NetStress, ACancellationEndsTheSearch) {
  int ran = 0;
  load::StressResult result = search_rate(
      {1000, 2000}, 3, 1000, 0.005,
      [&](Rate rate, bool) -> Result<ClientResult> {
        ++ran;
        return rr_result(rate.per_second, rate.per_second, microseconds(40));
      },
      [&] { return ran >= 1; }, {});
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(result.breaking_level);
}

TEST(NetValidity, OwnLatenessAboveTenPercentOfTheTightestTargetIsInvalid) {
  ClientResult r = rr_result(10000, 10000, microseconds(40));
  SendAccount sends;
  sends.due = 10000;
  sends.sent = 10000;
  for (int i = 0; i < 100; ++i) {
    sends.own_lateness.record(i < 98 ? 5'000 : 150'000);  // P99 150 us
  }
  r.sends = sends;
  const load::GeneratorAccount account = account_of(r);
  EXPECT_TRUE(account.open_loop);
  EXPECT_FALSE(account.rate_judged);
  // 1 ms pod-to-pod target: 150 us own lateness at P99 is INVALID.
  const load::Validity tight = load::judge_validity(account, 0.001);
  ASSERT_EQ(tight.invalid_reasons.size(), 1u);
  EXPECT_NE(tight.invalid_reasons[0].find("own send lateness P99"), std::string::npos);
  // The same lateness against a 2 ms target is a note.
  EXPECT_TRUE(load::judge_validity(account, 0.002).valid());
}

TEST(NetValidity, SendsQueuedBehindASlowServerAreNeverTheClients) {
  ClientResult r = rr_result(10000, 4000, milliseconds(30));
  SendAccount sends;
  sends.due = 10000;
  sends.sent = 4000;
  sends.queued_for_server = 9999;
  sends.unsent_for_server = 6000;
  sends.own_lateness.record(2'000);
  r.sends = sends;
  const load::Validity validity = load::judge_validity(account_of(r), 0.001);
  EXPECT_TRUE(validity.valid());
  EXPECT_NE(validity.statement.find("9999 queued for a connection"), std::string::npos) << validity.statement;
}

TEST(NetValidity, ClosedLoopHasNothingDue) {
  ClientResult r = rr_result(1, 25000, microseconds(40));
  r.spec.rate.reset();
  const load::GeneratorAccount account = account_of(r);
  EXPECT_FALSE(account.open_loop);
  EXPECT_TRUE(load::judge_validity(account, 0.001).valid());
}

}  // namespace
}  // namespace kp::drivers::net
