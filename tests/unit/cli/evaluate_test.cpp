// `kubeproof evaluate` end to end: the seed's verdicts and exit codes, input errors, and the report files.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using nlohmann::json;
using testing::count_lines;
using testing::folder_entries;
using testing::Ran;
using testing::Sandbox;

// Every metric of the default criteria at a value that meets its target (ssd, small cluster, cached images).
std::map<std::string, json> all_at_target() {
  return {
      {"etcd.write.p99", "12ms"},
      {"etcd.read.p99", "4ms"},
      {"etcd.fsync.p99", "3ms"},
      {"etcd.leader_changes", 0},
      {"api.mutating.p99", "220ms"},
      {"api.readonly.p99", "80ms"},
      {"api.list.p99", "2.5s"},
      {"api.qps", 1500},
      {"api.error_rate", "0.02%"},
      {"api.pod_startup.p99", "3.2s"},
      {"net.pod_to_pod.throughput", "9.4Gbps"},
      {"net.pod_to_pod.latency.p99", "400us"},
      {"net.pod_to_service.latency.p99", "1.1ms"},
      {"dns.qps", 25000},
      {"dns.p99", "3ms"},
      {"dns.cache_hit_ratio", "96%"},
      {"storage.randread_4k.iops", "20k"},
      {"storage.randwrite_4k.iops", "8k"},
      {"storage.rand_4k.p99", "0.8ms"},
      {"storage.seqwrite.bandwidth", "400MB/s"},
      {"storage.seqread.bandwidth", "600MB/s"},
      {"ingress.rps", "25k"},
      {"ingress.p99", "15ms"},
      {"ingress.error_rate_5xx", "0.005%"},
      {"ingress.connection_rate", "8k/s"},
  };
}

std::string measurements_json(const std::map<std::string, json>& values) {
  json document;
  document["measurements"] = json::object();
  for (const auto& [id, value] : values) {
    document["measurements"][id] = value;
  }
  return document.dump(2);
}

Ran evaluate(const Sandbox& sandbox, const std::map<std::string, json>& values,
             std::vector<std::string> extra = {}) {
  sandbox.write("m.json", measurements_json(values));
  std::vector<std::string> args = {"evaluate", "--measurements", "m.json", "--results", "out"};
  args.insert(args.end(), extra.begin(), extra.end());
  return sandbox.run(args);
}

TEST(Evaluate, AllAtTargetIsPassWithExitZero) {
  Sandbox sandbox;
  Ran ran = evaluate(sandbox, all_at_target());
  EXPECT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("Overall: PASS (exit 0)"), std::string::npos) << ran.out;
  EXPECT_EQ(ran.out.find('\x1b'), std::string::npos) << "no colour when stdout is not a terminal";
}

TEST(Evaluate, NumbersAreBaseUnits) {
  Sandbox sandbox;
  std::map<std::string, json> values = all_at_target();
  values["etcd.write.p99"] = 0.012;           // seconds
  values["net.pod_to_pod.throughput"] = 9e9;  // bits per second
  values["dns.cache_hit_ratio"] = 0.96;       // fraction
  EXPECT_EQ(evaluate(sandbox, values).exit_code, 0);
}

TEST(Evaluate, OneMetricBeyondCriticalIsFailWithExitOne) {
  Sandbox sandbox;
  std::map<std::string, json> values = all_at_target();
  values["etcd.write.p99"] = "60ms";  // critical < 50ms
  Ran ran = evaluate(sandbox, values);
  EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("Overall: FAIL (exit 1)"), std::string::npos) << ran.out;
}

TEST(Evaluate, OneMetricBetweenTargetAndCriticalIsConditionalPassWithExitThree) {
  Sandbox sandbox;
  std::map<std::string, json> values = all_at_target();
  values["etcd.write.p99"] = "30ms";  // target < 25ms, critical < 50ms
  Ran ran = evaluate(sandbox, values);
  EXPECT_EQ(ran.exit_code, 3) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("Overall: CONDITIONAL PASS (exit 3)"), std::string::npos) << ran.out;
}

TEST(Evaluate, HigherBoundsComparisonsWork) {
  Sandbox sandbox;
  std::map<std::string, json> values = all_at_target();
  values["dns.qps"] = "4k";  // critical > 5k QPS
  EXPECT_EQ(evaluate(sandbox, values).exit_code, 1);
  values["dns.qps"] = "7k";  // target > 10k QPS
  EXPECT_EQ(evaluate(sandbox, values).exit_code, 3);
}

