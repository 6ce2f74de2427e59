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

// A stress step at `rate` for 10 s: `answered` of the due queries answered in `p99`, `lost` lost.
LoadResult step_load(double rate, double answered, Duration p99, std::uint64_t lost = 0) {
  LoadResult load;
  load.rate = Rate{rate};
  load.threads = 1;
  load.clients = 10;
  load.outstanding = 10000;
  load.elapsed = std::chrono::seconds(10);
  load.send_elapsed = std::chrono::seconds(10);
  Counters& c = load.counters;
  c.sent = c.lookups_started = static_cast<std::uint64_t>(rate * 10);
  c.responses = c.rcodes[0] = static_cast<std::uint64_t>(rate * 10 * answered);
  c.lost = lost;
  for (std::uint64_t i = 0; i < c.responses; ++i) {
    load.query_latency.corrected.record(p99);
    load.query_latency.uncorrected.record(p99);
  }
  load.pacer.sends = c.sent;
  return load;
}

std::vector<StressStep> ramp(double capacity) {
  std::vector<StressStep> steps;
  for (double factor : Settings{}.stress_factors) {
    steps.push_back(
        StressStep{.factor = factor, .rate = Rate{capacity * factor}, .duration = std::chrono::seconds(10)});
  }
  return steps;
}

TEST(DnsStress, StepFailsOnAnswersLossOrP99ButNotOnTheGeneratorsShortfall) {
  const Workload workload = one_query();
  const Settings settings;
  EXPECT_EQ(stress_step_failure(step_load(1000, 1.0, milliseconds(2)), workload, settings), "");
  EXPECT_EQ(stress_step_failure(step_load(1000, 0.96, milliseconds(2)), workload, settings), "");
  EXPECT_EQ(stress_step_failure(step_load(1000, 0.90, milliseconds(2)), workload, settings),
            "answered 900/s of 1000/s offered (90.00%)");
  EXPECT_EQ(stress_step_failure(step_load(1000, 1.0, milliseconds(2), 200), workload, settings),
            "lost 2.00% > 1.00%");
  EXPECT_EQ(stress_step_failure(step_load(1000, 1.0, milliseconds(80)), workload, settings),
            "P99 80.00ms > 50.00ms");
  // The generator sent only half of what was due; the server answered all of it: the server held.
  LoadResult short_client = step_load(1000, 0.5, milliseconds(2));
  short_client.counters.sent = short_client.counters.lookups_started = 5000;
  short_client.unsent_due = 5000;
  EXPECT_EQ(stress_step_failure(short_client, workload, settings), "");
}

TEST(DnsStress, RampStopsAtTheFirstStepNotHeldAndReportsTheBreakingPoint) {
  // The server holds up to 1500/s; at 1750/s it answers 80 %.
  std::vector<double> asked;
  StepRunner server = [&](const StressStep& step) -> Result<LoadResult> {
    asked.push_back(step.rate.per_second);
    return step_load(step.rate.per_second, step.rate.per_second <= 1500 ? 1.0 : 0.8, milliseconds(3));
  };
  engine::CancellationToken cancel;
  Result<std::vector<StepResult>> steps =
      run_stress_ramp(ramp(1000), server, one_query(), Settings{}, cancel);
  ASSERT_TRUE(steps);
  EXPECT_EQ(asked, (std::vector<double>{1000, 1250, 1500, 1750}));  // 2000/s never offered
  ASSERT_EQ(steps->size(), 4u);
  EXPECT_EQ(steps->back().failure, "answered 1400/s of 1750/s offered (80.00%)");

  engine::PhaseRun run = build_stress_run(*steps, 5, std::nullopt, "", "", one_query(), Settings{}, {});
  const Measurement* breaking = find(run, "dns.breaking_rate");
  ASSERT_NE(breaking, nullptr);
  EXPECT_DOUBLE_EQ(breaking->value, 1750);
  EXPECT_EQ(breaking->note,
            "the server did not hold 1750/s (x1.75 of capacity): answered 1400/s of 1750/s offered (80.00%); "
            "last rate held 1500/s (x1.5)");
  // The verdict's rows come from the last step held.
  EXPECT_DOUBLE_EQ(find(run, "dns.qps")->value, 1500);
  EXPECT_EQ(find(run, "dns.qps")->offered, 1500);
  EXPECT_TRUE(run.invalid_reasons.empty());
  EXPECT_NE(
      run.measurements.front().note.find("stress step x1.75 at 1750/s: answered 1400/s, P99 3.00ms, 0 of "
                                         "17500 lost: not held"),
      std::string::npos)
      << run.measurements.front().note;
}

TEST(DnsStress, EveryStepHeldMeansNoBreakingPoint) {
  StepRunner server = [](const StressStep& step) -> Result<LoadResult> {
    return step_load(step.rate.per_second, 1.0, milliseconds(1));
  };
  engine::CancellationToken cancel;
  Result<std::vector<StepResult>> steps = run_stress_ramp(ramp(100), server, one_query(), Settings{}, cancel);
  ASSERT_TRUE(steps);
  ASSERT_EQ(steps->size(), 5u);
  engine::PhaseRun run = build_stress_run(*steps, 5, std::nullopt, "", "", one_query(), Settings{}, {});
  EXPECT_EQ(find(run, "dns.breaking_rate"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "dns.qps")->value, 200);
  EXPECT_NE(run.measurements.front().note.find(
                "breaking point not reached: the server held every step up to 200/s (x2)"),
            std::string::npos)
      << run.measurements.front().note;
}

TEST(DnsStress, ServerFailingTheFirstStepBreaksThere) {
  StepRunner server = [](const StressStep& step) -> Result<LoadResult> {
    return step_load(step.rate.per_second, 1.0, milliseconds(70));
  };
  engine::CancellationToken cancel;
  Result<std::vector<StepResult>> steps =
      run_stress_ramp(ramp(1000), server, one_query(), Settings{}, cancel);
  ASSERT_TRUE(steps);
  ASSERT_EQ(steps->size(), 1u);
  engine::PhaseRun run = build_stress_run(*steps, 5, std::nullopt, "", "", one_query(), Settings{}, {});
  ASSERT_NE(find(run, "dns.breaking_rate"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "dns.breaking_rate")->value, 1000);
  EXPECT_NE(find(run, "dns.breaking_rate")->note.find("it held no step (already at the first)"),
            std::string::npos);
  EXPECT_NEAR(find(run, "dns.p99")->value, 0.070, 0.0001);  // judged on the first step
}

}  // namespace
}  // namespace kp::drivers::dns
