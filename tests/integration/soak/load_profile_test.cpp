// A soak with a load profile against the lab's real etcd, through the real binary: a 7 s soak of the etcd
// phase (writes only, 200/s at 100 %) in 1 s rounds, whose profile steps from 10 % to 100 % at 3 s of soak
// time. What the rounds measured must show the step: the etcd writes counted over the soak (the hour's
// merged histogram) lie between what the rounds would have written all at 10 % and all at 100 %, each bound
// by a wide margin, and the round the report shows wrote at its own round's rate. Bad load profiles are one
// line, exit 2.

#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/units.hpp"
#include "fault_support.hpp"
#include "lab/process.hpp"

namespace kp::faults {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

constexpr double kRate = 200;  // capacity.etcd_ops x the phase's load of 100 %
constexpr double kLow = 0.1;   // the factor until 3 s
constexpr double kStepAt = 3;  // seconds of soak time

constexpr std::string_view kPlan = R"(name: soak-profile-it
type: soak
target: local
soak_duration: 7s
checkpoint: 1s
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity:
  etcd_ops: 200
phases:
  - phase: etcd
    duration: 1s
    load: 100%
    settings: {workload: write}
load_profile:
  steps:
    - {at: 0s, factor: 10%}
    - {at: 3s, factor: 100%}
)";

json read_json(const fs::path& file) {
  std::ifstream in(file);
  return json::parse(in, nullptr, false);
}

// The factor of round `round` from soak.load_profile.factors (each change, from its round on).
double factor_of(const json& factors, int round) {
  double factor = 0;
  for (const json& change : factors) {
    if (change.at("round").get<int>() <= round) {
      factor = change.at("factor").get<double>();
    }
  }
  return factor;
}

// The measured value of an etcd phase's metric, from its rows or its informational list.
std::optional<double> etcd_measured(const json& report, std::string_view metric) {
  const json& etcd = report.at("phases").at(0);
  for (const json& row : etcd.at("rows")) {
    if (row.at("metric") == metric && row.at("measured").is_number()) {
      return row.at("measured").get<double>();
    }
  }
  for (const json& one : etcd.at("informational")) {
    if (one.at("metric") == metric && one.at("value").is_number()) {
      return one.at("value").get<double>();
    }
  }
  return std::nullopt;
}

