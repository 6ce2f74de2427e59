#include "drivers/dns/dns_phase.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

using std::chrono::milliseconds;

const Measurement* find(const engine::PhaseRun& run, std::string_view metric) {
  for (const Measurement& m : run.measurements) {
    if (m.metric == metric) {
      return &m;
    }
  }
  return nullptr;
}

Workload one_query() {
  return *build_workload({{"a.example", type::a}}, std::nullopt, {});
}

// 10 s at 1000/s, all answered NOERROR in 1 ms.
LoadResult clean_run() {
  LoadResult load;
  load.rate = Rate{1000};
  load.threads = 1;
  load.clients = 10;
  load.outstanding = 3064;
  load.elapsed = std::chrono::seconds(10);
  load.send_elapsed = std::chrono::seconds(10);
  Counters& c = load.counters;
  c.sent = c.responses = c.rcodes[0] = c.lookups_started = c.lookups_answered = 10000;
  for (int i = 0; i < 10000; ++i) {
    load.query_latency.corrected.record(milliseconds(1) + std::chrono::microseconds(i % 100));
    load.query_latency.uncorrected.record(milliseconds(1));
  }
  load.pacer.sends = 10000;
  return load;
}

TEST(DnsPhaseRun, CleanRunGivesQpsP99AndCacheRatio) {
  engine::PhaseRun run =
      build_run(clean_run(), CacheDelta{.hits = 9500, .misses = 500, .queries = 10000},
                "unbound stats_noreset at 127.0.0.1:8953", "", one_query(), Settings{}, {});
  EXPECT_TRUE(run.invalid_reasons.empty());
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_DOUBLE_EQ(qps->value, 1000);
  EXPECT_EQ(qps->source, "client");
  const Measurement* p99 = find(run, "dns.p99");
  ASSERT_NE(p99, nullptr);
  EXPECT_NEAR(p99->value, 0.001099, 0.000002);
  ASSERT_TRUE(p99->histogram);
  EXPECT_EQ(p99->histogram->count(), 10000u);
  const Measurement* ratio = find(run, "dns.cache_hit_ratio");
  ASSERT_NE(ratio, nullptr);
  EXPECT_DOUBLE_EQ(ratio->value, 0.95);
  EXPECT_EQ(ratio->source, "server: unbound stats_noreset at 127.0.0.1:8953");
  EXPECT_EQ(ratio->note,
            "9500 hits, 500 misses during the run (the server counted 10000 queries; 10000 were sent)");
  // Loss is a catalog metric of its own (informational: no criteria row judges it).
  const Measurement* loss = find(run, "dns.loss_rate");
  ASSERT_NE(loss, nullptr);
  EXPECT_DOUBLE_EQ(loss->value, 0);
}

TEST(DnsPhaseRun, OpenLoopQpsCarriesTheOfferedRate) {
  engine::PhaseRun run = build_run(clean_run(), std::nullopt, "", "", one_query(), Settings{}, {});
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_EQ(qps->offered, 1000);
  // Only dns.qps is a rate bounded by what was offered.
  for (const Measurement& m : run.measurements) {
    EXPECT_EQ(m.offered.has_value(), m.metric == "dns.qps") << m.metric;
  }
}

TEST(DnsPhaseRun, SearchListWalkOffersTheQueriesALookupTook) {
  // 10000 lookups at 1000/s, three queries each (two NXDOMAIN walk steps), 50 truncated answers asked again.
  LoadResult load = clean_run();
  Counters& c = load.counters;
  c.sent = 30050;
  c.tcp_retries = 50;
  c.responses = c.rcodes[0] = 10000;
  c.rcodes[3] = 20000;
  Workload workload = one_query();
  workload.walk = true;
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", workload, Settings{}, {});
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_DOUBLE_EQ(qps->value, 3000);
  ASSERT_TRUE(qps->offered.has_value());
  EXPECT_DOUBLE_EQ(*qps->offered, 3000);
}

TEST(DnsPhaseRun, MaxModeOffersNoRate) {
  LoadResult load = clean_run();
  load.rate.reset();
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), Settings{}, {});
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_FALSE(qps->offered.has_value());
}

TEST(DnsPhaseRun, GeneratorThatFellShortIsInvalid) {
  LoadResult load = clean_run();
  load.unsent_due = 500;
  load.counters.window_full = 12;
  load.pacer.late_sends = 300;
  load.pacer.max_lag = milliseconds(80);
  Settings settings;
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), settings, {});
  ASSERT_EQ(run.invalid_reasons.size(), 2u);
  EXPECT_EQ(
      run.invalid_reasons[0],
      "sent 10000 of the 10500 lookups due at 1000/s (95.24%): the outstanding window was full with 3064 "
      "outstanding queries at most (raise outstanding, clients or threads, or lower the rate)");
  EXPECT_EQ(run.invalid_reasons[1],
            "the open-loop schedule fell behind: 3.00% of lookups went out more than 5.00ms late (worst "
            "80.00ms); the client "
            "was saturated");
}

TEST(DnsPhaseRun, SilentServerIsAFailureNotInvalid) {
  LoadResult load;
  load.rate = Rate{1000};
  load.elapsed = std::chrono::seconds(5);
  load.stopped_early = "no response from 127.0.0.1:5 for 5s (4800 queries lost, 0 not sent)";
  load.unsent_due = 0;
  Counters& c = load.counters;
  c.sent = c.lookups_started = 5000;
  c.lost = c.lookups_lost = 4800;
  for (int i = 0; i < 4800; ++i) {
    load.query_latency.corrected.record(std::chrono::seconds(2));
  }
  engine::PhaseRun run =
      build_run(load, std::nullopt, "", "no source of cache statistics", one_query(), Settings{}, {});
  EXPECT_TRUE(run.invalid_reasons.empty());
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_EQ(qps->value, 0);
  EXPECT_NE(qps->note.find("stopped early: no response from 127.0.0.1:5"), std::string::npos) << qps->note;
  EXPECT_NE(qps->note.find("cache hit ratio not measured: no source of cache statistics"), std::string::npos);
  const Measurement* p99 = find(run, "dns.p99");
  ASSERT_NE(p99, nullptr);
  EXPECT_NEAR(p99->value, 2.0, 0.002);
  EXPECT_NE(
      p99->note.find("4800 lost queries counted at their 2.00s timeout; uncorrected P99 n/a (no response)"),
      std::string::npos)
      << p99->note;
  EXPECT_EQ(find(run, "dns.cache_hit_ratio"), nullptr);
}

TEST(DnsPhaseRun, NothingSentIsInvalid) {
  LoadResult load;
  load.first_error = "UDP socket: Too many open files";
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), Settings{}, {});
  ASSERT_EQ(run.invalid_reasons.size(), 1u);
  EXPECT_EQ(run.invalid_reasons[0], "nothing was sent: UDP socket: Too many open files");
}

TEST(DnsPhaseRun, CountsAreDescribed) {
  Counters c;
  EXPECT_EQ(describe_rcodes(c), "none");
  c.rcodes[0] = 9;
  c.rcodes[3] = 1;
  EXPECT_EQ(describe_rcodes(c), "NOERROR 9, NXDOMAIN 1");
}

}  // namespace
}  // namespace kp::drivers::dns
