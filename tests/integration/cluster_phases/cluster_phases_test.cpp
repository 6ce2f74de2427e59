// `kubeproof run --target cluster --only network,storage` against the API server fixture's process kubelet:
// the agents run as pods that are real processes (each in its own network namespace on the fixture's
// bridge, Services DNATed by nftables, claims bound to directories), so every row is measured with real
// traffic and real fio. Then the failures a real cluster gives: a claim that never binds, and Ctrl-C in the
// middle of the network phase. After each run no namespace of the run is left.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include <gtest/gtest.h>

#include "../../unit/cli/cli_runner.hpp"
#include "fake_apiserver.hpp"
#include "kube/api.hpp"

namespace kp {
namespace {

using cli::testing::Ran;
using cli::testing::Sandbox;
using nlohmann::json;

std::string skip_reason() {
  if (::geteuid() != 0) {
    return "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  for (const char* tool : {"/usr/bin/fio", "/usr/sbin/nft", "/usr/sbin/ip", "/usr/bin/python3"}) {
    if (::access(tool, X_OK) != 0 &&
        ::access((std::string("/bin/") + std::filesystem::path(tool).filename().string()).c_str(), X_OK) !=
            0) {
      return fmt::format("needs {}", tool);
    }
  }
  return "";
}

json kubelet_config(json extra = json::object()) {
  json config = {
      {"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent", "kubeproof-agent-storage"}}}}};
  config.update(extra);
  return config;
}

// The run's namespaces (label kubeproof.io/run), from the fixture's API.
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
  for (const json& item : listed->items) {
    names.push_back(item["metadata"].value("name", ""));
  }
  return names;
}

// A plan with short windows: each network test 1 s, each fio job 1 s on a 16 MiB file.
std::string plan_text(const std::string& network_settings, const std::string& storage_settings) {
  return fmt::format(R"(name: cluster-phases
type: smoke
target: cluster
criteria: {{storage_tier: ssd, cluster_size: small, pod_images: cached}}
capacity: {{pod_network: 1Gbps}}
phases:
  - phase: network
    duration: 1m
    load: 10%
    settings: {{warmup: 200ms, {}}}
  - phase: storage
    duration: 1m
    load: 10%
    settings: {{size: 16MiB, runtime: 1s, ramp_time: 0s, etcd_size: 1MiB{}}}
)",
                     network_settings, storage_settings);
}

std::vector<std::string> base_args(const testing::FakeApiserver& server, const std::filesystem::path& plan) {
  // args[6] is --only's value.
  return {"run",    "--plan",          plan.string(), "--kubeconfig", server.kubeconfig(),
          "--only", "network,storage", "--format",    "json"};
}

std::map<std::string, json> measurements_of(const json& report, const std::string& phase) {
  std::map<std::string, json> out;
  for (const json& p : report.value("phases", json::array())) {
    if (p.value("phase", "") != phase) {
      continue;
    }
    // Judged rows carry "measured" (null when not measured), informational ones "value".
    for (const char* key : {"informational", "rows"}) {
      for (const json& m : p.value(key, json::array())) {
        const std::string metric = m.value("metric", "");
        const json value = m.contains("measured") ? m["measured"] : m.value("value", json());
        if (!metric.empty() && value.is_number()) {
          out[metric] =
              json{{"value", value}, {"note", m.value("note", json()).is_string() ? m["note"] : json("")}};
        }
      }
    }
  }
  return out;
}