TEST(Evaluate, TierFlagsSelectTheTargets) {
  Sandbox sandbox;
  // 20k IOPS meets the SSD target (> 10k) but not the NVMe one (> 50k); it is within NVMe's critical (> 10k).
  EXPECT_EQ(evaluate(sandbox, all_at_target(), {"--tier", "ssd"}).exit_code, 0);
  Ran nvme = evaluate(sandbox, all_at_target(), {"--tier", "nvme"});
  EXPECT_EQ(nvme.exit_code, 3) << nvme.out;
  EXPECT_NE(nvme.out.find("> 50k IOPS"), std::string::npos) << nvme.out;
}

TEST(Evaluate, PhasesAbsentFromTheFileAreSkippedNotFailed) {
  Sandbox sandbox;
  Ran ran =
      evaluate(sandbox, {{"etcd.write.p99", "12ms"}, {"etcd.read.p99", "4ms"}, {"etcd.fsync.p99", "3ms"}});
  EXPECT_EQ(ran.exit_code, 0) << ran.out;
  EXPECT_NE(ran.out.find("Ingress: SKIPPED"), std::string::npos) << ran.out;
}

TEST(Evaluate, WritesTheFiveReportsAndNothingElse) {
  Sandbox sandbox;
  std::map<std::string, json> values = all_at_target();
  values["etcd.write.p99"] = "30ms";
  Ran ran = evaluate(sandbox, values);
  ASSERT_EQ(ran.exit_code, 3) << ran.err;
  EXPECT_EQ(folder_entries(sandbox.work()), (std::vector<std::string>{"m.json", "out"}));
  std::vector<std::string> folders = folder_entries(sandbox.work() / "out");
  ASSERT_EQ(folders.size(), 1U);
  EXPECT_TRUE(folders[0].ends_with("Z-imported")) << folders[0];
  std::filesystem::path folder = sandbox.work() / "out" / folders[0];
  EXPECT_EQ(folder_entries(folder), (std::vector<std::string>{"junit.xml", "metrics.prom", "report.html",
                                                              "report.json", "summary.md"}));
  EXPECT_NE(ran.err.find(folders[0]), std::string::npos) << "stderr names the folder: " << ran.err;

  json report = json::parse(testing::read_file(folder / "report.json"));
  EXPECT_EQ(report.at("overall").at("verdict"), "CONDITIONAL PASS");
  EXPECT_EQ(report.at("overall").at("exit_code"), 3);
  EXPECT_EQ(report.at("meta").at("command"), "evaluate");
  EXPECT_EQ(report.at("meta").at("measurements_file"), "m.json");
  EXPECT_NE(testing::read_file(folder / "summary.md").find("CONDITIONAL PASS"), std::string::npos);
  std::string junit = testing::read_file(folder / "junit.xml");
  EXPECT_NE(junit.find("<testcase name=\"etcd.write.p99 [Control Plane]\""), std::string::npos);
}

TEST(Evaluate, JsonFormatPrintsTheReport) {
  Sandbox sandbox;
  Ran ran = evaluate(sandbox, all_at_target(), {"--format", "json"});
  ASSERT_EQ(ran.exit_code, 0) << ran.err;
  json report = json::parse(ran.out);
  EXPECT_EQ(report.at("schema_version"), 4);
  EXPECT_EQ(report.at("overall").at("verdict"), "PASS");
}

TEST(Evaluate, ExplicitCriteriaFileIsUsed) {
  Sandbox sandbox;
  sandbox.write("strict.yaml",
                "version: 1\n"
                "rows:\n"
                "  - metric: etcd.write.p99\n"
                "    table: Control Plane\n"
                "    label: Write latency P99\n"
                "    comparison: \"<\"\n"
                "    target: 5ms\n"
                "    critical: 10ms\n");
  Ran ran = evaluate(sandbox, {{"etcd.write.p99", "12ms"}}, {"--criteria", "strict.yaml"});
  EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;
}

// The three input errors the issue names, plus a bad value: exit 2, one line on stderr naming the file, no
// report folder.
struct InputErrorCase {
  const char* name;
  const char* file_contents;  // nullptr: the file does not exist
  const char* expected;       // a part of the message
};

std::ostream& operator<<(std::ostream& out, const InputErrorCase& param) {
  return out << param.name;
}

class EvaluateInputError : public ::testing::TestWithParam<InputErrorCase> {};

