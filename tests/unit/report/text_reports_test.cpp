// The reports people read: console table, Markdown summary, and the Prometheus exposition.

#include <gtest/gtest.h>

#include <sstream>

#include "report/criteria_table.hpp"
#include "report/run_report.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using testing::fixture_report;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::string line_starting(const std::string& text, std::string_view prefix) {
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with(prefix)) {
      return line;
    }
  }
  return {};
}

TEST(ConsoleReport, ShowsEveryRowWithMeasuredTargetCriticalAndVerdict) {
  std::string text = render_console(fixture_report(), {.color = false});
  std::string write = line_starting(text, "  etcd.write.p99 ");
  ASSERT_FALSE(write.empty()) << text;
  EXPECT_NE(write.find("< 25ms"), std::string::npos) << write;
  EXPECT_NE(write.find("< 50ms"), std::string::npos) << write;
  EXPECT_NE(write.find("PASS"), std::string::npos) << write;
  EXPECT_NE(line_starting(text, "  etcd.read.p99 ").find("FAIL"), std::string::npos);
  // The metric judged by two tables is told apart by its table.
  EXPECT_NE(line_starting(text, "  api.mutating.p99 [Control Plane]").find("CONDITIONAL PASS"),
            std::string::npos)
      << text;
  EXPECT_NE(line_starting(text, "  api.mutating.p99 [Kubernetes SLO]").find("PASS"), std::string::npos);
  std::string storage = line_starting(text, "  storage.randread_4k.iops ");
  EXPECT_NE(storage.find("> 10k IOPS"), std::string::npos) << storage;
  EXPECT_NE(storage.find("CONDITIONAL PASS"), std::string::npos);
  EXPECT_NE(line_starting(text, "  ingress.rps ").find("NOT MEASURED"), std::string::npos);
  EXPECT_NE(line_starting(text, "  dns.cache_hit_ratio ").find("informational"), std::string::npos);
}

TEST(ConsoleReport, ColumnsAlignAcrossPhases) {
  std::string text = render_console(fixture_report(), {.color = false});
  std::string header = line_starting(text, "  METRIC");
  ASSERT_FALSE(header.empty()) << text;
  std::size_t target_column = header.find("TARGET");
  std::size_t verdict_column = header.find("VERDICT");
  for (std::string_view metric : {"  etcd.write.p99 ", "  dns.qps ", "  storage.randread_4k.iops "}) {
    std::string line = line_starting(text, metric);
    ASSERT_GT(line.size(), verdict_column) << line;
    EXPECT_TRUE(line.substr(target_column).starts_with("> ") || line.substr(target_column).starts_with("< "))
        << line;
    EXPECT_NE(line[verdict_column], ' ') << line;
    EXPECT_EQ(line[verdict_column - 1], ' ') << line;
  }
}

TEST(ConsoleReport, PhaseHeadersChecklistAndOverallVerdict) {
  std::string text = render_console(fixture_report(), {.color = false});
  EXPECT_NE(text.find("1. etcd: FAIL"), std::string::npos) << text;
  EXPECT_NE(text.find("3. Pod network (CNI): SKIPPED (no driver for \"network\" <yet> & more)"),
            std::string::npos);
  EXPECT_NE(text.find("Pre-production checklist"), std::string::npos);
  EXPECT_NE(text.find("Overall: FAIL (exit 1)"), std::string::npos);
}

TEST(ConsoleReport, ColourOnlyWhenAsked) {
  EXPECT_EQ(render_console(fixture_report(), {.color = false}).find('\x1b'), std::string::npos);
  std::string coloured = render_console(fixture_report(), {.color = true});
  EXPECT_NE(coloured.find("\x1b[32mPASS"), std::string::npos);
  EXPECT_NE(coloured.find("\x1b[1;31mFAIL"), std::string::npos);
}

TEST(ConsoleReport, DurationScaleIsLoud) {
  std::string text = render_console(fixture_report(0.25), {.color = false});
  EXPECT_NE(text.find("!! DURATIONS SHORTENED: every phase ran for 0.25x"), std::string::npos) << text;
  EXPECT_EQ(render_console(fixture_report(), {.color = false}).find("DURATIONS SHORTENED"),
            std::string::npos);
}

TEST(MarkdownReport, SummaryTableRowsAndChecklist) {
  std::string text = render_markdown(fixture_report());
  EXPECT_TRUE(text.starts_with("# kubeproof: FAIL\n")) << text;
  EXPECT_NE(text.find("## Phases"), std::string::npos);
  EXPECT_NE(text.find("| 1 | etcd | completed | **FAIL** |"), std::string::npos) << text;
  EXPECT_NE(text.find("| etcd | `etcd.write.p99` | Control Plane |"), std::string::npos);
  EXPECT_NE(text.find("| storage | `storage.randread_4k.iops` | Storage |"), std::string::npos);
  // A pipe in a label must not split the cell.
  EXPECT_NE(text.find("Query rate \\| pipes"), std::string::npos);
  EXPECT_NE(text.find("## Pre-production checklist"), std::string::npos);
  std::size_t items = 0;
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with("- [x] ") || line.starts_with("- [ ] ")) {
      ++items;
    }
  }
  EXPECT_EQ(items, 8U);
  EXPECT_NE(text.find("`dns.cache_hit_ratio`"), std::string::npos);
}

