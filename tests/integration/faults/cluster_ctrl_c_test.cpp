// Ctrl-C at random points of the pod phases on --target cluster, against the API server fixture's process
// kubelet (agents are real processes in network namespaces of their own). Seeded as ctrl_c_test.cpp
// (KP_FAULT_SEED replays one, KP_FAULT_SEEDS runs more). Expected: exit 4, a whole report set, no namespace
// of the run left on the API server, no agent process left.

#include <unistd.h>

#include <random>
#include <thread>

#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fake_apiserver.hpp"
#include "kube/api.hpp"
#include "phase_runs.hpp"

namespace kp::faults {
namespace {

std::string skip_reason() {
  if (::geteuid() != 0) {
    return "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  for (const char* tool : {"fio", "nft", "ip", "python3"}) {
    bool found = false;
    for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"}) {
      found = found || ::access((std::string(dir) + tool).c_str(), X_OK) == 0;
    }
    if (!found) {
      return fmt::format("needs {}", tool);
    }
  }
  return "";
}

// The run's namespaces (label kubeproof.io/run) on the fixture.
std::vector<std::string> run_namespaces(testing::FakeApiserver& server) {
  Result<kube::RestConfig> config = server.rest_config();
  if (!config) {
    return {"<" + config.error().message + ">"};
  }
  Result<std::unique_ptr<kube::Transport>> transport =
      kube::Transport::create(*config, kube::ClientOptions{}, real_clock());
  if (!transport) {
    return {"<" + transport.error().message + ">"};
  }
  kube::Api api(**transport);
  kube::ListOptions options;
  options.label_selector = "kubeproof.io/run";
  kube::ApiResult<kube::ListResult> listed = api.list(kube::namespaces_resource(), "", options);
  if (!listed) {
    return {"<list failed>"};
  }
  std::vector<std::string> names;
  for (const nlohmann::json& item : listed->items) {
    names.push_back(item["metadata"].value("name", ""));
  }
  return names;
}

constexpr const char* kPlan = R"(name: faults-cluster
type: smoke
target: cluster
criteria: {{storage_tier: ssd, cluster_size: small, pod_images: cached}}
capacity: {{pod_network: 1Gbps}}
phases:
  - phase: {}
    duration: 1m
    load: 10%
    settings: {}
)";

void interrupt_cluster_phase(std::string_view phase, std::string_view settings) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server(
      fmt::format("kpflt-{}", phase),
      {{"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent", "kubeproof-agent-storage"}}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  const char* given = std::getenv("KP_FAULT_SEED");
  const std::uint32_t first = given != nullptr && *given != '\0'
                                  ? static_cast<std::uint32_t>(std::strtoul(given, nullptr, 10))
                                  : std::random_device{}();
  const char* count = std::getenv("KP_FAULT_SEEDS");
  const int seeds = count != nullptr && std::atoi(count) > 0 ? std::atoi(count) : 2;
  for (int i = 0; i < seeds; ++i) {
    const std::uint32_t seed = first + static_cast<std::uint32_t>(i);
    std::mt19937 random(seed);
    // From the phase's start (the namespace being made, pods starting) to well into its agents' run.
    const Duration delay = std::chrono::milliseconds(random() % 5000);
    std::printf("[ seed     ] cluster %.*s: %u\n", static_cast<int>(phase.size()), phase.data(), seed);
    SCOPED_TRACE(
        fmt::format("cluster {}: seed {} (KP_FAULT_SEED={} replays it): SIGINT {} ms after the start", phase,
                    seed, seed, std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()));
    TempDir work("kpflt-cluster");
    {
      std::ofstream plan(work.path() / "plan.yaml");
      plan << fmt::format(fmt::runtime(kPlan), phase, settings);
    }
    Running run(work.path(), {"run", "--plan", (work.path() / "plan.yaml").string(), "--kubeconfig",
                              server.kubeconfig(), "--only", std::string(phase), "--results",
                              (work.path() / "results").string(), "--format", "json"});
    ASSERT_TRUE(run.wait_for_stderr(fmt::format("[{}] starting", phase), std::chrono::seconds(60)))
        << run.err();
    const TimePoint start = real_clock().now();
    std::this_thread::sleep_for(delay);  // the random moment of the Ctrl-C, not a synchronisation
    run.send(SIGINT);
    const std::optional<int> code = run.wait(std::chrono::seconds(60));
    const std::string err = run.err();
    ASSERT_TRUE(code.has_value()) << "did not end within 60 s of the Ctrl-C; stderr:\n" << err;
    EXPECT_LT(real_clock().now() - start, delay + std::chrono::seconds(60));
    // Interrupted while the agents ran, or the phase had already failed on its own short windows: either
    // way the run did not pass and said so.
    EXPECT_EQ(*code, 4) << err;
    const ReportCheck files = check_report(work.path() / "results");
    EXPECT_TRUE(files.complete) << files.problem << "\n" << err;
    EXPECT_EQ(files.exit_code, *code);
    EXPECT_EQ(junk_in(work.path() / "results"), std::vector<std::string>{});
    EXPECT_EQ(run_namespaces(server), std::vector<std::string>{}) << err;
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
}

TEST(ClusterCtrlC, Network) {
  interrupt_cluster_phase("network", "{warmup: 200ms, duration: 1s}");
}

TEST(ClusterCtrlC, Storage) {
  interrupt_cluster_phase("storage", "{size: 16MiB, runtime: 1s, ramp_time: 0s, etcd_size: 1MiB}");
}

}  // namespace
}  // namespace kp::faults
