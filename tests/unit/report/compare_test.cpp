#include "report/compare.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "report/compare_significance.hpp"
#include "report/report_reader.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using testing::make_row;

// Latencies of a server: a lognormal body around 1 ms with a tail, `factor` times slower, from `seed`.
Histogram latencies(double factor, std::uint64_t seed, int count = 20000) {
  std::mt19937_64 random(seed);
  std::lognormal_distribution<double> body(std::log(1e6), 0.35);  // ns
  Histogram histogram;
  for (int i = 0; i < count; ++i) {
    histogram.record(static_cast<std::int64_t>(body(random) * factor));
  }
  return histogram;
}

// A run with one latency row (with its histogram), one throughput row (a single value) and an informational
// rate, judged by the ordinary evaluation.
RunReport run_with(const Histogram& write, double throughput, double informational_rate) {
  using config::Comparison;
  std::vector<config::CriteriaRow> rows = {
      make_row("etcd.write.p99", "Control Plane", "Write latency P99", Comparison::less, 0.025, 0.050, "ms"),
      make_row("storage.randread_4k.iops", "Storage", "Random 4K read IOPS", Comparison::greater, 10000, 5000,
               "IOPS"),
  };
  eval::PhaseInput etcd;
  etcd.phase = Phase::etcd;
  Measurement p99 =
      testing::measure("etcd.write.p99", static_cast<double>(write.value_at_percentile(99)) / 1e9);
  p99.histogram = write;
  etcd.measurements = {p99, testing::measure("etcd.write.throughput", informational_rate)};
  eval::PhaseInput storage;
  storage.phase = Phase::storage;
  storage.measurements = {testing::measure("storage.randread_4k.iops", throughput)};
  RunReport report;
  report.meta.command = "run";
  report.meta.profile = "load";
  report.meta.target = "local";
  report.evaluation = eval::evaluate({etcd, storage}, rows, eval::EvaluationOptions{});
  report.inputs = {etcd, storage};
  return report;
}

const CompareRow& row_named(const Comparison& comparison, std::string_view key) {
  for (const CompareRow& row : comparison.rows) {
    if (row.key == key) {
      return row;
    }
  }
  throw std::runtime_error("no row " + std::string(key));
}

Comparison compared(const RunReport& a, const RunReport& b, CompareOptions options = {}) {
  Result<Comparison> comparison = compare_runs(a, b, "a/report.json", "b/report.json", options);
  EXPECT_TRUE(comparison.has_value()) << comparison.error().message;
  return comparison ? *comparison : Comparison{};
}

TEST(PercentileOfMetric, ReadsTheLastPartOfTheId) {
  EXPECT_EQ(percentile_of_metric("etcd.write.p99"), 99.0);
  EXPECT_EQ(percentile_of_metric("net.pod_to_pod.latency.p99"), 99.0);
  EXPECT_EQ(percentile_of_metric("x.p50"), 50.0);
  EXPECT_DOUBLE_EQ(*percentile_of_metric("x.p999"), 99.9);
  EXPECT_DOUBLE_EQ(*percentile_of_metric("x.p99_9"), 99.9);
  EXPECT_EQ(percentile_of_metric("dns.qps"), std::nullopt);
  EXPECT_EQ(percentile_of_metric("x.pod"), std::nullopt);
  EXPECT_EQ(percentile_of_metric("x.p"), std::nullopt);
}

TEST(Bootstrap, ARunAgainstItselfIsNotSignificant) {
  const Histogram h = latencies(1.0, 7);
  std::optional<QuantileDifference> test = bootstrap_quantile_difference(h, h, 99, {}, "etcd.write.p99");
  ASSERT_TRUE(test.has_value());
  EXPECT_FALSE(test->significant);
  EXPECT_LE(test->low, 0);
  EXPECT_GE(test->high, 0);
  EXPECT_EQ(test->a, test->b);
  EXPECT_GT(test->p_value, 0.05);
}

TEST(Bootstrap, TwiceTheLatencyIsSignificantAndTheIntervalIsNearTheTrueDifference) {
  const Histogram a = latencies(1.0, 7);
  const Histogram b = latencies(2.0, 8);
  std::optional<QuantileDifference> test = bootstrap_quantile_difference(a, b, 99, {}, "etcd.write.p99");
  ASSERT_TRUE(test.has_value());
  EXPECT_TRUE(test->significant);
  // The lognormal's true P99 is exp(ln 1e6 + 2.326 * 0.35) ns = 2.26 ms; B's is twice that.
  const double true_difference = 1e6 * std::exp(2.3263 * 0.35);
  // A 95 % interval misses the truth in 1 case of 20; this one must at least be near it.
  EXPECT_GT(test->low, 0.85 * true_difference);
  EXPECT_LT(test->high, 1.15 * true_difference);
  EXPECT_LT(test->high - test->low, 0.2 * true_difference);
  EXPECT_LT(test->p_value, 0.001);
}