TEST(ClusterPhases, EveryNetworkAndStorageRowIsMeasuredByAgentPods) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server("cluster-phases", kubelet_config());
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  const std::filesystem::path plan =
      sandbox.write("plan.yaml", plan_text("duration: 1s", ", emptydir_baseline: true"));
  Ran ran = sandbox.run(base_args(server, plan));
  const json report = json::parse(ran.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << ran.out << ran.err;
  const std::map<std::string, json> net = measurements_of(report, "network");
  for (const char* metric :
       {"net.pod_to_pod.throughput", "net.pod_to_pod.latency.p99", "net.pod_to_service.latency.p99",
        "net.cross_node.throughput", "net.cross_node.latency.p99", "net.cross_node.service_latency.p99",
        "net.cross_node.udp_rr.p99", "net.cross_node.tcp_crr.p99", "net.same_node.throughput",
        "net.same_node.latency.p99", "net.same_node.service_latency.p99", "net.same_node.udp_rr.p99",
        "net.same_node.tcp_crr.p99"}) {
    ASSERT_TRUE(net.contains(metric)) << metric << " missing; stderr:\n" << ran.err;
  }
  // Real traffic: bits moved, round trips took time.
  EXPECT_GT(net.at("net.cross_node.throughput").value("value", 0.0), 1e6)
      << net.at("net.cross_node.throughput");
  EXPECT_GT(net.at("net.same_node.latency.p99").value("value", 0.0), 0.0);
  // The rows name their placement and both ends' nodes (the fixture's two nodes).
  const std::string note = net.at("net.cross_node.throughput").value("note", "");
  EXPECT_NE(note.find("cross-node: server pod on fixture-node-"), std::string::npos) << note;
  EXPECT_NE(note.find("client pod on fixture-node-"), std::string::npos) << note;

  const std::map<std::string, json> storage = measurements_of(report, "storage");
  for (const char* metric : {"storage.randread_4k.iops", "storage.randwrite_4k.iops", "storage.rand_4k.p99",
                             "storage.seqwrite.bandwidth", "storage.seqread.bandwidth"}) {
    ASSERT_TRUE(storage.contains(metric)) << metric << " missing; stderr:\n" << ran.err;
    EXPECT_GT(storage.at(metric).value("value", 0.0), 0.0) << metric;
  }
  const std::string storage_note = storage.at("storage.randread_4k.iops").value("note", "");
  EXPECT_NE(storage_note.find("PersistentVolumeClaim of the default StorageClass"), std::string::npos)
      << storage_note;
  EXPECT_NE(storage_note.find("/baseline"), std::string::npos) << "the emptyDir comparison: " << storage_note;
  // fio's per-second series came back in the agent's line: report.json charts storage on a cluster too, the
  // volume's jobs and the emptyDir baseline's.
  std::map<std::string, double> storage_ios;  // series -> I/Os over its seconds
  for (const json& p : report.value("phases", json::array())) {
    if (p.value("phase", "") != "storage") {
      continue;
    }
    for (const json& series : p["timeseries"].value("series", json::array())) {
      for (const json& point : series.value("points", json::array())) {
        storage_ios[series.value("series", "")] += point.value("achieved", 0.0);
      }
    }
  }
  ASSERT_TRUE(storage_ios.contains("randread-4k")) << "storage series: " << storage_ios.size();
  EXPECT_GT(storage_ios.at("randread-4k"), 0.0);
  EXPECT_TRUE(storage_ios.contains("randread-4k on compare_to")) << "no baseline series";
  EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
}

// A WaitForFirstConsumer claim whose pod can never be scheduled never binds: the phase fails within its
// bind_timeout naming the claim, and the namespace goes.
TEST(ClusterPhases, AClaimThatNeverBindsFailsInBoundedTimeAndLeavesNothing) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server(
      "cluster-unbound",
      kubelet_config(
          {{"storage_classes",
            {{{"name", "late"}, {"default", true}, {"volumeBindingMode", "WaitForFirstConsumer"}}}}}));
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  const std::filesystem::path plan = sandbox.write(
      "plan.yaml",
      plan_text("duration: 1s", ", bind_timeout: 3s, pods: {node_selector: {kubeproof.io/none: \"true\"}}"));
  std::vector<std::string> args = base_args(server, plan);
  args[6] = "storage";  // --only storage
  const TimePoint start = real_clock().now();
  Ran ran = sandbox.run(args);
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(90));
  EXPECT_EQ(ran.exit_code, 4) << ran.err;
  EXPECT_NE(ran.err.find("storage-volume-0"), std::string::npos) << ran.err;
  EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
}

