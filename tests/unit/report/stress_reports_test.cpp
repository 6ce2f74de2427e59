// Stress searches in every report: each step (held, broken, bisection) and the breaking point, in
// report.json, the console table, Markdown, JUnit and metrics.prom. The searches come from the real kernel
// (load::BreakingPointSearch), so the reports are tested on what a phase actually hands over.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "load/breaking_point.hpp"
#include "report/run_report.hpp"
#include "report_fixture.hpp"

namespace kp::report {
namespace {

using namespace std::chrono_literals;
using testing::CommandOutput;
using testing::run_command;
using testing::TempDir;

// DNS at capacity 10k QPS: the ramp holds 10k, 12.5k, 15k and breaks at 17.5k on P99 (critical 50ms); the
// bisection holds 16.25k, then breaks at 16.875k and 16.5625k. Breaking point 16.5625k, last held 16.25k.
// A slow step also has 3 errors in 174825 (below the 1 % critical level: not a reason to break).
load::StressResult dns_search() {
  load::BreakingPointSearch search({10e3, 12.5e3, 15e3, 17.5e3, 20e3}, 3, 10e3);
  const load::BreakLimits limits{.p99_critical = 0.050, .error_critical = 0.01};
  while (std::optional<double> level = search.next_level()) {
    load::StepRecord step;
    const bool slow = *level > 16.5e3;
    step.offered = *level;
    step.achieved = *level * 0.999;
    step.p50 = 0.0012;
    step.p99 = slow ? 0.062 : 0.0041;
    step.duration = search.next_is_bisection() ? 5s : 10s;
    step.completed = static_cast<std::uint64_t>(step.achieved * 10);
    step.errors = slow ? 3 : 0;
    step.broke = load::step_break_reason(step, limits, "QPS");
    search.record(step);
  }
  return load::summarize(search, "queries", "dns.breaking_rate", "QPS");
}

// Ingress requests: two steps held, the third interrupted: the breaking point was not reached.
load::StressResult ingress_interrupted() {
  load::BreakingPointSearch search({10e3, 12.5e3, 15e3}, 3, 10e3);
  for (int i = 0; i < 3; ++i) {
    load::StepRecord step;
    step.offered = *search.next_level();
    step.achieved = step.offered;
    step.p99 = 0.020;
    step.completed = 1000;
    step.duration = 10s;
    step.cancelled = i == 2;
    search.record(step);
  }
  return load::summarize(search, "requests", "ingress.breaking_rps", "RPS");
}

constexpr std::string_view kStatement =
    "queries: offered 10.0k/s, sent 10.0k/s (100.0 % of due); own send lateness P50 12us, P99 80us";

RunReport stress_report() {
  RunReport report = testing::fixture_report();
  for (eval::PhaseInput& input : report.inputs) {
    if (input.phase == Phase::dns) {
      input.stress = {dns_search()};
      Measurement point = testing::measure("dns.breaking_rate", 16562.5);
      point.note = input.stress.front().note;
      input.measurements.push_back(point);
      // Two generators stating the same thing: a reader needs it once.
      input.notes = {std::string(kStatement), std::string(kStatement)};
    }
    if (input.phase == Phase::ingress) {
      input.stress = {ingress_interrupted()};
    }
  }
  report.evaluation = eval::evaluate(report.inputs, testing::fixture_rows(), {});
  return report;
}

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

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string_view::npos; at = text.find(what, at + 1)) {
    ++count;
  }
  return count;
}

TEST(StressSearchFixture, HeldBrokenAndBisectionSteps) {
  const load::StressResult search = dns_search();
  ASSERT_EQ(search.steps.size(), 7U);
  EXPECT_TRUE(search.steps[2].held());
  EXPECT_FALSE(search.steps[3].held());
  EXPECT_TRUE(search.steps[4].bisection);
  EXPECT_TRUE(search.steps[4].held());
  ASSERT_TRUE(search.breaking_level && search.last_held);
  EXPECT_DOUBLE_EQ(*search.breaking_level, 16562.5);
  EXPECT_DOUBLE_EQ(*search.last_held, 16250);
}