TEST(SoakLoadProfile, RoundsAfterAStepRunAtTheNewRate) {
  if (!lab::find_executable("etcd")) {
    GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
  }
  TempDir dir("kpsoakprofile");
  const fs::path lab = dir.path() / "lab";
  Running up(dir.path(), {"lab", "--lab-dir", lab.string(), "up", "--service", "etcd"});
  const std::optional<int> up_code = up.wait(seconds(60));
  struct LabDown {
    fs::path lab;
    ~LabDown() { lab_down(lab); }
  } down{lab};
  ASSERT_EQ(up_code, 0) << up.out() << up.err();
  const fs::path plan = dir.path() / "plan.yaml";
  std::ofstream(plan) << kPlan;

  const fs::path results = dir.path() / "results";
  Running soak(dir.path(), {"soak", "--plan", plan.string(), "--lab-dir", lab.string(), "--results",
                            results.string(), "--no-live-view"});
  const std::optional<int> code = soak.wait(seconds(90));
  ASSERT_TRUE(code.has_value()) << soak.err();
  ASSERT_NE(*code, 2) << soak.err();
  fs::path folder;
  for (const fs::directory_entry& entry : fs::directory_iterator(results)) {
    folder = entry.path();
  }
  const json report = read_json(folder / "report.json");
  ASSERT_TRUE(report.is_object()) << folder;
  const json& record = report.at("soak");
  ASSERT_EQ(record.at("finished"), true);
  const int rounds = record.at("rounds").get<int>();

  // Each round announced its factor: 10 % for those that began before 3 s of soak time, 100 % after.
  const std::string err = soak.err();
  static const std::regex announced(
      R"(soak round ([0-9]+) \(([^ ]+) of [^ ]+ done\), load factor ([0-9.]+)%)");
  int announced_rounds = 0;
  for (auto it = std::sregex_iterator(err.begin(), err.end(), announced); it != std::sregex_iterator();
       ++it) {
    ++announced_rounds;
    const Result<Duration> at = parse_duration((*it)[2].str());
    ASSERT_TRUE(at.has_value()) << (*it)[0];
    const double at_seconds = std::chrono::duration<double>(*at).count();
    EXPECT_EQ(std::stod((*it)[3].str()), at_seconds < kStepAt ? 10.0 : 100.0) << (*it)[0];
  }
  EXPECT_EQ(announced_rounds, rounds) << err;

  // The record: the profile, the round from which each factor held, and the hour's factors.
  const json& profile = record.at("load_profile");
  ASSERT_TRUE(profile.is_object()) << record.dump();
  EXPECT_EQ(profile.at("text"), "steps: 10% from 0s, 100% from 3s");
  const json& factors = profile.at("factors");
  ASSERT_EQ(factors.size(), 2U) << factors.dump();
  EXPECT_EQ(factors[0].at("round"), 1);
  EXPECT_EQ(factors[0].at("factor"), kLow);
  const int step_round = factors[1].at("round").get<int>();
  EXPECT_EQ(factors[1].at("factor"), 1.0);
  EXPECT_GE(factors[1].at("at_seconds").get<double>(), kStepAt);
  ASSERT_GE(step_round, 2);
  ASSERT_LE(step_round, rounds) << "no round after the step";
  const int low_rounds = step_round - 1;
  const int high_rounds = rounds - low_rounds;

  // What the rounds wrote: each round's slice is 1 s (the last may be shorter), so the soak wrote at most
  // 200/s x (10 % x low rounds + 100 % x high rounds) and, with the last round's slice not counted and a
  // wide margin for a slow disk, at least 70 % of what the full rounds at 100 % wrote. Rounds all at 10 %
  // (the step ignored) would fall under the lower bound; rounds all at 100 % (the profile ignored before
  // the step) over the upper one.
  std::uint64_t writes = 0;
  for (const json& hour : record.at("hours")) {
    if (hour.at("metric") == "etcd.write.p99") {
      ASSERT_EQ(hour.at("hour"), 0);
      writes = hour.at("count").get<std::uint64_t>();
      EXPECT_EQ(hour.at("load_factors"), json::parse("[0.1, 1.0]"));
    }
  }
  const double most = kRate * (kLow * low_rounds + high_rounds) * 1.05 + rounds;
  const double least = kRate * kLow * low_rounds * 0.7 + kRate * (high_rounds - 1) * 0.7;
  EXPECT_LE(static_cast<double>(writes), most) << "low rounds " << low_rounds << ", high " << high_rounds;
  EXPECT_GE(static_cast<double>(writes), least) << "low rounds " << low_rounds << ", high " << high_rounds;
  EXPECT_LT(kRate * kLow * rounds * 1.05 + rounds, least) << "the bounds cannot tell the factors apart";
  EXPECT_GT(kRate * rounds * 0.9, most) << "the bounds cannot tell the factors apart";

  // The round the report shows wrote at its own round's rate (20/s or 200/s: ten times apart).
  int shown = 0;
  for (const json& phase : record.at("phases")) {
    if (phase.at("phase") == "etcd") {
      shown = phase.at("shown_round").get<int>();
    }
  }
  ASSERT_GT(shown, 0);
  const std::optional<double> throughput = etcd_measured(report, "etcd.write.throughput");
  ASSERT_TRUE(throughput.has_value()) << report.at("phases").at(0).dump();
  const double intended = kRate * factor_of(factors, shown);
  EXPECT_GE(*throughput, 0.5 * intended) << "round " << shown;
  EXPECT_LE(*throughput, 1.1 * intended) << "round " << shown;
}

TEST(SoakLoadProfile, ABadProfileIsOneLineAndExitTwo) {
  TempDir dir("kpsoakprofile");
  const fs::path plan = dir.path() / "plan.yaml";
  std::string text(kPlan);
  text.replace(text.find("at: 3s"), 6, "at: 0s");
  std::ofstream(plan) << text;
  // Refused while the plan is read: before any lab or results folder is looked at.
  Running soak(dir.path(), {"soak", "--plan", plan.string(), "--results", (dir.path() / "results").string(),
                            "--no-live-view"});
  EXPECT_EQ(soak.wait(seconds(30)), 2);
  EXPECT_EQ(soak.err(),
            fmt::format("kubeproof: {}:17: load_profile.steps[1].at: must be after the step before "
                        "it (0s), got \"0s\"\n",
                        plan.string()));

  std::ofstream(plan) << "type: load\nload_profile:\n  daily: [50%]\n";
  Running run(dir.path(), {"run", "--plan", plan.string(), "--results", (dir.path() / "results").string(),
                           "--no-live-view"});
  EXPECT_EQ(run.wait(seconds(30)), 2);
  EXPECT_EQ(run.err(),
            fmt::format("kubeproof: {}:2: load_profile: only a plan of type soak has a load profile "
                        "(this one is load), got a mapping\n",
                        plan.string()));
}

}  // namespace
}  // namespace kp::faults
