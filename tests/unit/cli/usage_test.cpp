// The command line itself: help everywhere, version, and every usage error as exit 2 with one line naming the
// flag and the value.

#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using testing::count_lines;
using testing::Ran;
using testing::Sandbox;

TEST(Usage, VersionCommandAndFlag) {
  Sandbox sandbox;
  Ran command = sandbox.run({"version"});
  EXPECT_EQ(command.exit_code, 0);
  EXPECT_EQ(command.out, std::string("kubeproof ") + KP_VERSION + "\n");
  Ran flag = sandbox.run({"--version"});
  EXPECT_EQ(flag.exit_code, 0);
  EXPECT_NE(flag.out.find(KP_VERSION), std::string::npos);
}

class HelpOnEveryCommand : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(HelpOnEveryCommand, PrintsUsageAndExitsZero) {
  Sandbox sandbox;
  std::vector<std::string> args = GetParam();
  args.emplace_back("--help");
  Ran ran = sandbox.run(args);
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  EXPECT_NE(ran.out.find("Usage:"), std::string::npos) << ran.out;
  EXPECT_EQ(ran.err, "");
}

INSTANTIATE_TEST_SUITE_P(Commands, HelpOnEveryCommand,
                         ::testing::Values(std::vector<std::string>{}, std::vector<std::string>{"version"},
                                           std::vector<std::string>{"criteria"},
                                           std::vector<std::string>{"plan"},
                                           std::vector<std::string>{"plan", "validate"},
                                           std::vector<std::string>{"evaluate"},
                                           std::vector<std::string>{"run"}));

TEST(Usage, TopLevelHelpListsCommandsAndExitCodes) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"--help"});
  for (std::string_view text :
       {"version", "criteria", "plan", "evaluate", "run", "Exit codes: 0 PASS, 1 FAIL"}) {
    EXPECT_NE(ran.out.find(text), std::string::npos) << text << "\n" << ran.out;
  }
}

struct UsageCase {
  const char* name;
  std::vector<std::string> args;
  const char* expected;  // a part of the one-line message
};

std::ostream& operator<<(std::ostream& out, const UsageCase& param) {
  return out << param.name;
}

class UsageError : public ::testing::TestWithParam<UsageCase> {};

TEST_P(UsageError, ExitTwoWithOneLine) {
  Sandbox sandbox;
  Ran ran = sandbox.run(GetParam().args);
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_TRUE(ran.err.starts_with("kubeproof: ")) << ran.err;
  EXPECT_NE(ran.err.find(GetParam().expected), std::string::npos) << ran.err;
  EXPECT_EQ(ran.out, "");
}

INSTANTIATE_TEST_SUITE_P(
    Cases, UsageError,
    ::testing::Values(
        UsageCase{"no_command", {}, "a command is required"},
        UsageCase{"unknown_command", {"frobnicate"}, "frobnicate"},
        UsageCase{"unknown_flag", {"criteria", "--frobnicate"}, "--frobnicate"},
        UsageCase{"unknown_top_level_flag", {"--frobnicate"}, "--frobnicate"},
        UsageCase{"bad_cluster_size",
                  {"criteria", "--cluster-size", "huge"},
                  "--cluster-size: must be small or large, got \"huge\""},
        UsageCase{"bad_pod_images",
                  {"criteria", "--pod-images", "maybe"},
                  "--pod-images: must be cached or pulled, got \"maybe\""},
        UsageCase{"bad_format",
                  {"evaluate", "--measurements", "m.json", "--format", "xml"},
                  "--format: must be table or json, got \"xml\""},
        UsageCase{
            "bad_type", {"run", "--type", "soak"}, "--type: must be smoke, load or stress, got \"soak\""},
        UsageCase{
            "bad_target", {"run", "--target", "moon"}, "--target: must be local or cluster, got \"moon\""},
        UsageCase{"bad_only",
                  {"run", "--only", "etcd,frontend"},
                  "--only: must be etcd, api, network, dns, storage or ingress, got \"frontend\""},
        UsageCase{"bad_scale_high",
                  {"run", "--duration-scale", "2"},
                  "--duration-scale: must be a number > 0 and <= 1, got \"2\""},
        UsageCase{"bad_scale_text", {"run", "--duration-scale", "fast"}, "got \"fast\""},
        UsageCase{"plan_and_type", {"run", "--plan", "p.yaml", "--type", "load"}, "--plan excludes --type"},
        UsageCase{"plan_without_subcommand", {"plan"}, "plan: a subcommand is required"},
        UsageCase{"plan_unknown_subcommand", {"plan", "check", "x.yaml"}, "check"},
        UsageCase{"plan_validate_without_file", {"plan", "validate"}, "FILE is required"},
        UsageCase{"empty_results",
                  {"evaluate", "--measurements", "m.json", "--results", ""},
                  "--results: must name a folder, got \"\""},
        UsageCase{"missing_option_value", {"evaluate", "--measurements"}, "--measurements"},
        UsageCase{"even_etcd_members",
                  {"lab", "up", "--etcd-members", "4"},
                  "--etcd-members: must be 1, 3 or 5, got \"4\""},
        UsageCase{"etcd_members_text",
                  {"lab", "up", "--etcd-members", "three"},
                  "--etcd-members: must be 1, 3 or 5, got \"three\""},
        UsageCase{"etcd_members_without_etcd",
                  {"lab", "up", "--service", "unbound", "--etcd-members", "3"},
                  "lab: --etcd-members 3 needs the etcd service; add --service etcd"}),
    [](const ::testing::TestParamInfo<UsageCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kp::cli