TEST(Bootstrap, SameInputsSameInterval) {
  const Histogram a = latencies(1.0, 1);
  const Histogram b = latencies(1.05, 2);
  auto first = bootstrap_quantile_difference(a, b, 99, {}, "etcd.write.p99");
  auto second = bootstrap_quantile_difference(a, b, 99, {}, "etcd.write.p99");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->low, second->low);
  EXPECT_EQ(first->high, second->high);
  EXPECT_EQ(first->p_value, second->p_value);
}

// Calibration: two independent samples of one distribution are called different in about 5 % of the
// cases at 95 % confidence (a test that is too eager would gate pipelines on noise; one that never fires
// would not detect anything).
TEST(Bootstrap, FalseAlarmRateIsNearTheConfidenceLevel) {
  constexpr int kTrials = 200;
  BootstrapOptions options;
  options.resamples = 2000;
  int alarms = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const Histogram a = latencies(1.0, 1000 + 2 * trial, 4000);
    const Histogram b = latencies(1.0, 1001 + 2 * trial, 4000);
    auto test = bootstrap_quantile_difference(a, b, 99, options, "etcd.write.p99");
    ASSERT_TRUE(test.has_value());
    alarms += test->significant ? 1 : 0;
  }
  EXPECT_GE(alarms, 1);
  EXPECT_LE(alarms, 24);  // 12 %: 5 % plus the binomial spread of 200 trials and the bootstrap's own error
}

TEST(Compare, ARunAgainstItselfHasNoSignificantRowAndExitsZero) {
  const RunReport run = run_with(latencies(1.0, 3), 12000, 5000);
  const Comparison comparison = compared(run, run);
  ASSERT_EQ(comparison.rows.size(), 3U);
  for (const CompareRow& row : comparison.rows) {
    EXPECT_NE(row.significance.state, SignificanceState::significant) << row.key;
    EXPECT_EQ(row.change, Change::unchanged) << row.key;
    EXPECT_EQ(row.change_percent, 0.0) << row.key;
  }
  EXPECT_EQ(row_named(comparison, "etcd.write.p99 [Control Plane]").significance.state,
            SignificanceState::not_significant);
  EXPECT_EQ(row_named(comparison, "storage.randread_4k.iops [Storage]").significance.state,
            SignificanceState::cannot_judge);
  EXPECT_EQ(comparison.exit_code(), 0);
  EXPECT_FALSE(comparison.overall.changed());
}

TEST(Compare, TwiceTheLatencyIsSignificantAndWorseAndExitsOne) {
  const Comparison comparison =
      compared(run_with(latencies(1.0, 3), 12000, 5000), run_with(latencies(2.0, 4), 12000, 5000));
  const CompareRow& row = row_named(comparison, "etcd.write.p99 [Control Plane]");
  EXPECT_EQ(row.significance.state, SignificanceState::significant);
  EXPECT_EQ(row.change, Change::worse);
  ASSERT_TRUE(row.change_percent.has_value());
  EXPECT_NEAR(*row.change_percent, 100, 15);
  EXPECT_EQ(comparison.worse, std::vector<std::string>{"etcd.write.p99 [Control Plane]"});
  EXPECT_EQ(comparison.exit_code(), 1);
  // Reversed, the same difference is an improvement.
  const Comparison reversed =
      compared(run_with(latencies(2.0, 4), 12000, 5000), run_with(latencies(1.0, 3), 12000, 5000));
  EXPECT_EQ(row_named(reversed, "etcd.write.p99 [Control Plane]").change, Change::better);
  EXPECT_EQ(reversed.exit_code(), 0);
}