TEST(StressJson, EveryStepAndTheBreakingPoint) {
  // Ordered, so the test sees the keys in the order the report writes them.
  const nlohmann::ordered_json report = nlohmann::ordered_json::parse(render_json(stress_report()));
  EXPECT_EQ(report.at("schema_version"), 4);
  const nlohmann::ordered_json& dns = report.at("phases").at(3);
  ASSERT_EQ(dns.at("phase"), "dns");
  ASSERT_EQ(dns.at("stress").size(), 1U);
  const nlohmann::ordered_json& series = dns.at("stress").at(0);
  EXPECT_EQ(series.at("series"), "queries");
  EXPECT_EQ(series.at("metric"), "dns.breaking_rate");
  EXPECT_EQ(series.at("unit"), "QPS");
  EXPECT_DOUBLE_EQ(series.at("breaking_level").get<double>(), 16562.5);
  EXPECT_DOUBLE_EQ(series.at("last_held").get<double>(), 16250);
  EXPECT_EQ(series.at("note"), dns_search().note);
  EXPECT_EQ(series.at("breaking_point_text"), "16.56k QPS (x1.66); last held 16.25k QPS (x1.62)");

  const nlohmann::ordered_json& steps = series.at("steps");
  ASSERT_EQ(steps.size(), 7U);
  std::vector<std::string> keys;
  for (const auto& [key, value] : steps.at(0).items()) {
    keys.push_back(key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"level", "level_text", "factor", "bisection", "offered",
                                            "achieved", "p50", "p99", "completed", "errors", "duration",
                                            "cancelled", "broke"}));
  const nlohmann::ordered_json& held = steps.at(0);
  EXPECT_DOUBLE_EQ(held.at("level").get<double>(), 10e3);
  EXPECT_DOUBLE_EQ(held.at("factor").get<double>(), 1.0);
  EXPECT_EQ(held.at("bisection"), false);
  EXPECT_DOUBLE_EQ(held.at("offered").get<double>(), 10e3);
  EXPECT_DOUBLE_EQ(held.at("achieved").get<double>(), 9990);
  EXPECT_DOUBLE_EQ(held.at("p99").get<double>(), 0.0041);
  EXPECT_DOUBLE_EQ(held.at("duration").get<double>(), 10.0);
  EXPECT_EQ(held.at("errors"), 0);
  EXPECT_TRUE(held.at("broke").is_null());
  const nlohmann::ordered_json& broken = steps.at(3);
  EXPECT_DOUBLE_EQ(broken.at("level").get<double>(), 17.5e3);
  EXPECT_EQ(broken.at("errors"), 3);
  EXPECT_NE(broken.at("broke").get<std::string>().find("P99 62.00ms > critical 50.00ms"), std::string::npos)
      << broken.at("broke");
  const nlohmann::ordered_json& bisection = steps.at(4);
  EXPECT_EQ(bisection.at("bisection"), true);
  EXPECT_DOUBLE_EQ(bisection.at("level").get<double>(), 16250);
  EXPECT_DOUBLE_EQ(bisection.at("duration").get<double>(), 5.0);

  // Phases without a search say so with an empty list, never a missing key.
  EXPECT_EQ(report.at("phases").at(0).at("stress"), nlohmann::ordered_json::array());
  const nlohmann::ordered_json& ingress = report.at("phases").at(5).at("stress").at(0);
  EXPECT_TRUE(ingress.at("breaking_level").is_null());
  EXPECT_EQ(ingress.at("steps").at(2).at("cancelled"), true);
  EXPECT_EQ(ingress.at("breaking_point_text"),
            "not reached: every step held until the run was interrupted, up to 12.5k RPS (x1.25)");
}

