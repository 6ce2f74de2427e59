// `kubeproof compare` and `kubeproof report --format md|junit` end to end, on report folders that
// `kubeproof evaluate` writes: exit codes, outputs, and every bad input as one line with exit 2.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using nlohmann::json;
using testing::folder_entries;
using testing::Ran;
using testing::Sandbox;

const std::map<std::string, json> kBaseline = {
    {"etcd.write.p99", "12ms"}, {"etcd.read.p99", "4ms"}, {"etcd.fsync.p99", "3ms"},
    {"dns.qps", 25000},         {"dns.p99", "3ms"},       {"dns.cache_hit_ratio", "96%"},
};

// Evaluates `values` into a results folder named `name` and returns its path.
std::filesystem::path evaluated(const Sandbox& sandbox, const std::string& name,
                                const std::map<std::string, json>& values) {
  json document;
  document["measurements"] = json::object();
  for (const auto& [id, value] : values) {
    document["measurements"][id] = value;
  }
  sandbox.write(name + ".json", document.dump());
  Ran ran = sandbox.run({"evaluate", "--measurements", name + ".json", "--results", name});
  EXPECT_NE(ran.exit_code, 2) << ran.err;
  std::vector<std::string> folders = folder_entries(sandbox.work() / name);
  EXPECT_EQ(folders.size(), 1U);
  return folders.empty() ? std::filesystem::path() : sandbox.work() / name / folders[0];
}

TEST(CompareCommand, ARunAgainstItselfExitsZero) {
  Sandbox sandbox;
  const auto a = evaluated(sandbox, "a", kBaseline);
  Ran ran = sandbox.run({"compare", a.string(), a.string()});
  EXPECT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("no row got worse beyond 5% (exit 0)"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("cannot judge (single values, no histogram)"), std::string::npos) << ran.out;
}

TEST(CompareCommand, AWorseLatencyAndALowerRateExitOneInEveryFormat) {
  Sandbox sandbox;
  const auto a = evaluated(sandbox, "a", kBaseline);
  std::map<std::string, json> slower = kBaseline;
  slower["etcd.write.p99"] = "30ms";  // +150 %: worse, PASS -> CONDITIONAL PASS
  slower["dns.qps"] = 20000;          // -20 %: worse (a rate went down)
  slower["dns.p99"] = "2ms";          // better
  const auto b = evaluated(sandbox, "b", slower);

  Ran table = sandbox.run({"compare", a.string(), b.string()});
  EXPECT_EQ(table.exit_code, 1) << table.out << table.err;
  EXPECT_NE(
      table.out.find("2 rows got worse beyond 5%: etcd.write.p99 [Control Plane], dns.qps [Data Plane]"),
      std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("PASS -> CONDITIONAL PASS"), std::string::npos) << table.out;

  Ran out = sandbox.run({"compare", (a / "report.json").string(), b.string(), "--format", "json"});
  EXPECT_EQ(out.exit_code, 1) << out.err;
  json document = json::parse(out.out);
  EXPECT_EQ(document.at("exit_code"), 1);
  std::map<std::string, std::string> results;
  for (const json& row : document.at("rows")) {
    results[row.at("key").get<std::string>()] = row.at("result").get<std::string>();
  }
  EXPECT_EQ(results["etcd.write.p99 [Control Plane]"], "worse");
  EXPECT_EQ(results["dns.qps [Data Plane]"], "worse");
  EXPECT_EQ(results["dns.p99 [Data Plane]"], "better");
  EXPECT_EQ(results["etcd.read.p99 [Control Plane]"], "unchanged");

  Ran markdown = sandbox.run({"compare", a.string(), b.string(), "--format", "md"});
  EXPECT_EQ(markdown.exit_code, 1);
  EXPECT_NE(markdown.out.find("| etcd.write.p99 [Control Plane] | 12.00ms | 30.00ms | +150.0% |"),
            std::string::npos)
      << markdown.out;

  // A looser tolerance lets the 20 % drop through, not the 150 % rise.
  Ran loose = sandbox.run({"compare", a.string(), b.string(), "--tolerance", "25%", "--format", "json"});
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_EQ(json::parse(loose.out).at("worse"), json::array({"etcd.write.p99 [Control Plane]"}));
}

