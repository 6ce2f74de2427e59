// run's cluster flags (--kubeconfig, --lab-dir, --compare-to, --yes, --dry-run) and `cleanup`: every bad
// value is one line naming the flag, a load test on a cluster is refused without a terminal or --yes, and
// --dry-run describes each selected phase without starting any.

#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using testing::count_lines;
using testing::Ran;
using testing::Sandbox;

void expect_usage_error(const Ran& ran, std::string_view expected) {
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_TRUE(ran.err.starts_with("kubeproof: ")) << ran.err;
  EXPECT_NE(ran.err.find(expected), std::string::npos) << ran.err;
  EXPECT_EQ(ran.out, "");
}

TEST(ClusterFlags, MissingOrWrongKindOfPathNamesTheFlagAndValue) {
  Sandbox sandbox;
  std::filesystem::path file = sandbox.write("plain.txt", "x");
  expect_usage_error(sandbox.run({"run", "--compare-to", "/nonexistent/kp"}),
                     "--compare-to: must be an existing directory, got \"/nonexistent/kp\" (No such file");
  expect_usage_error(sandbox.run({"run", "--compare-to", file.string()}),
                     "--compare-to: must be an existing directory, got \"" + file.string() + "\" (a file)");
  expect_usage_error(sandbox.run({"run", "--lab-dir", "no-such-lab"}),
                     "--lab-dir: must be an existing directory, got \"no-such-lab\"");
  expect_usage_error(sandbox.run({"run", "--kubeconfig", "no-such-kubeconfig"}),
                     "--kubeconfig: must be an existing file, got \"no-such-kubeconfig\"");
  expect_usage_error(sandbox.run({"run", "--kubeconfig", sandbox.work().string()}), "(a directory)");
  expect_usage_error(sandbox.run({"cleanup", "--all", "--kubeconfig", "nope"}),
                     "--kubeconfig: must be an existing file, got \"nope\"");
}

TEST(ClusterFlags, CleanupNeedsExactlyOneOfRunOrAll) {
  Sandbox sandbox;
  expect_usage_error(sandbox.run({"cleanup"}), "cleanup: give --run ID (one run) or --all");
  expect_usage_error(sandbox.run({"cleanup", "--run", "kp-1", "--all"}),
                     "cleanup: give --run ID or --all, not both");
  // A run id ends up in a label selector: "a,b" would select something else entirely.
  expect_usage_error(sandbox.run({"cleanup", "--run", "kp-1,app"}), "--run: must be a run id");
  expect_usage_error(sandbox.run({"cleanup", "--run", "kp-1", "--timeout", "soon"}), "--timeout: ");
}

TEST(ClusterFlags, LoadOnAClusterWithoutTerminalNeedsYes) {
  Sandbox sandbox;
  // Nothing listens on port 1: the refusal comes before any request, so no cluster is needed to see it.
  std::filesystem::path kubeconfig = sandbox.write("kubeconfig", R"(apiVersion: v1
kind: Config
current-context: c
clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)");
  Ran ran = sandbox.run(
      {"run", "--type", "load", "--target", "cluster", "--only", "api", "--kubeconfig", kubeconfig.string()});
  expect_usage_error(
      ran, "run: a load test on the cluster needs confirmation and stdin is not a terminal: pass --yes");
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "results"));

  Ran dry = sandbox.run({"run", "--type", "load", "--target", "cluster", "--only", "api", "--kubeconfig",
                         kubeconfig.string(), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_NE(dry.out.find("context \"c\", server https://127.0.0.1:1"), std::string::npos) << dry.out;
}

TEST(ClusterFlags, DryRunDescribesEverySelectedPhaseAndStops) {
  Sandbox sandbox;
  std::filesystem::create_directories(sandbox.work() / "empty-lab");
  Ran ran = sandbox.run({"run", "--type", "smoke", "--dry-run", "--lab-dir", "empty-lab"});
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
  for (std::string_view phase : {"etcd ", "api ", "network ", "dns ", "storage ", "ingress "}) {
    EXPECT_NE(ran.out.find(std::string("\n") + std::string(phase)), std::string::npos) << phase << "\n"
                                                                                       << ran.out;
  }
  EXPECT_NE(ran.out.find("smoke test on the local lab"), std::string::npos) << ran.out;
  // No kube-apiserver in an empty lab: the api phase would be skipped, and the dry run says why.
  EXPECT_NE(ran.out.find("api      would be SKIPPED: no kube-apiserver in the local lab"), std::string::npos)
      << ran.out;
  EXPECT_NE(ran.out.find("dry run: nothing was started"), std::string::npos) << ran.out;
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "results"));
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "empty-lab" / "volume"))
      << "storage must not prepare";
}

// Issue 15: the agent image flags, checked before anything else; a bad value is one line naming the flag.
TEST(ClusterFlags, AgentImageAndPullPolicyNameTheFlagAndValue) {
  Sandbox sandbox;
  expect_usage_error(sandbox.run({"run", "--agent-image", ""}),
                     "--agent-image: must name an image ([registry[:port]/]path[:tag][@digest]), got \"\"");
  expect_usage_error(
      sandbox.run({"run", "--agent-image", "Kubeproof Agent"}),
      "--agent-image: \"Kubeproof Agent\" is not a path component (lowercase letters, digits, '.', "
      "'_', '-') ([registry[:port]/]path[:tag][@digest]), got \"Kubeproof Agent\"");
  expect_usage_error(sandbox.run({"run", "--agent-image", "kubeproof-agent:"}),
                     "--agent-image: not a tag after ':' ([registry[:port]/]path[:tag][@digest]), got "
                     "\"kubeproof-agent:\"");
  expect_usage_error(sandbox.run({"run", "--storage-agent-image", ""}),
                     "--storage-agent-image: must name an image");
  expect_usage_error(sandbox.run({"run", "--image-pull-policy", "sometimes"}),
                     "--image-pull-policy: must be one of: IfNotPresent, Always, Never, got \"sometimes\"");
  expect_usage_error(sandbox.run({"run", "--image-pull-policy", "never"}), "got \"never\"");
  // Good values pass (the dry run of the local lab reads them and starts nothing).
  std::filesystem::create_directories(sandbox.work() / "empty-lab");
  Ran ran =
      sandbox.run({"run", "--type", "smoke", "--dry-run", "--lab-dir", "empty-lab", "--agent-image",
                   "registry.local:5000/team/kubeproof-agent:0.1.0-1a2b3c4", "--image-pull-policy", "Never"});
  EXPECT_EQ(ran.exit_code, 0) << ran.err;
}

}  // namespace
}  // namespace kp::cli