TEST(MarkdownReport, DurationScaleWarning) {
  EXPECT_NE(render_markdown(fixture_report(0.5)).find("> **WARNING: DURATIONS SHORTENED"), std::string::npos);
}

TEST(PrometheusReport, ExposesMeasuredValuesLevelsAndVerdicts) {
  std::string text = render_prometheus(fixture_report());
  EXPECT_NE(text.find("# TYPE kubeproof_metric gauge\n"), std::string::npos);
  EXPECT_NE(text.find("kubeproof_metric{id=\"etcd.write.p99\",phase=\"etcd\",unit=\"s\"} 0.012\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kubeproof_metric{id=\"dns.qps\",phase=\"dns\",unit=\"1/s\"} 12000\n"),
            std::string::npos);
  EXPECT_NE(
      text.find("kubeproof_criterion_target{id=\"etcd.write.p99\",table=\"Control Plane\",comparison=\"<\"} "
                "0.025\n"),
      std::string::npos);
  EXPECT_NE(
      text.find(
          "kubeproof_criterion_verdict{id=\"etcd.read.p99\",table=\"Control Plane\",verdict=\"FAIL\"} 1"),
      std::string::npos);
  EXPECT_NE(text.find("kubeproof_verdict{verdict=\"FAIL\",profile=\"smoke\",command=\"run\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("kubeproof_exit_code 1\n"), std::string::npos);
  // No critical level: no critical sample for that row.
  EXPECT_EQ(text.find("kubeproof_criterion_critical{id=\"storage.randread_4k.iops\""), std::string::npos);
}

TEST(CriteriaTable, SeedStyleThresholds) {
  std::vector<CriteriaLine> lines;
  for (const config::CriteriaRow& row : testing::fixture_rows()) {
    lines.push_back({row, true});
  }
  lines.back().active = false;
  config::TierSelection tiers;
  std::string text = render_criteria_table("criteria/default.yaml", tiers, lines);
  EXPECT_NE(text.find("< 25ms"), std::string::npos) << text;
  EXPECT_NE(text.find("<= 1s"), std::string::npos);
  EXPECT_NE(text.find("< 500ms"), std::string::npos);
  EXPECT_NE(text.find("> 10k QPS"), std::string::npos);
  EXPECT_NE(text.find("> 5k QPS"), std::string::npos);
  EXPECT_NE(text.find("none defined"), std::string::npos);
  EXPECT_NE(text.find("cluster_size=small (not selected)"), std::string::npos);
}

}  // namespace
}  // namespace kp::report

namespace kp::report {
namespace {

// Issue 17: each reason once. An INVALID phase's reason was in its phase line, in two checklist items and in
// the overall line; a SKIPPED phase's in its line and the overall line.
TEST(ConsoleReport, EachReasonAppearsOnceAndLongNotesStayInTheFiles) {
  std::vector<eval::PhaseInput> inputs;
  eval::PhaseInput etcd;
  etcd.phase = Phase::etcd;
  etcd.status = eval::PhaseStatus::completed;
  etcd.measurements = {testing::measure("etcd.write.p99", 0.012), testing::measure("etcd.read.p99", 0.004)};
  etcd.invalid_reasons = {"achieved 70/s of 100/s offered: the client fell behind"};
  etcd.notes = {"short note", std::string(200, 'x')};
  inputs.push_back(etcd);
  eval::PhaseInput api;
  api.phase = Phase::api;
  api.status = eval::PhaseStatus::skipped;
  api.reason = "no kube-apiserver in the local lab";
  inputs.push_back(api);
  RunReport report;
  report.meta.command = "run";
  report.meta.profile = "load";
  report.evaluation = eval::evaluate(inputs, testing::fixture_rows(), {});
  report.inputs = inputs;
  ASSERT_EQ(report.evaluation.overall, eval::Verdict::invalid);
  const std::string text = render_console(report, {.color = false});
  auto count = [&text](std::string_view needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("the client fell behind"), 1u) << text;
  EXPECT_EQ(count("no kube-apiserver in the local lab"), 1u) << text;
  EXPECT_NE(text.find("  note: short note\n"), std::string::npos) << text;
  EXPECT_EQ(count(std::string(200, 'x')), 0u) << text;
  EXPECT_NE(text.find("  (1 longer note in summary.md and report.json)"), std::string::npos) << text;
  // The overall line names the phases, not their reasons again.
  const std::string overall = line_starting(text, "Overall: ");
  EXPECT_NE(overall.find("INVALID etcd"), std::string::npos) << overall;
  EXPECT_NE(overall.find("skipped api"), std::string::npos) << overall;
  // report.json keeps the full sentence.
  EXPECT_NE(report.evaluation.overall_reason.find("the client fell behind"), std::string::npos);
  // One line per checklist item.
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with("  [")) {
      EXPECT_EQ(line.find('\n'), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace kp::report