// With one schedulable node the cross-node rows are SKIPPED (not measured, with that reason) and same-node
// runs and gives the judged rows.
TEST(ClusterPhases, OneNodeSkipsCrossNodeAndMeasuresSameNode) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server(
      "cluster-one-node",
      kubelet_config(
          {{"nodes", {{{"name", "only-node"}, {"labels", {{"kubernetes.io/hostname", "only-node"}}}}}}}));
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  const std::filesystem::path plan = sandbox.write("plan.yaml", plan_text("duration: 1s", ""));
  std::vector<std::string> args = base_args(server, plan);
  args[6] = "network";
  Ran ran = sandbox.run(args);
  const json report = json::parse(ran.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << ran.out << ran.err;
  const std::map<std::string, json> net = measurements_of(report, "network");
  EXPECT_TRUE(net.contains("net.same_node.throughput")) << ran.err;
  EXPECT_TRUE(net.contains("net.pod_to_pod.throughput")) << ran.err;
  EXPECT_FALSE(net.contains("net.cross_node.throughput"));
  EXPECT_NE(net.at("net.pod_to_pod.throughput").value("note", "").find("judged row is from the same_node"),
            std::string::npos);
  bool skipped = false;
  for (const json& phase : report["phases"]) {
    for (const json& note : phase.value("notes", json::array())) {
      skipped = skipped || note.get<std::string>() ==
                               "cross-node: SKIPPED, not measured: only one schedulable node (only-node): "
                               "cross-node needs two";
    }
  }
  EXPECT_TRUE(skipped) << report.dump();
  EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
}

// A StorageClass the cluster does not have: one line naming the plan's field and the class, exit 2, before
// anything is created.
TEST(ClusterPhases, UnknownStorageClassIsTheInputsFault) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server("cluster-no-class", kubelet_config());
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  const std::filesystem::path plan =
      sandbox.write("plan.yaml", plan_text("duration: 1s", ", storage_class: nope"));
  std::vector<std::string> args = base_args(server, plan);
  args[6] = "storage";
  Ran ran = sandbox.run(args);
  EXPECT_EQ(ran.exit_code, 2) << ran.err;
  EXPECT_NE(ran.err.find("phases[1].settings.storage_class: no such StorageClass on context"),
            std::string::npos)
      << ran.err;
  EXPECT_NE(ran.err.find("got \"nope\""), std::string::npos) << ran.err;
  EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
}

// Ctrl-C while the network agents run: kubeproof stops, deletes the run's namespace, exits 4.
TEST(ClusterPhases, CtrlCMidPhaseLeavesNoNamespace) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server("cluster-sigint", kubelet_config());
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  const std::filesystem::path plan = sandbox.write("plan.yaml", plan_text("duration: 1s", ""));
  std::vector<std::string> args = base_args(server, plan);
  args[6] = "network";
  // Long tests, so the signal lands while a client pod runs.
  const std::filesystem::path long_plan = sandbox.write("long.yaml", plan_text("duration: 20s", ""));
  args[2] = long_plan.string();
  args.insert(args.begin(), KP_BINARY);
  const std::filesystem::path err_file = sandbox.work() / "stderr";
  const pid_t child = ::fork();
  if (child == 0) {
    const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int out = ::open("/dev/null", O_WRONLY);
    ::dup2(err, 2);
    ::dup2(out, 1);
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ASSERT_GT(child, 0);
  // Wait (bounded) until a client pod's test is under way: its progress line is on stderr.
  const TimePoint deadline = real_clock().now() + std::chrono::seconds(60);
  bool running = false;
  int status = 0;
  bool exited = false;
  while (!running && !exited && real_clock().now() < deadline) {
    exited = ::waitpid(child, &status, WNOHANG) == child;
    running = cli::testing::read_file(err_file).find("from pod (") != std::string::npos;
    if (!running) {
      pollfd none{-1, 0, 0};
      ::poll(&none, 0, 100);  // the file has no change notification; re-read it
    }
  }
  if (!running && !exited) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  ASSERT_TRUE(running) << cli::testing::read_file(err_file);
  ::kill(child, SIGINT);
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  const std::string err = cli::testing::read_file(err_file);
  EXPECT_EQ(WEXITSTATUS(status), 4) << err;
  EXPECT_EQ(run_namespaces(server), std::vector<std::string>{}) << err;
}

}  // namespace
}  // namespace kp