TEST(StressConsole, OneLinePerStepAndTheBreakingPoint) {
  const std::string text = render_console(stress_report(), {.color = false});
  EXPECT_NE(text.find("  stress: queries, breaking point dns.breaking_rate\n"), std::string::npos) << text;
  const std::string header = line_starting(text, "    STEP");
  ASSERT_FALSE(header.empty()) << text;
  const std::size_t result_column = header.find("RESULT");
  const std::size_t p99_column = header.find("P99");

  const std::string first = line_starting(text, "    1 ");
  ASSERT_FALSE(first.empty()) << text;
  EXPECT_NE(first.find("10k QPS"), std::string::npos) << first;
  EXPECT_EQ(first.substr(result_column), "held") << first;
  EXPECT_EQ(first.substr(p99_column, 6), "4.10ms") << first;

  const std::string broken = line_starting(text, "    4 ");
  EXPECT_EQ(broken.substr(result_column, 11), "broke: P99 ") << broken;
  EXPECT_NE(broken.find(" 3 (0.00172%) "), std::string::npos) << "errors with their share: " << broken;

  const std::string bisection = line_starting(text, "    b1 ");
  EXPECT_NE(bisection.find("16.25k QPS"), std::string::npos) << text;
  EXPECT_EQ(bisection.substr(result_column), "held") << bisection;
  const std::string last = line_starting(text, "    b3 ");
  EXPECT_NE(last.find("16.56k QPS"), std::string::npos) << text;
  // The reason is said once, on the step that broke: not again beside the breaking point.
  EXPECT_EQ(occurrences(last, "P99 62.00ms"), 1U) << last;
  const std::string point = line_starting(text, "  breaking point: ");
  EXPECT_EQ(point, "  breaking point: 16.56k QPS (x1.66); last held 16.25k QPS (x1.62)");

  EXPECT_NE(text.find("  breaking point: not reached: every step held until the run was interrupted, up to "
                      "12.5k RPS (x1.25)\n"),
            std::string::npos)
      << text;
  // The generators' statement, given twice, reads once.
  EXPECT_EQ(occurrences(text, kStatement), 1U) << text;
}

