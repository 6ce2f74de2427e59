#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report/run_report.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using nlohmann::json;
using testing::fixture_report;

const json& phase_named(const json& report, std::string_view name) {
  for (const json& phase : report.at("phases")) {
    if (phase.at("phase") == name) {
      return phase;
    }
  }
  throw std::runtime_error("no phase " + std::string(name));
}

const json& row_of(const json& phase, std::string_view metric, std::string_view table) {
  for (const json& row : phase.at("rows")) {
    if (row.at("metric") == metric && row.at("table") == table) {
      return row;
    }
  }
  throw std::runtime_error("no row " + std::string(metric));
}

TEST(JsonReport, ParsesBackWithSchemaMetaAndOverall) {
  json report = json::parse(render_json(fixture_report()));
  EXPECT_EQ(report.at("schema"), "kubeproof.report");
  EXPECT_EQ(report.at("schema_version"), 4);
  const json& meta = report.at("meta");
  EXPECT_EQ(meta.at("command"), "run");
  EXPECT_EQ(meta.at("profile"), "smoke");
  EXPECT_EQ(meta.at("target"), "local");
  EXPECT_EQ(meta.at("started"), "2026-11-27T23:05:12Z");
  EXPECT_EQ(meta.at("finished"), "2026-11-27T23:06:42Z");
  EXPECT_DOUBLE_EQ(meta.at("duration_seconds").get<double>(), 90.0);
  EXPECT_DOUBLE_EQ(meta.at("duration_scale").get<double>(), 1.0);
  EXPECT_TRUE(meta.at("duration_scale_note").is_null());
  EXPECT_EQ(meta.at("tiers").at("storage_tier"), "ssd");
  EXPECT_TRUE(meta.at("measurements_file").is_null());

  EXPECT_EQ(report.at("overall").at("verdict"), "FAIL");
  EXPECT_EQ(report.at("overall").at("exit_code"), 1);
  EXPECT_FALSE(report.at("overall").at("reason").get<std::string>().empty());
  EXPECT_EQ(report.at("checklist").size(), 8U);
  for (const json& item : report.at("checklist")) {
    EXPECT_TRUE(item.at("item").is_string());
    EXPECT_TRUE(item.at("state") == "met" || item.at("state") == "not met" ||
                item.at("state") == "not verified");
  }
}

TEST(JsonReport, EveryPhaseInFlowOrderWithStatusVerdictAndTimings) {
  json report = json::parse(render_json(fixture_report()));
  const json& phases = report.at("phases");
  ASSERT_EQ(phases.size(), 6U);
  std::vector<std::string> order;
  for (const json& phase : phases) {
    order.push_back(phase.at("phase"));
  }
  EXPECT_EQ(order, (std::vector<std::string>{"etcd", "api", "network", "dns", "storage", "ingress"}));

  const json& etcd = phase_named(report, "etcd");
  EXPECT_EQ(etcd.at("status"), "completed");
  EXPECT_EQ(etcd.at("verdict"), "FAIL");
  EXPECT_EQ(etcd.at("order"), 1);
  EXPECT_EQ(etcd.at("started"), "2026-11-27T23:05:12Z");
  EXPECT_DOUBLE_EQ(etcd.at("duration_seconds").get<double>(), 30.0);

  const json& network = phase_named(report, "network");
  EXPECT_EQ(network.at("status"), "skipped");
  EXPECT_EQ(network.at("verdict"), "SKIPPED");
  EXPECT_EQ(network.at("reason"), "no driver for \"network\" <yet> & more");
  EXPECT_TRUE(network.at("started").is_null());
  EXPECT_TRUE(network.at("duration_seconds").is_null());

  EXPECT_EQ(phase_named(report, "api").at("verdict"), "CONDITIONAL PASS");
  EXPECT_EQ(phase_named(report, "dns").at("verdict"), "PASS");
  EXPECT_EQ(phase_named(report, "ingress").at("verdict"), "NOT MEASURED");
}

TEST(JsonReport, RowsCarryCriteriaAndMeasuredValueInBaseUnitAndText) {
  json report = json::parse(render_json(fixture_report()));
  const json& write = row_of(phase_named(report, "etcd"), "etcd.write.p99", "Control Plane");
  EXPECT_EQ(write.at("label"), "Write latency P99");
  EXPECT_EQ(write.at("comparison"), "<");
  EXPECT_DOUBLE_EQ(write.at("target").get<double>(), 0.025);
  EXPECT_DOUBLE_EQ(write.at("critical").get<double>(), 0.050);
  EXPECT_EQ(write.at("target_text"), "< 25ms");
  EXPECT_EQ(write.at("critical_text"), "< 50ms");
  EXPECT_EQ(write.at("unit"), "ms");
  EXPECT_EQ(write.at("base_unit"), "s");
  EXPECT_EQ(write.at("quantity"), "duration");
  EXPECT_DOUBLE_EQ(write.at("measured").get<double>(), 0.012);
  EXPECT_NE(write.at("measured_text").get<std::string>().find("12"), std::string::npos);
  EXPECT_EQ(write.at("verdict"), "PASS");
  EXPECT_TRUE(write.at("tier").is_null());
  EXPECT_EQ(write.at("source"), "test");
  EXPECT_EQ(write.at("note"), "client side <corrected> & \"open loop\"");

  const json& read = row_of(phase_named(report, "etcd"), "etcd.read.p99", "Control Plane");
  EXPECT_EQ(read.at("verdict"), "FAIL");
  EXPECT_FALSE(read.at("reason").get<std::string>().empty());

  // One metric judged by two tables gives two rows with their own verdicts.
  const json& api = phase_named(report, "api");
  EXPECT_EQ(row_of(api, "api.mutating.p99", "Kubernetes SLO").at("verdict"), "PASS");
  EXPECT_EQ(row_of(api, "api.mutating.p99", "Control Plane").at("verdict"), "CONDITIONAL PASS");
  EXPECT_EQ(row_of(api, "api.mutating.p99", "Kubernetes SLO").at("comparison"), "<=");

  const json& storage = row_of(phase_named(report, "storage"), "storage.randread_4k.iops", "Storage");
  EXPECT_TRUE(storage.at("critical").is_null());
  EXPECT_TRUE(storage.at("critical_text").is_null());
  EXPECT_EQ(storage.at("verdict"), "CONDITIONAL PASS");
  EXPECT_EQ(storage.at("tier").at("group"), "storage_tier");
  EXPECT_EQ(storage.at("tier").at("name"), "ssd");

  const json& ingress = row_of(phase_named(report, "ingress"), "ingress.rps", "Ingress");
  EXPECT_TRUE(ingress.at("measured").is_null());
  EXPECT_TRUE(ingress.at("measured_text").is_null());
  EXPECT_EQ(ingress.at("verdict"), "NOT MEASURED");
}

