// Every agent prints exactly one JSON result line on stdout, also when it fails before it measured: a flag
// CLI11 refuses, a value the agent's own checks refuse, a setup that fails. The pod runner reads that line
// from the pod's log by its kind. Exit codes stay 2 (usage) and 4 (anything else).

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "cli_runner.hpp"

namespace kp::cli::testing {
namespace {

struct Case {
  std::vector<std::string> args;
  std::string kind;
  int exit_code;
  std::string error_part;  // a part of "error" (and of the stderr line)
  std::string error_kind;
};

void expect_one_failure_line(const Case& c) {
  Sandbox sandbox;
  std::vector<std::string> args{"agent"};
  args.insert(args.end(), c.args.begin(), c.args.end());
  Ran ran = sandbox.run(args);
  SCOPED_TRACE(args[1] + " " + (args.size() > 2 ? args[2] : std::string()));
  EXPECT_EQ(ran.exit_code, c.exit_code) << ran.err;
  ASSERT_EQ(count_lines(ran.out), 1u) << ran.out;
  nlohmann::json line = nlohmann::json::parse(ran.out, nullptr, false);
  ASSERT_TRUE(line.is_object()) << ran.out;
  EXPECT_EQ(line.value("kind", ""), c.kind);
  EXPECT_EQ(line.value("version", 0), 1);
  EXPECT_NE(line.value("error", "").find(c.error_part), std::string::npos) << ran.out;
  EXPECT_EQ(line.value("error_kind", ""), c.error_kind);
  ASSERT_TRUE(line.contains("cpu_budget")) << ran.out;
  EXPECT_GE(line["cpu_budget"].value("usable_cpus", 0), 1);
  // The human line on stderr is unchanged: "kubeproof: <the same message>".
  EXPECT_NE(ran.err.find("kubeproof: "), std::string::npos) << ran.err;
  EXPECT_NE(ran.err.find(c.error_part), std::string::npos) << ran.err;
}

TEST(AgentLines, EveryAgentsBadFlagIsOneJsonLineAndExit2) {
  const std::vector<Case> cases{
      {{"net-server", "--bogus"}, "kubeproof.agent.net-server", 2, "--bogus", "usage"},
      {{"net-server", "--hold", "20s"}, "kubeproof.agent.net-server", 2, "20s", "usage"},
      {{"net-client"}, "kubeproof.agent.net-client", 2, "--server is required", "usage"},
      {{"net-client", "--server", "127.0.0.1:1", "--scenario", "TCP_FOO"},
       "kubeproof.agent.net-client",
       2,
       "TCP_FOO",
       "usage"},
      {{"dns", "--threads", "999"}, "kubeproof.agent.dns", 2, "--threads", "usage"},
      {{"etcd", "--conns", "0"}, "kubeproof.agent.etcd", 2, "--conns", "usage"},
      {{"http", "ftp://example.invalid/"}, "kubeproof.agent.http", 2, "URL", "usage"},
      {{"http", "http://127.0.0.1:1/", "--threads", "5000"}, "kubeproof.agent.http", 2, "--threads", "usage"},
      {{"storage"}, "kubeproof.agent.storage", 2, "--dir: required", "usage"},
      {{"storage", "--dir", "/no/such/dir"}, "kubeproof.agent.storage", 2, "/no/such/dir", "usage"},
  };
  for (const Case& c : cases) {
    expect_one_failure_line(c);
  }
}

TEST(AgentLines, SetupFailuresAreOneJsonLineAndExit4) {
  Sandbox sandbox;
  const std::vector<Case> cases{
      // Nothing listens on port 1: the client cannot reach its server.
      {{"net-client", "--server", "127.0.0.1:1", "--duration", "1s", "--connect-timeout", "2s"},
       "kubeproof.agent.net-client",
       4,
       "127.0.0.1:1",
       "network"},
      // No fio where it is said to be: nothing is created, the line says why.
      {{"storage", "--dir", sandbox.work().string(), "--fio", "/no/such/fio"},
       "kubeproof.agent.storage",
       4,
       "/no/such/fio",
       "unavailable"},
  };
  for (const Case& c : cases) {
    expect_one_failure_line(c);
  }
}

TEST(AgentLines, HelpPrintsNoResultLine) {
  Sandbox sandbox;
  Ran ran = sandbox.run({"agent", "dns", "--help"});
  EXPECT_EQ(ran.exit_code, 0);
  EXPECT_EQ(ran.out.find("\"kind\""), std::string::npos);
}

}  // namespace
}  // namespace kp::cli::testing

namespace kp::cli::testing {
namespace {

// A pod's read-only root file system: no writable $TMPDIR. The storage agent then keeps its work files under
// --dir, measures, and leaves nothing there.
TEST(AgentLines, StorageWorksWithoutAWritableTmpdir) {
  if (::access("/usr/bin/fio", X_OK) != 0) {
    GTEST_SKIP() << "fio is not installed";
  }
  Sandbox sandbox;
  const std::filesystem::path volume = sandbox.work() / "volume";
  std::filesystem::create_directories(volume);
  ::setenv("TMPDIR", "/nonexistent/tmp",
           1);  // this test's own process: gtest_discover_tests runs one per test
  Ran ran =
      sandbox.run({"agent", "storage", "--dir", volume.string(), "--workloads", "randread", "--size", "4MiB",
                   "--runtime", "1s", "--ramp-time", "0s", "--buffered", "--ioengine", "psync"});
  ::unsetenv("TMPDIR");
  ASSERT_EQ(count_lines(ran.out), 1u) << ran.out << ran.err;
  nlohmann::json line = nlohmann::json::parse(ran.out, nullptr, false);
  ASSERT_TRUE(line.is_object()) << ran.out;
  EXPECT_FALSE(line.contains("error")) << ran.out;
  EXPECT_EQ(line.value("kind", ""), "kubeproof.agent.storage");
  EXPECT_FALSE(line["jobs"].empty()) << ran.out;
  EXPECT_EQ(folder_entries(volume), std::vector<std::string>{}) << "work files left under --dir";
}

}  // namespace
}  // namespace kp::cli::testing