TEST_P(EvaluateInputError, ExitTwoWithOneLineNamingTheFile) {
  Sandbox sandbox;
  const InputErrorCase& param = GetParam();
  if (param.file_contents != nullptr) {
    sandbox.write("input.json", param.file_contents);
  }
  Ran ran = sandbox.run({"evaluate", "--measurements", "input.json", "--results", "out"});
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_TRUE(ran.err.starts_with("kubeproof: input.json: ")) << ran.err;
  EXPECT_NE(ran.err.find(param.expected), std::string::npos) << ran.err;
  EXPECT_EQ(ran.out, "");
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "out"));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EvaluateInputError,
    ::testing::Values(
        InputErrorCase{"missing_file", nullptr, "cannot open: No such file or directory"},
        InputErrorCase{"malformed_json", "{\"measurements\": {\"etcd.write.p99\": \"30ms\",",
                       "not valid JSON"},
        InputErrorCase{
            "unknown_metric_id", "{\"measurements\": {\"etcd.wrte.p99\": \"30ms\"}}",
            "measurements.\"etcd.wrte.p99\": unknown metric id (did you mean \"etcd.write.p99\"?)"},
        InputErrorCase{"bad_value", "{\"measurements\": {\"etcd.write.p99\": \"fast\"}}",
                       "measurements.\"etcd.write.p99\": "},
        InputErrorCase{"wrong_unit_kind", "{\"measurements\": {\"dns.qps\": \"5ms\"}}", "\"5ms\""},
        InputErrorCase{"negative", "{\"measurements\": {\"dns.qps\": -1}}", "got -1"},
        InputErrorCase{"not_an_object", "[]", "must be a JSON object"},
        InputErrorCase{"no_measurements", "{}", "missing \"measurements\""},
        InputErrorCase{"unknown_top_level_key", "{\"measurements\": {}, \"extra\": 1}",
                       "extra: unknown key"}),
    [](const ::testing::TestParamInfo<InputErrorCase>& info) { return std::string(info.param.name); });

TEST(Evaluate, MissingMeasurementsFlagIsAUsageError) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"evaluate"});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_NE(ran.err.find("--measurements"), std::string::npos) << ran.err;
}

TEST(Evaluate, UnwritableResultsFolderIsReported) {
  Sandbox sandbox;
  sandbox.write("m.json", measurements_json(all_at_target()));
  sandbox.write("plain-file", "x");
  Ran ran = sandbox.run({"evaluate", "--measurements", "m.json", "--results", "plain-file/results"});
  EXPECT_EQ(ran.exit_code, 4) << ran.err;
  EXPECT_NE(ran.err.find("plain-file"), std::string::npos) << ran.err;
}

}  // namespace
}  // namespace kp::cli

namespace kp::cli {
namespace {

// `kubeproof report DIR --format html` (issue 17): regenerates report.html from the folder's report.json; a
// folder without one, or a report of another schema version, is one line naming the file, exit 2.
TEST(Report, RegeneratesReportHtmlFromReportJson) {
  Sandbox sandbox;
  ASSERT_EQ(evaluate(sandbox, all_at_target()).exit_code, 0);
  std::vector<std::string> folders = folder_entries(sandbox.work() / "out");
  ASSERT_EQ(folders.size(), 1U);
  const std::filesystem::path folder = sandbox.work() / "out" / folders[0];
  std::filesystem::remove(folder / "report.html");
  Ran ran = sandbox.run({"report", (std::filesystem::path("out") / folders[0]).string(), "--format", "html"});
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  const std::string html = testing::read_file(folder / "report.html");
  EXPECT_NE(html.find("<h1 id=\"verdict\" data-verdict=\"PASS\">PASS</h1>"), std::string::npos);
}

TEST(Report, BadInputIsOneLineAndExitTwo) {
  Sandbox sandbox;
  std::filesystem::create_directories(sandbox.work() / "empty");
  std::filesystem::create_directories(sandbox.work() / "old");
  Ran none = sandbox.run({"report", "empty"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err, "kubeproof: empty: no report.json in this folder\n");

  sandbox.write("old/report.json", R"({"schema": "kubeproof.report", "schema_version": 2})");
  Ran old = sandbox.run({"report", "old"});
  EXPECT_EQ(old.exit_code, 2);
  EXPECT_EQ(old.err, "kubeproof: old/report.json: schema_version: this kubeproof reads version 4, got 2\n");

  Ran format = sandbox.run({"report", "old", "--format", "pdf"});
  EXPECT_EQ(format.exit_code, 2);
  EXPECT_NE(format.err.find("pdf"), std::string::npos) << format.err;
}

}  // namespace
}  // namespace kp::cli