TEST(StressMarkdown, ATablePerSeries) {
  const std::string text = render_markdown(stress_report());
  EXPECT_NE(text.find("## Stress: steps and breaking points"), std::string::npos) << text;
  EXPECT_NE(text.find("### CoreDNS: queries\n\n**Breaking point** (`dns.breaking_rate`): 16.56k QPS (x1.66); "
                      "last held 16.25k QPS (x1.62)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("| STEP | LEVEL | FACTOR | OFFERED | ACHIEVED | P50 | P99 | ERRORS | TIME | RESULT |\n"
                      "|---|---|---|---|---|---|---|---|---|---|\n"
                      "| 1 | 10k QPS | x1 | 10k QPS | 9990 QPS | 1.20ms | 4.10ms | 0 | 10.00s | held |\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("| b1 | 16.25k QPS | x1.62 |"), std::string::npos) << text;
  EXPECT_EQ(occurrences(text, "\n| b"), 3U) << text;
  EXPECT_EQ(occurrences(text, kStatement), 1U) << text;
  // No stress, no section.
  EXPECT_EQ(render_markdown(testing::fixture_report()).find("## Stress"), std::string::npos);
}

// Evaluates an XPath expression with xmllint, the parser a CI system would agree with.
std::string xpath(const std::filesystem::path& file, std::string_view expression) {
  CommandOutput result = run_command(fmt::format("xmllint --xpath '{}' '{}'", expression, file.string()));
  EXPECT_EQ(result.status, 0) << result.output;
  if (result.output.ends_with('\n')) {
    result.output.pop_back();
  }
  return result.output;
}

TEST(StressJunit, TheBreakingPointIsACaseWithItsStepsInSystemOut) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::filesystem::path file = dir.path() / "junit.xml";
  testing::write_file(file, render_junit(stress_report()));
  CommandOutput lint = run_command(fmt::format("xmllint --noout '{}'", file.string()));
  EXPECT_EQ(lint.status, 0) << lint.output;

  const std::string point = "//testcase[@name=\"dns.breaking_rate [breaking point]\"]";
  EXPECT_EQ(xpath(file, fmt::format("count({})", point)), "1");
  EXPECT_EQ(xpath(file, fmt::format("string({}/@classname)", point)), "kubeproof.dns");
  EXPECT_EQ(xpath(file, fmt::format("count({}/failure)", point)), "0");
  const std::string out = xpath(file, fmt::format("string({}/system-out)", point));
  EXPECT_TRUE(out.starts_with("queries: breaking point 16.56k QPS (x1.66); last held 16.25k QPS (x1.62)\n"))
      << out;
  EXPECT_NE(out.find("STEP 1, LEVEL 10k QPS, FACTOR x1,"), std::string::npos) << out;
  EXPECT_NE(out.find("STEP b3, LEVEL 16.56k QPS"), std::string::npos) << out;
  EXPECT_EQ(occurrences(out, "\n"), 8U) << out;  // the breaking point and seven steps
  EXPECT_EQ(xpath(file,
                  "string(//testsuite[@name=\"dns\"]/properties/property[@name=\"dns.breaking_rate."
                  "breaking_level\"]/@value)"),
            "16562.5");
  EXPECT_EQ(xpath(file,
                  "string(//testsuite[@name=\"dns\"]/properties/property[@name=\"dns.breaking_rate."
                  "last_held\"]/@value)"),
            "16250");
  // The dns suite counts the extra case; the generators' statement is in the suite's system-out, once.
  EXPECT_EQ(xpath(file, "string(//testsuite[@name=\"dns\"]/@tests)"), "2");
  EXPECT_EQ(xpath(file, "string(//testsuite[@name=\"dns\"]/system-out)"), std::string(kStatement) + "\n");
  // Interrupted before any break, with steps held: still a case, passing, saying the point was not reached.
  const std::string ingress = "//testcase[@name=\"ingress.breaking_rps [breaking point]\"]";
  EXPECT_EQ(xpath(file, fmt::format("count({}/skipped)", ingress)), "0");
  EXPECT_NE(xpath(file, fmt::format("string({}/system-out)", ingress)).find("not reached"),
            std::string::npos);
}

TEST(StressJunit, ASearchThatRanNoStepIsSkipped) {
  RunReport report = testing::fixture_report();
  load::StressResult none;
  none.series = "streams";
  none.metric = "net.pod_to_pod.breaking_streams";
  none.unit = "streams";
  report.evaluation.phases[2].stress = {none};
  TempDir dir;
  const std::filesystem::path file = dir.path() / "junit.xml";
  testing::write_file(file, render_junit(report));
  EXPECT_EQ(xpath(file,
                  "string(//testcase[@name=\"net.pod_to_pod.breaking_streams [breaking point]\"]/skipped/"
                  "@message)"),
            "not reached: no step ran");
}

TEST(StressJunit, AnInvalidPhaseSaysEachReasonOnce) {
  RunReport report = testing::fixture_report();
  for (eval::PhaseInput& input : report.inputs) {
    if (input.phase == Phase::dns) {
      input.invalid_reasons = {"own send lateness P99 2ms > 1ms", "own send lateness P99 2ms > 1ms"};
    }
  }
  report.evaluation = eval::evaluate(report.inputs, testing::fixture_rows(), {});
  EXPECT_EQ(report.evaluation.phases[3].reason, "own send lateness P99 2ms > 1ms");
  TempDir dir;
  const std::filesystem::path file = dir.path() / "junit.xml";
  testing::write_file(file, render_junit(report));
  const std::string message = xpath(file, "string(//testcase[@name=\"dns phase\"]/error/@message)");
  EXPECT_EQ(occurrences(message, "own send lateness"), 1U) << message;
}

TEST(StressPrometheus, TheBreakingPointAndTheLastStepHeld) {
  const std::string text = render_prometheus(stress_report());
  EXPECT_NE(text.find("kubeproof_metric{id=\"dns.breaking_rate\",phase=\"dns\",unit=\"1/s\"} 16562.5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kubeproof_stress_last_held{id=\"dns.breaking_rate\",phase=\"dns\",series=\"queries\"} "
                      "16250\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("kubeproof_stress_last_held{id=\"ingress.breaking_rps\",phase=\"ingress\",series="
                      "\"requests\"} 12500\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace kp::report
