#include "report/live_metrics.hpp"

#include <gtest/gtest.h>

#include "prom/prometheus_text.hpp"

namespace kp::report {
namespace {

using namespace std::chrono_literals;

prom::Exposition parsed(const LiveMetrics& live) {
  Result<prom::Exposition> page = prom::parse_text(live.render());
  EXPECT_TRUE(page) << (page ? "" : page.error().message) << "\n" << live.render();
  return page ? *page : prom::Exposition{};
}

double value_of(const prom::Exposition& page, std::string_view family, const prom::Labels& match) {
  Result<double> value = prom::scalar(page, family, match);
  EXPECT_TRUE(value) << family << ": " << (value ? "" : value.error().message);
  return value ? *value : -1;
}

LiveDelta delta(Phase phase, std::string_view series, std::uint64_t ok, std::uint64_t errors, Duration each) {
  LiveDelta d;
  d.phase = phase;
  d.series = series;
  d.ok = ok;
  d.errors = errors;
  d.buckets[LiveSeries::bucket_of(each)] = ok;
  d.latency_sum_ns = static_cast<std::int64_t>(ok) * each.count();
  return d;
}

TEST(LiveMetrics, SumsHandOversFromManyThreadsIntoOneParsableHistogram) {
  LiveMetrics live({"r1", "smoke plan", "smoke", "local"});
  live.add(delta(Phase::dns, "query", 100, 2, 300us));
  live.add(delta(Phase::dns, "query", 50, 0, 20ms));
  live.add(delta(Phase::etcd, "put", 7, 1, 2ms));
  const prom::Exposition page = parsed(live);

  EXPECT_EQ(value_of(page, "kubeproof_live_completions_total",
                     {{"phase", "dns"}, {"series", "query"}, {"outcome", "ok"}}),
            150);
  EXPECT_EQ(value_of(page, "kubeproof_live_completions_total",
                     {{"phase", "dns"}, {"series", "query"}, {"outcome", "error"}}),
            2);
  Result<prom::HistogramSnapshot> dns =
      prom::histogram(page, "kubeproof_live_latency_seconds", {{"phase", "dns"}, {"series", "query"}});
  ASSERT_TRUE(dns) << dns.error().message;
  EXPECT_EQ(dns->count, 150);
  EXPECT_NEAR(dns->sum, 100 * 300e-6 + 50 * 20e-3, 1e-9);
  ASSERT_EQ(dns->buckets.size(), kLiveBuckets);
  // Cumulative: 300 µs lands under le=0.0005, 20 ms under le=0.025.
  EXPECT_EQ(dns->buckets[1].cumulative_count, 0);    // le=0.00025
  EXPECT_EQ(dns->buckets[2].cumulative_count, 100);  // le=0.0005
  EXPECT_EQ(dns->buckets[7].cumulative_count, 150);  // le=0.025
  EXPECT_EQ(dns->buckets.back().cumulative_count, 150);
  EXPECT_EQ(value_of(page, "kubeproof_live_completions_total", {{"phase", "etcd"}, {"outcome", "error"}}), 1);
}

TEST(LiveMetrics, PhaseStateMovesFromRunningToJudged) {
  LiveMetrics live({"r2", "p", "load", "cluster"});
  const WallTime start = WallTime{} + 1'000'000s;
  live.phase_started(Phase::etcd, start);
  {
    const prom::Exposition page = parsed(live);
    EXPECT_EQ(value_of(page, "kubeproof_live_phase_running", {{"phase", "etcd"}}), 1);
    EXPECT_EQ(value_of(page, "kubeproof_live_phase_running", {{"phase", "dns"}}), 0);
    EXPECT_EQ(value_of(page, "kubeproof_live_phase_start_time_seconds", {{"phase", "etcd"}}), 1'000'000);
    EXPECT_EQ(page.find("kubeproof_metric")->samples.size(), 0u);  // nothing judged yet
    EXPECT_EQ(page.find("kubeproof_verdict")->samples.size(), 0u);
  }
  Measurement p99;
  p99.metric = "etcd.write.p99";
  p99.value = 0.012;
  live.phase_finished(Phase::etcd, {p99}, eval::Verdict::conditional_pass, start + 90s);
  live.run_finished(eval::Verdict::conditional_pass);
  const prom::Exposition page = parsed(live);
  EXPECT_EQ(value_of(page, "kubeproof_live_phase_running", {{"phase", "etcd"}}), 0);
  EXPECT_EQ(value_of(page, "kubeproof_live_phase_end_time_seconds", {{"phase", "etcd"}}), 1'000'090);
  EXPECT_DOUBLE_EQ(value_of(page, "kubeproof_metric", {{"id", "etcd.write.p99"}, {"unit", "s"}}), 0.012);
  EXPECT_EQ(value_of(page, "kubeproof_phase_verdict", {{"phase", "etcd"}, {"verdict", "CONDITIONAL PASS"}}),
            1);
  // The labels metrics.prom gives the verdict: the test type as `profile`, and the command.
  EXPECT_EQ(value_of(page, "kubeproof_verdict",
                     {{"verdict", "CONDITIONAL PASS"}, {"profile", "load"}, {"command", "run"}}),
            1);
}

TEST(LiveMetrics, LabelValuesAreEscaped) {
  LiveMetrics live({"r3", "my \"quoted\" plan\\x\nnext", "smoke", "local"});
  const prom::Exposition page = parsed(live);
  const prom::Family* info = page.find("kubeproof_live_run_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->samples.size(), 1u);
  EXPECT_EQ(info->samples[0].label("plan"), "my \"quoted\" plan\\x\nnext");
}

TEST(LiveMetrics, EveryFamilyItNamesIsOnThePage) {
  LiveMetrics live({"r4", "p", "smoke", "local"});
  const prom::Exposition page = parsed(live);
  for (std::string_view family : LiveMetrics::families()) {
    EXPECT_NE(page.find(family), nullptr) << family;
  }
}

}  // namespace
}  // namespace kp::report
