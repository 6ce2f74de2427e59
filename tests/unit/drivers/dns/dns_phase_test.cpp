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

// dns.p99: target 10 ms, critical 50 ms (criteria/default.yaml); dns.qps is judged.
Judging judging() {
  Judging j;
  j.tightest_latency = 0.010;
  j.rate_judged = true;
  j.limits.p99_critical = 0.050;
  return j;
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
  for (int i = 0; i < 10000; ++i) {
    load.own_lateness.record(std::chrono::microseconds(20));
  }
  return load;
}

TEST(DnsPhaseRun, CleanRunGivesQpsP99AndCacheRatio) {
  engine::PhaseRun run = build_run(
      clean_run(), CacheDelta{.hits = 9500, .misses = 500, .queries = 10000, .requests_by_type = {}},
      "unbound stats_noreset at 127.0.0.1:8953", "", one_query(), Settings{}, {}, judging());
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
  engine::PhaseRun run = build_run(clean_run(), std::nullopt, "", "", one_query(), Settings{}, {}, judging());
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
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", workload, Settings{}, {}, judging());
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_DOUBLE_EQ(qps->value, 3000);
  ASSERT_TRUE(qps->offered.has_value());
  EXPECT_DOUBLE_EQ(*qps->offered, 3000);
}

TEST(DnsPhaseRun, MaxModeOffersNoRate) {
  LoadResult load = clean_run();
  load.rate.reset();
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  const Measurement* qps = find(run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_FALSE(qps->offered.has_value());
}

TEST(DnsPhaseRun, GeneratorThatFellShortIsInvalid) {
  LoadResult load = clean_run();
  load.unsent_due = 500;  // the window was never full: the generator's own
  load.own_lateness.reset();
  for (int i = 0; i < 10000; ++i) {
    load.own_lateness.record(i < 300 ? milliseconds(80) : std::chrono::microseconds(20));
  }
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  ASSERT_EQ(run.invalid_reasons.size(), 2u);
  EXPECT_NE(run.invalid_reasons[0].find("the load generator sent only 95.24 % of the lookups due"),
            std::string::npos)
      << run.invalid_reasons[0];
  EXPECT_NE(run.invalid_reasons[1].find("own send lateness P99 80"), std::string::npos)
      << run.invalid_reasons[1];
  EXPECT_NE(run.invalid_reasons[1].find("above 1.00ms (10 % of the tightest latency target"),
            std::string::npos)
      << run.invalid_reasons[1];
  // The generator's statement is in the notes, whatever the verdict.
  ASSERT_FALSE(run.notes.empty());
  EXPECT_TRUE(
      run.notes.back().starts_with("lookups: offered 1000/s, sent 1000/s (95.24 % of due, 10000 of 10500)"))
      << run.notes.back();
}

TEST(DnsPhaseRun, WaitingForASlowServerIsTheServersNotInvalid) {
  // Every in-flight slot was held by the server: 2000 lookups waited (500 never went out). Their lateness is
  // in the corrected latency; the generator's own sends were on time.
  LoadResult load = clean_run();
  load.unsent_due = 500;
  load.unsent_for_server = 500;
  load.queued_for_server = 2000;
  load.counters.window_full = 40;
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  EXPECT_TRUE(run.invalid_reasons.empty()) << run.invalid_reasons.front();
  EXPECT_NE(
      run.notes.back().find("2000 queued for a connection (the server's latency, counted in it), 500 never "
                            "sent"),
      std::string::npos)
      << run.notes.back();
}

TEST(DnsPhaseRun, OwnLatenessIsJudgedAgainstTheTightestTarget) {
  // 10 % of the 10 ms dns.p99 target is 1 ms: 0.9 ms late at P99 is a note, 1.2 ms is INVALID.
  auto late_by = [](Duration lateness) {
    LoadResult load = clean_run();
    load.own_lateness.reset();
    for (int i = 0; i < 1000; ++i) {
      load.own_lateness.record(lateness);
    }
    return build_run(load, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  };
  EXPECT_TRUE(late_by(std::chrono::microseconds(900)).invalid_reasons.empty());
  EXPECT_EQ(late_by(std::chrono::microseconds(1200)).invalid_reasons.size(), 1u);
  // Without a latency row, lateness is stated, never judged.
  LoadResult load = clean_run();
  load.own_lateness.record(std::chrono::nanoseconds(std::chrono::seconds(1)).count(), 1000);
  Judging none = judging();
  none.tightest_latency.reset();
  EXPECT_TRUE(
      build_run(load, std::nullopt, "", "", one_query(), Settings{}, {}, none).invalid_reasons.empty());
}

TEST(DnsPhaseRun, JudgingComesFromTheCriteria) {
  const Judging shipped = judging_from(load::CriteriaView({}));
  ASSERT_TRUE(shipped.tightest_latency);
  EXPECT_DOUBLE_EQ(*shipped.tightest_latency, 0.010);
  EXPECT_TRUE(shipped.rate_judged);
  ASSERT_TRUE(shipped.limits.p99_critical);
  EXPECT_DOUBLE_EQ(*shipped.limits.p99_critical, 0.050);
  EXPECT_FALSE(shipped.limits.error_critical);  // no row judges dns.loss_rate or dns.error_rate
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
  // Even a late generator: nothing was answered, so no lateness could change dns.qps's FAIL.
  load.own_lateness.record(std::chrono::nanoseconds(milliseconds(5)).count(), 5000);
  engine::PhaseRun run = build_run(load, std::nullopt, "", "no source of cache statistics", one_query(),
                                   Settings{}, {}, judging());
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
  engine::PhaseRun run = build_run(load, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
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

load::Schedule ramp(double capacity, int bisect = 0) {
  config::Capacity plan;
  plan.dns_qps = Rate{capacity};
  Settings settings;
  settings.stress.bisect = bisect;
  Result<RunShape> shape = shape_run(settings, plan, 1.5, std::chrono::seconds(50), config::TestType::stress);
  EXPECT_TRUE(shape);
  return shape->schedule;
}

TEST(DnsStress, StepBreaksOnAnswersErrorsOrP99ButNotOnTheGeneratorsShortfall) {
  const Workload workload = one_query();
  const load::BreakLimits limits = judging().limits;
  auto broke = [&](const LoadResult& load) {
    return load::step_break_reason(step_record(load, workload), limits, "QPS");
  };
  EXPECT_EQ(broke(step_load(1000, 1.0, milliseconds(2))), "");
  EXPECT_EQ(broke(step_load(1000, 0.995, milliseconds(2))), "");
  EXPECT_EQ(broke(step_load(1000, 0.98, milliseconds(2))), "achieved 980 QPS of 1000 QPS offered (98.0 %)");
  EXPECT_EQ(broke(step_load(1000, 1.0, milliseconds(80))), "P99 80.00ms > critical 50.00ms");
  // The generator sent only half of what was due; the server answered all of it: the server held.
  LoadResult short_client = step_load(1000, 0.5, milliseconds(2));
  short_client.counters.sent = short_client.counters.lookups_started = 5000;
  short_client.unsent_due = 5000;
  EXPECT_EQ(broke(short_client), "");
  // ... but lookups the server kept waiting are offered to it: not answering them breaks the step.
  short_client.unsent_for_server = 5000;
  EXPECT_NE(broke(short_client), "");
}

TEST(DnsStress, SearchStopsAtTheFirstBreakThenBisects) {
  // The server holds up to 1600/s; above, it answers 80 %.
  std::vector<double> asked;
  StepRunner server = [&](Rate rate, Duration, bool) -> Result<LoadResult> {
    asked.push_back(rate.per_second);
    return step_load(rate.per_second, rate.per_second <= 1600 ? 1.0 : 0.8, milliseconds(3));
  };
  engine::CancellationToken cancel;
  Result<StressOutcome> outcome = run_stress_search(ramp(1000, 2), server, one_query(), judging(), cancel);
  ASSERT_TRUE(outcome) << outcome.error().message;
  // The ramp to the first break (2000/s never offered), then two halvings between 1500 and 1750.
  EXPECT_EQ(asked, (std::vector<double>{1000, 1250, 1500, 1750, 1625, 1562.5}));
  ASSERT_TRUE(outcome->result.breaking_level);
  EXPECT_DOUBLE_EQ(*outcome->result.breaking_level, 1625);
  EXPECT_DOUBLE_EQ(*outcome->result.last_held, 1562.5);

  engine::PhaseRun run =
      build_stress_run(*outcome, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  const Measurement* breaking = find(run, "dns.breaking_rate");
  ASSERT_NE(breaking, nullptr);
  EXPECT_DOUBLE_EQ(breaking->value, 1625);
  EXPECT_EQ(breaking->note, outcome->result.note);
  EXPECT_TRUE(breaking->note.starts_with(
      "broke at 1625 QPS (x1.62): achieved 1300 QPS of 1625 QPS offered (80.0 %); last step held 1562.5 QPS"))
      << breaking->note;
  ASSERT_EQ(run.stress.size(), 1u);
  EXPECT_EQ(run.stress[0].steps.size(), 6u);
  // The verdict's rows come from the last step held.
  EXPECT_DOUBLE_EQ(find(run, "dns.qps")->value, 1562.5);
  EXPECT_TRUE(run.invalid_reasons.empty());
}

TEST(DnsStress, EveryStepHeldMeansNoBreakingPoint) {
  StepRunner server = [](Rate rate, Duration, bool) -> Result<LoadResult> {
    return step_load(rate.per_second, 1.0, milliseconds(1));
  };
  engine::CancellationToken cancel;
  Result<StressOutcome> outcome = run_stress_search(ramp(100), server, one_query(), judging(), cancel);
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->steps.size(), 5u);
  engine::PhaseRun run =
      build_stress_run(*outcome, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  EXPECT_EQ(find(run, "dns.breaking_rate"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "dns.qps")->value, 200);
  EXPECT_NE(std::find(run.notes.begin(), run.notes.end(), outcome->result.note), run.notes.end());
  EXPECT_TRUE(outcome->result.note.starts_with("breaking point not reached")) << outcome->result.note;
}

TEST(DnsStress, ServerFailingTheFirstStepBreaksThere) {
  StepRunner server = [](Rate rate, Duration, bool) -> Result<LoadResult> {
    return step_load(rate.per_second, 1.0, milliseconds(70));
  };
  engine::CancellationToken cancel;
  Result<StressOutcome> outcome = run_stress_search(ramp(1000), server, one_query(), judging(), cancel);
  ASSERT_TRUE(outcome);
  ASSERT_EQ(outcome->steps.size(), 1u);  // no bisection asked (bisect 0)
  engine::PhaseRun run =
      build_stress_run(*outcome, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  ASSERT_NE(find(run, "dns.breaking_rate"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "dns.breaking_rate")->value, 1000);
  EXPECT_NE(find(run, "dns.breaking_rate")->note.find("no step held"), std::string::npos);
  EXPECT_NEAR(find(run, "dns.p99")->value, 0.070, 0.0001);  // judged on the first step
}

TEST(DnsStress, ABreakTheGeneratorsOwnLatenessCouldExplainIsNotTheServers) {
  // From 1250/s the generator itself falls 60 ms behind, and the corrected P99 (70 ms) with it.
  StepRunner server = [](Rate rate, Duration, bool) -> Result<LoadResult> {
    const bool starved = rate.per_second > 1000;
    LoadResult load = step_load(rate.per_second, 1.0, starved ? milliseconds(70) : milliseconds(2));
    load.own_lateness.record(std::chrono::nanoseconds(starved ? milliseconds(60) : milliseconds(0)).count(),
                             load.counters.sent);
    return load;
  };
  engine::CancellationToken cancel;
  Result<StressOutcome> outcome = run_stress_search(ramp(1000, 3), server, one_query(), judging(), cancel);
  ASSERT_TRUE(outcome);
  ASSERT_EQ(outcome->steps.size(), 2u);  // nothing above the inconclusive step, no bisection below it
  EXPECT_FALSE(outcome->result.breaking_level);
  EXPECT_DOUBLE_EQ(*outcome->result.last_held, 1000);
  EXPECT_NE(outcome->steps[1].inconclusive.find("but the generator fell behind on it"), std::string::npos);
  EXPECT_EQ(
      outcome->result.note,
      "breaking point not found: every step held up to 1000 QPS (x1), then the generator itself fell behind "
      "at 1250 QPS (x1.25), whose break its own lateness could explain");
  engine::PhaseRun run =
      build_stress_run(*outcome, std::nullopt, "", "", one_query(), Settings{}, {}, judging());
  EXPECT_EQ(find(run, "dns.breaking_rate"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "dns.qps")->value, 1000);  // judged on the last step held
  EXPECT_TRUE(run.invalid_reasons.empty());
}

TEST(DnsStress, AServerBreakBeyondTheGeneratorsLatenessIsStillTheServers) {
  // The generator is 5 ms late at P99 (INVALID against a 1 ms limit), but the P99 of 200 ms is the server's.
  StepRunner server = [](Rate rate, Duration, bool) -> Result<LoadResult> {
    LoadResult load =
        step_load(rate.per_second, 1.0, rate.per_second > 1000 ? milliseconds(200) : milliseconds(2));
    load.own_lateness.record(std::chrono::nanoseconds(milliseconds(5)).count(), load.counters.sent);
    return load;
  };
  engine::CancellationToken cancel;
  Result<StressOutcome> outcome = run_stress_search(ramp(1000), server, one_query(), judging(), cancel);
  ASSERT_TRUE(outcome);
  ASSERT_TRUE(outcome->result.breaking_level);
  EXPECT_DOUBLE_EQ(*outcome->result.breaking_level, 1250);
  EXPECT_TRUE(outcome->steps[1].inconclusive.empty());
}

TEST(DnsStress, AStepThatCouldNotStartIsAnError) {
  StepRunner server = [](Rate, Duration, bool) -> Result<LoadResult> {
    return fail(ErrorKind::internal, "worker 1 of 2 failed: boom");
  };
  engine::CancellationToken cancel;
  Result<StressOutcome> outcome = run_stress_search(ramp(1000), server, one_query(), judging(), cancel);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().message, "worker 1 of 2 failed: boom");
}

}  // namespace
}  // namespace kp::drivers::dns
