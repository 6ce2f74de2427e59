// Issue 18: a kubeconfig that cannot be loaded is an input error. `run --target cluster`, its dry run,
// `preflight` and `cleanup` stop before anything runs with one line naming the file and the problem (exit 2)
// and no results folder; a valid kubeconfig whose cluster cannot be reached is still the run's result (exit
// 4), not the user's input.

#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace kp::cli {
namespace {

using testing::count_lines;
using testing::Ran;
using testing::Sandbox;

// Nothing listens on port 1: a run that got as far as a request would fail there, not on its input.
constexpr std::string_view kValid = R"(apiVersion: v1
kind: Config
current-context: c
clusters: [{name: k, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: k, user: u}}]
)";

void expect_input_error(const Sandbox& sandbox, const Ran& ran, std::string_view file,
                        std::string_view problem) {
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_EQ(count_lines(ran.err), 1U) << ran.err;
  EXPECT_TRUE(ran.err.starts_with("kubeproof: ")) << ran.err;
  EXPECT_NE(ran.err.find(file), std::string::npos) << "names the file " << file << ": " << ran.err;
  EXPECT_NE(ran.err.find(problem), std::string::npos) << ran.err;
  EXPECT_EQ(ran.out, "");
  EXPECT_FALSE(std::filesystem::exists(sandbox.work() / "results")) << "nothing may run: " << ran.err;
}

struct BadKubeconfig {
  std::string name;
  std::string text;                // written to <name>; empty with `path` set: use that path
  std::string path;                // e.g. /dev/null
  std::vector<std::string> extra;  // more flags (--context nope)
  std::string problem;             // a part of the message
};

std::vector<BadKubeconfig> bad_kubeconfigs() {
  std::string garbage;
  for (int i = 0; i < 512; ++i) {
    garbage.push_back(static_cast<char>((i * 151 + 7) % 256));  // NULs, control bytes, invalid UTF-8
  }
  std::string no_user(kValid);
  no_user.replace(no_user.find("users: [{name: u"), std::string_view("users: [{name: u").size(),
                  "users: [{name: other");
  std::string ftp_proxy(kValid);  // client-go takes http, https and socks5 only
  ftp_proxy.replace(ftp_proxy.find("server: \"https://127.0.0.1:1\""),
                    std::string_view("server: \"https://127.0.0.1:1\"").size(),
                    "server: \"https://127.0.0.1:1\", proxy-url: \"ftp://u:secret@proxy:21\"");
  std::string no_context(kValid);
  no_context.replace(no_context.find("current-context: c"), std::string_view("current-context: c").size(),
                     "current-context: nope");
  return {
      BadKubeconfig{.name = "empty", .text = "", .path = "/dev/null", .extra = {}, .problem = "context"},
      BadKubeconfig{.name = "garbage", .text = garbage, .path = "", .extra = {}, .problem = ""},
      BadKubeconfig{
          .name = "no-context", .text = no_context, .path = "", .extra = {}, .problem = "\"nope\" not found"},
      BadKubeconfig{.name = "flag-context",
                    .text = std::string(kValid),
                    .path = "",
                    .extra = {"--context", "nope"},
                    .problem = "\"nope\" not found"},
      BadKubeconfig{.name = "no-user", .text = no_user, .path = "", .extra = {}, .problem = "user \"u\""},
      BadKubeconfig{.name = "ftp-proxy",
                    .text = ftp_proxy,
                    .path = "",
                    .extra = {},
                    .problem =
                        "clusters[0].cluster.proxy-url: unsupported scheme \"ftp\", must be http, https or "
                        "socks5"},
  };
}

std::string prepare(const Sandbox& sandbox, const BadKubeconfig& bad) {
  return bad.path.empty() ? sandbox.write(bad.name, bad.text).string() : bad.path;
}

TEST(KubeconfigInput, RunOnAClusterStopsBeforeAnythingRuns) {
  for (const BadKubeconfig& bad : bad_kubeconfigs()) {
    SCOPED_TRACE(bad.name);
    Sandbox sandbox;
    const std::string file = prepare(sandbox, bad);
    for (bool dry : {true, false}) {
      std::vector<std::string> args = {"run", "--target", "cluster", "--type", "smoke", "--kubeconfig", file};
      args.insert(args.end(), bad.extra.begin(), bad.extra.end());
      if (dry) {
        args.push_back("--dry-run");
      }
      SCOPED_TRACE(dry ? "--dry-run" : "run");
      expect_input_error(sandbox, sandbox.run(args), file, bad.problem);
    }
  }
}

TEST(KubeconfigInput, PreflightAndCleanupStopAlike) {
  for (const BadKubeconfig& bad : bad_kubeconfigs()) {
    SCOPED_TRACE(bad.name);
    Sandbox sandbox;
    const std::string file = prepare(sandbox, bad);
    for (std::vector<std::string> args :
         {std::vector<std::string>{"preflight", "--kubeconfig", file},
          std::vector<std::string>{"cleanup", "--run", "kp-1a2b3c4d", "--kubeconfig", file}}) {
      args.insert(args.end(), bad.extra.begin(), bad.extra.end());
      SCOPED_TRACE(args.front());
      expect_input_error(sandbox, sandbox.run(args), file, bad.problem);
    }
  }
}

// The same checks let a good kubeconfig through: an unreachable cluster is the run's result (exit 4, with a
// report), never an input error.
TEST(KubeconfigInput, AValidKubeconfigOfAnUnreachableClusterIsTheRunsResult) {
  Sandbox sandbox;
  const std::filesystem::path file = sandbox.write("kubeconfig", kValid);
  Ran ran = sandbox.run({"run", "--target", "cluster", "--type", "smoke", "--only", "api", "--kubeconfig",
                         file.string(), "--format", "json"});
  EXPECT_EQ(ran.exit_code, 4) << ran.err;
  EXPECT_NE(ran.err.find("127.0.0.1:1"), std::string::npos) << ran.err;
}

}  // namespace
}  // namespace kp::cli