TEST(JsonReport, InformationalMeasurementsAreListed) {
  json report = json::parse(render_json(fixture_report()));
  const json& informational = phase_named(report, "dns").at("informational");
  ASSERT_EQ(informational.size(), 1U);
  EXPECT_EQ(informational[0].at("metric"), "dns.cache_hit_ratio");
  EXPECT_DOUBLE_EQ(informational[0].at("value").get<double>(), 0.95);
  EXPECT_EQ(informational[0].at("base_unit"), "ratio");
}

TEST(JsonReport, HistogramHasSummaryAndRoundTripsLosslessly) {
  json report = json::parse(render_json(fixture_report()));
  const json& histograms = phase_named(report, "etcd").at("histograms");
  ASSERT_TRUE(histograms.contains("etcd.write.p99"));
  const json& histogram = histograms.at("etcd.write.p99");
  EXPECT_EQ(histogram.at("unit"), "ns");
  const json& summary = histogram.at("summary");
  Histogram expected = testing::fixture_histogram();
  EXPECT_EQ(summary.at("count"), 1000U);
  EXPECT_EQ(summary.at("min"), 1000);
  EXPECT_EQ(summary.at("max"), 1'000'000);
  EXPECT_EQ(summary.at("p50"), expected.value_at_percentile(50));
  EXPECT_EQ(summary.at("p90"), expected.value_at_percentile(90));
  EXPECT_EQ(summary.at("p99"), expected.value_at_percentile(99));
  EXPECT_EQ(summary.at("p99_9"), expected.value_at_percentile(99.9));
  Result<Histogram> back = Histogram::from_json(histogram.at("data"));
  ASSERT_TRUE(back.has_value()) << back.error().message;
  EXPECT_TRUE(*back == expected);
  EXPECT_TRUE(phase_named(report, "api").at("histograms").empty());
}

TEST(JsonReport, DurationScaleIsStatedLoudly) {
  json report = json::parse(render_json(fixture_report(0.1)));
  EXPECT_DOUBLE_EQ(report.at("meta").at("duration_scale").get<double>(), 0.1);
  std::string note = report.at("meta").at("duration_scale_note");
  EXPECT_NE(note.find("DURATIONS SHORTENED"), std::string::npos);
  EXPECT_NE(note.find("0.1"), std::string::npos);
}

TEST(JsonReport, OfferedRateOfAnOpenLoopRunIsShown) {
  RunReport report = fixture_report();
  report.inputs[3].measurements[0].offered = 12500;  // dns.qps
  report.evaluation = eval::evaluate(report.inputs, testing::fixture_rows(), eval::EvaluationOptions{});
  json parsed = json::parse(render_json(report));
  const json& row = row_of(phase_named(parsed, "dns"), "dns.qps", "Data Plane");
  EXPECT_DOUBLE_EQ(row.at("offered").get<double>(), 12500);
  EXPECT_TRUE(row.at("offered_text").is_string());
  EXPECT_TRUE(row_of(phase_named(parsed, "etcd"), "etcd.write.p99", "Control Plane").at("offered").is_null());
  EXPECT_NE(render_prometheus(report).find(
                "kubeproof_metric_offered{id=\"dns.qps\",phase=\"dns\",unit=\"1/s\"} 12500\n"),
            std::string::npos);
}

TEST(JsonReport, InvalidUtf8AndNonFiniteValuesStillGiveValidJson) {
  RunReport report = fixture_report();
  report.inputs[0].measurements[0].note = "bad byte \xff here";
  report.evaluation.phases[3].informational[0].value = std::numeric_limits<double>::infinity();
  json parsed = json::parse(render_json(report));
  EXPECT_EQ(row_of(phase_named(parsed, "etcd"), "etcd.write.p99", "Control Plane").at("note"),
            "bad byte \xef\xbf\xbd here");
  EXPECT_TRUE(phase_named(parsed, "dns").at("informational")[0].at("value").is_null());
}

}  // namespace
}  // namespace kp::report