TEST(Compare, WorseRespectsTheDirectionOfEachMetric) {
  const Histogram same = latencies(1.0, 3);
  // IOPS and an informational throughput down 20 %: worse. Up 20 %: better.
  const Comparison down = compared(run_with(same, 12000, 5000), run_with(same, 9600, 4000));
  EXPECT_EQ(row_named(down, "storage.randread_4k.iops [Storage]").change, Change::worse);
  EXPECT_EQ(row_named(down, "etcd.write.throughput").change, Change::worse);
  EXPECT_EQ(row_named(down, "storage.randread_4k.iops [Storage]").significance.state,
            SignificanceState::cannot_judge);
  // The IOPS row's verdict changed too: 9600 misses the 10k target.
  EXPECT_EQ(row_named(down, "storage.randread_4k.iops [Storage]").verdict_a, eval::Verdict::pass);
  EXPECT_EQ(row_named(down, "storage.randread_4k.iops [Storage]").verdict_b, eval::Verdict::conditional_pass);
  EXPECT_EQ(down.exit_code(), 1);
  const Comparison up = compared(run_with(same, 12000, 5000), run_with(same, 14400, 6000));
  EXPECT_EQ(row_named(up, "storage.randread_4k.iops [Storage]").change, Change::better);
  EXPECT_EQ(row_named(up, "etcd.write.throughput").change, Change::better);
  EXPECT_EQ(up.exit_code(), 0);
}

TEST(Compare, TheToleranceDecidesForSingleValues) {
  const Histogram same = latencies(1.0, 3);
  const RunReport a = run_with(same, 10000, 5000);
  const RunReport b = run_with(same, 9600, 5000);  // -4 %
  EXPECT_EQ(compared(a, b).exit_code(), 0);
  CompareOptions strict;
  strict.tolerance_percent = 3;
  EXPECT_EQ(compared(a, b, strict).exit_code(), 1);
}

TEST(Compare, NoMetricInCommonIsAnInputError) {
  RunReport a = run_with(latencies(1.0, 3), 12000, 5000);
  RunReport b;
  b.evaluation = eval::evaluate(
      {}, {make_row("dns.p99", "Data Plane", "DNS P99", config::Comparison::less, 0.01, 0.02, "ms")},
      eval::EvaluationOptions{});
  Result<Comparison> comparison = compare_runs(a, b, "a/report.json", "b/report.json", {});
  ASSERT_FALSE(comparison.has_value());
  EXPECT_EQ(comparison.error().kind, ErrorKind::input);
  EXPECT_EQ(comparison.error().message,
            "a/report.json and b/report.json: no metric was measured in both runs, nothing to compare");
}

TEST(Compare, WorksOnReportsReadBackFromJson) {
  const std::string a = render_json(run_with(latencies(1.0, 3), 12000, 5000));
  const std::string b = render_json(run_with(latencies(2.0, 4), 12000, 5000));
  Result<RunReport> read_a = read_report(nlohmann::ordered_json::parse(a), "a.json");
  Result<RunReport> read_b = read_report(nlohmann::ordered_json::parse(b), "b.json");
  ASSERT_TRUE(read_a && read_b);
  const Comparison comparison = compared(*read_a, *read_b);
  EXPECT_EQ(row_named(comparison, "etcd.write.p99 [Control Plane]").change, Change::worse);
}

TEST(CompareOutput, TableJsonAndMarkdownSayTheSame) {
  const Comparison comparison =
      compared(run_with(latencies(1.0, 3), 12000, 5000), run_with(latencies(2.0, 4), 12000, 5000));
  const std::string table = render_compare_table(comparison);
  EXPECT_NE(table.find("etcd.write.p99 [Control Plane]"), std::string::npos);
  EXPECT_NE(table.find("significant (+"), std::string::npos) << table;
  EXPECT_NE(table.find("cannot judge (single values, no histogram)"), std::string::npos) << table;
  EXPECT_NE(table.find("1 row got worse beyond 5%: etcd.write.p99 [Control Plane] (exit 1)"),
            std::string::npos)
      << table;

  const nlohmann::json json = nlohmann::json::parse(render_compare_json(comparison));
  EXPECT_EQ(json.at("schema"), "kubeproof.compare");
  EXPECT_EQ(json.at("exit_code"), 1);
  EXPECT_EQ(json.at("worse"), nlohmann::json::array({"etcd.write.p99 [Control Plane]"}));
  const nlohmann::json& row = json.at("rows").at(0);
  EXPECT_EQ(row.at("key"), "etcd.write.p99 [Control Plane]");
  EXPECT_EQ(row.at("better"), "lower");
  EXPECT_EQ(row.at("result"), "worse");
  EXPECT_EQ(row.at("significance").at("state"), "significant");
  EXPECT_GT(row.at("significance").at("low_ns").get<double>(), 0);

  const std::string markdown = render_compare_markdown(comparison);
  EXPECT_NE(markdown.find("| etcd.write.p99 [Control Plane] |"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("**worse**"), std::string::npos);
}

}  // namespace
}  // namespace kp::report
