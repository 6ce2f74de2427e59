// Bad plan input (issue 13) end to end: one line naming file:line: field and the value, exit 2, and nothing
// written as if the run had happened. A capacity of 0 for a phase whose load derives from it is refused where
// the plan is parsed, so `plan validate` and `run --dry-run` both say so before any phase is looked at.

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using testing::count_lines;
using testing::Ran;
using testing::Sandbox;

constexpr std::string_view kZeroDnsCapacity =
    "name: zero\n"
    "type: load\n"
    "capacity:\n"
    "  dns_qps: 0\n"
    "phases:\n"
    "  - phase: dns\n";

constexpr std::string_view kZeroMessage =
    "kubeproof: zero.yaml:4: capacity.dns_qps: must be > 0, got \"0\"\n";

TEST(PlanInput, ZeroCapacityFailsPlanValidateWithOneLine) {
  Sandbox sandbox;
  sandbox.write("zero.yaml", kZeroDnsCapacity);
  Ran ran = sandbox.run({"plan", "validate", "zero.yaml"});
  EXPECT_EQ(ran.exit_code, 2) << ran.out << ran.err;
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_EQ(ran.err, kZeroMessage);
}

TEST(PlanInput, ZeroCapacityFailsRunDryRunWithOneLineAndWritesNothing) {
  Sandbox sandbox;
  sandbox.write("zero.yaml", kZeroDnsCapacity);
  Ran ran = sandbox.run({"run", "--plan", "zero.yaml", "--dry-run", "--results", "out"});
  EXPECT_EQ(ran.exit_code, 2) << ran.out << ran.err;
  EXPECT_EQ(ran.err, kZeroMessage);
  EXPECT_EQ(ran.out, "");
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "out"));
}

TEST(PlanInput, ZeroBandwidthCapacityIsRefusedToo) {
  Sandbox sandbox;
  sandbox.write("zero.yaml",
                "name: zero\n"
                "type: load\n"
                "capacity:\n"
                "  pod_network: 0Gbps\n");
  Ran ran = sandbox.run({"run", "--plan", "zero.yaml", "--results", "out"});
  EXPECT_EQ(ran.exit_code, 2) << ran.out << ran.err;
  EXPECT_EQ(ran.err, "kubeproof: zero.yaml:4: capacity.pod_network: must be > 0, got \"0Gbps\"\n");
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "out"));
}

// A stress plan whose dns phase sets `settings.stress` (load/schedule.hpp: read_stress_settings).
std::string dns_stress_plan(std::string_view stress) {
  return "name: bad\n"
         "type: stress\n"
         "capacity:\n"
         "  dns_qps: 10k\n"
         "phases:\n"
         "  - phase: dns\n"
         "    settings:\n"
         "      stress:\n" +
         std::string(stress);
}

Ran dry_run(std::string_view plan) {
  Sandbox sandbox;
  sandbox.write("bad.yaml", plan);
  Ran ran = sandbox.run({"run", "--plan", "bad.yaml", "--dry-run", "--results", "out"});
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "out"));
  return ran;
}

// DISABLED until the dns driver reads `settings.stress` through load::read_stress_settings in validate()
// (issue 13, being wired on another branch); today the driver rejects the key as unknown. Enable these then:
// they pin the one-line messages of the kernel's reader at the CLI.
TEST(PlanInput, DISABLED_StressStepsOutOfOrder) {
  Ran ran = dry_run(dns_stress_plan("        steps: [100%, 150%, 125%]\n"));
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_EQ(
      ran.err,
      "kubeproof: bad.yaml:9: phases[0].settings.stress.steps[2]: must be above the step before it (150%), "
      "got \"125%\"\n");
}

TEST(PlanInput, DISABLED_StressRampAbove500Percent) {
  Ran ran = dry_run(dns_stress_plan("        steps: [100%, 600%]\n"));
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(
      ran.err,
      "kubeproof: bad.yaml:9: phases[0].settings.stress.steps[1]: must be within 0%..500% of capacity, got "
      "\"600%\"\n");
}

TEST(PlanInput, DISABLED_StressBisectBelowZero) {
  Ran ran = dry_run(dns_stress_plan("        bisect: -1\n"));
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(ran.err, "kubeproof: bad.yaml:9: phases[0].settings.stress.bisect: must be >= 0, got \"-1\"\n");
}

}  // namespace
}  // namespace kp::cli
