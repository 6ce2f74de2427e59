// `kubeproof run` and `kubeproof plan validate` end to end. The run tests use a plan whose phases are
// disabled, so they stay fast and deterministic whichever drivers are registered.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using nlohmann::json;
using testing::count_lines;
using testing::folder_entries;
using testing::Ran;
using testing::Sandbox;

constexpr std::string_view kDisabledPlan =
    "name: nothing-runs\n"
    "type: smoke\n"
    "target: local\n"
    "phases:\n"
    "  - phase: etcd\n"
    "    enabled: false\n"
    "  - phase: dns\n"
    "    enabled: false\n";

json only_report(const Sandbox& sandbox, std::string_view results) {
  std::vector<std::string> folders = folder_entries(sandbox.work() / results);
  EXPECT_EQ(folders.size(), 1U);
  if (folders.size() != 1) {
    return json();
  }
  std::filesystem::path folder = sandbox.work() / results / folders[0];
  EXPECT_EQ(folder_entries(folder), (std::vector<std::string>{"junit.xml", "metrics.prom", "report.html",
                                                              "report.json", "summary.md"}));
  return json::parse(testing::read_file(folder / "report.json"));
}

TEST(RunCommand, WritesReportsEvenWhenNothingRanAndSaysWhy) {
  Sandbox sandbox;
  sandbox.write("plan.yaml", kDisabledPlan);
  Ran ran = sandbox.run({"run", "--plan", "plan.yaml", "--results", "out"});
  // Nothing measured can never pass: NOT MEASURED, exit 4.
  EXPECT_EQ(ran.exit_code, 4) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("1. etcd: SKIPPED (disabled in plan)"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("2. API Server & Kubelet: SKIPPED (not in plan)"), std::string::npos) << ran.out;
  EXPECT_NE(ran.err.find("[etcd] skipped: disabled in plan"), std::string::npos) << "progress on stderr";
  json report = only_report(sandbox, "out");
  ASSERT_FALSE(report.is_null());
  EXPECT_EQ(report.at("meta").at("command"), "run");
  EXPECT_EQ(report.at("meta").at("plan"), "nothing-runs");
  EXPECT_EQ(report.at("meta").at("profile"), "smoke");
  EXPECT_EQ(report.at("overall").at("exit_code"), ran.exit_code);
  EXPECT_EQ(report.at("phases").size(), 6U);
}

TEST(RunCommand, DurationScaleAndFlagsReachTheReport) {
  Sandbox sandbox;
  sandbox.write("plan.yaml", kDisabledPlan);
  Ran ran =
      sandbox.run({"run", "--plan", "plan.yaml", "--results", "out", "--duration-scale", "0.5", "--target",
                   "cluster", "--tier", "nvme", "--continue-on-fail", "--only", "etcd,api"});
  EXPECT_EQ(ran.exit_code, 4) << ran.err;
  EXPECT_NE(ran.out.find("DURATIONS SHORTENED"), std::string::npos) << ran.out;
  json report = only_report(sandbox, "out");
  ASSERT_FALSE(report.is_null());
  EXPECT_DOUBLE_EQ(report.at("meta").at("duration_scale").get<double>(), 0.5);
  EXPECT_TRUE(report.at("meta").at("duration_scale_note").is_string());
  EXPECT_EQ(report.at("meta").at("target"), "cluster");
  EXPECT_EQ(report.at("meta").at("tiers").at("storage_tier"), "nvme");
  EXPECT_EQ(report.at("meta").at("continue_on_fail"), true);
  EXPECT_EQ(report.at("phases")[3].at("reason"), "not selected");
}

TEST(RunCommand, MissingPlanIsAnInputErrorWithoutReports) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"run", "--plan", "absent.yaml", "--results", "out"});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_NE(ran.err.find("absent.yaml"), std::string::npos) << ran.err;
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "out"));
}

TEST(PlanValidate, ShippedPlansAreValid) {
  Sandbox sandbox;
  for (std::string_view type : {"smoke", "load", "stress"}) {
    std::string file = std::string(KP_SOURCE_DIR) + "/plans/" + std::string(type) + ".yaml";
    Ran ran = sandbox.run({"plan", "validate", file});
    EXPECT_EQ(ran.exit_code, 0) << file << ": " << ran.err;
    EXPECT_NE(ran.out.find(": valid " + std::string(type) + " plan"), std::string::npos) << ran.out;
  }
}

TEST(PlanValidate, ExamplePlansAreValid) {
  Sandbox sandbox;
  int plans = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(KP_SOURCE_DIR) + "/examples")) {
    if (entry.path().extension() != ".yaml") {
      continue;
    }
    ++plans;
    Ran ran = sandbox.run({"plan", "validate", entry.path().string()});
    EXPECT_EQ(ran.exit_code, 0) << entry.path() << ": " << ran.err;
    EXPECT_NE(ran.out.find("(settings valid)"), std::string::npos) << ran.out;
  }
  EXPECT_GE(plans, 1);
}

TEST(PlanValidate, InvalidPlanNamesFileLineAndField) {
  Sandbox sandbox;
  sandbox.write("bad.yaml",
                "name: bad\n"
                "type: smoke\n"
                "phases:\n"
                "  - phase: etcd\n"
                "    load: 0\n");
  Ran ran = sandbox.run({"plan", "validate", "bad.yaml"});
  EXPECT_EQ(ran.exit_code, 2);
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_TRUE(ran.err.starts_with("kubeproof: bad.yaml:5: phases[0].load: ")) << ran.err;
}

}  // namespace
}  // namespace kp::cli