TEST(CompareCommand, BadInputIsOneLineAndExitTwo) {
  Sandbox sandbox;
  const auto a = evaluated(sandbox, "a", kBaseline);
  std::filesystem::create_directories(sandbox.work() / "empty");

  Ran missing = sandbox.run({"compare", a.string(), "empty"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("empty: no report.json in this folder"), std::string::npos) << missing.err;
  EXPECT_EQ(missing.out, "");

  json old = json::parse(testing::read_file(a / "report.json"));
  old["schema_version"] = 2;
  sandbox.write("old.json", old.dump());
  Ran version = sandbox.run({"compare", a.string(), "old.json"});
  EXPECT_EQ(version.exit_code, 2);
  EXPECT_NE(version.err.find("old.json: schema_version: this kubeproof reads version 4, got 2"),
            std::string::npos)
      << version.err;

  sandbox.write("broken.json", "{\"schema\": \"kubeproof.report\", ");
  Ran broken = sandbox.run({"compare", "broken.json", a.string()});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("broken.json: not valid JSON"), std::string::npos) << broken.err;

  const auto other = evaluated(sandbox, "other", {{"ingress.p99", "15ms"}});
  Ran disjoint = sandbox.run({"compare", a.string(), other.string()});
  EXPECT_EQ(disjoint.exit_code, 2);
  EXPECT_NE(disjoint.err.find("no metric was measured in both runs"), std::string::npos) << disjoint.err;

  Ran tolerance = sandbox.run({"compare", a.string(), a.string(), "--tolerance", "-3"});
  EXPECT_EQ(tolerance.exit_code, 2);
  EXPECT_NE(tolerance.err.find("--tolerance: must be a percentage >= 0 such as 5 or 2.5%, got \"-3\""),
            std::string::npos)
      << tolerance.err;
}

TEST(ReportCommand, MarkdownAndJUnitRegenerateExactlyWhatTheRunWrote) {
  Sandbox sandbox;
  std::map<std::string, json> values = kBaseline;
  values["etcd.write.p99"] = "60ms";  // a FAIL row, for a <failure> in junit.xml
  const auto folder = evaluated(sandbox, "a", values);
  const std::string summary = testing::read_file(folder / "summary.md");
  const std::string junit = testing::read_file(folder / "junit.xml");
  std::filesystem::remove(folder / "summary.md");
  std::filesystem::remove(folder / "junit.xml");

  Ran md = sandbox.run({"report", folder.string(), "--format", "md"});
  EXPECT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(testing::read_file(folder / "summary.md"), summary);
  Ran xml = sandbox.run({"report", (folder / "report.json").string(), "--format", "junit"});
  EXPECT_EQ(xml.exit_code, 0) << xml.err;
  EXPECT_EQ(testing::read_file(folder / "junit.xml"), junit);
}

TEST(ReportCommand, AFieldOfTheWrongKindWritesNothing) {
  Sandbox sandbox;
  const auto folder = evaluated(sandbox, "a", kBaseline);
  json document = json::parse(testing::read_file(folder / "report.json"));
  document["phases"][0]["rows"][0]["measured"] = "fast";
  std::filesystem::create_directories(sandbox.work() / "bad");
  sandbox.write("bad/report.json", document.dump());
  Ran ran = sandbox.run({"report", "bad", "--format", "md"});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_NE(
      ran.err.find("bad/report.json: phases[0].rows[0].measured: must be a number or null, got \"fast\""),
      std::string::npos)
      << ran.err;
  EXPECT_EQ(folder_entries(sandbox.work() / "bad"), std::vector<std::string>{"report.json"});
}

}  // namespace
}  // namespace kp::cli
