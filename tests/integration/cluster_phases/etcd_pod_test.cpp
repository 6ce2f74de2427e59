// The etcd phase `from: control-plane-pod` against the API server fixture's process kubelet and a real etcd
// (the lab's, started in a temp dir): the agent pod is placed on the control-plane node (its taint
// tolerated), runs in the host's network namespace (hostNetwork: etcd listens on the host's loopback, which
// no pod network namespace reaches) with the node's certificate directory mounted read-only (hostPath,
// mapped by the fixture to a local directory), measures, deletes its keys and reports through pods/log.
// Then the SKIPPED paths: no control-plane node, and etcd not answering on the node.

#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../../unit/cli/cli_runner.hpp"
#include "drivers/etcd/client.hpp"
#include "fake_apiserver.hpp"
#include "kube/api.hpp"
#include "lab/lab.hpp"
#include "lab/process.hpp"

namespace kp {
namespace {

namespace fs = std::filesystem;
using cli::testing::Ran;
using cli::testing::Sandbox;
using nlohmann::json;

std::string skip_reason() {
  if (::geteuid() != 0) {
    return "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  if (!lab::find_executable("etcd")) {
    return "needs etcd (etcd-server)";
  }
  return "";
}

// A lab etcd of its own (temp state dir, free ports), stopped at the end.
class LabEtcd {
 public:
  LabEtcd() : dir_(fs::temp_directory_path() / fmt::format("kp-etcdpod-it-{}", ::getpid())) {
    fs::remove_all(dir_);
    lab::LabOptions options;
    options.state_dir = dir_;
    Result<std::vector<lab::ServiceRecord>> started = lab::up(options, real_clock());
    if (started) {
      record_ = started->front();
    } else {
      error_ = started.error().message;
    }
  }
  ~LabEtcd() {
    (void)lab::down(dir_, real_clock());
    fs::remove_all(dir_);
  }
  bool ok() const { return record_.has_value(); }
  const std::string& error() const { return error_; }
  std::string client() const { return record_->endpoints.at("client"); }
  std::string metrics() const { return record_->endpoints.at("metrics"); }
  fs::path pki() const { return dir_ / "node-pki"; }

 private:
  fs::path dir_;
  std::optional<lab::ServiceRecord> record_;
  std::string error_;
};

json fixture_config(const json& nodes, const fs::path& pki) {
  return json{{"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent"}}}},
              {"nodes", nodes},
              {"node_paths", {{"/etc/kubernetes/pki/etcd", pki.string()}}}};
}

json control_plane_nodes() {
  return json::array({json{{"name", "cp-0"},
                           {"labels", {{"node-role.kubernetes.io/control-plane", ""}}},
                           {"taints", json::array({json{{"key", "node-role.kubernetes.io/control-plane"},
                                                        {"effect", "NoSchedule"}}})}},
                      json{{"name", "worker-0"}}});
}

std::string plan_text(const std::string& endpoint, const std::string& metrics) {
  return fmt::format(R"(name: etcd-pod
type: smoke
target: cluster
capacity: {{etcd_ops: 1k}}
phases:
  - phase: etcd
    duration: 1m
    load: 20%
    settings:
      from: control-plane-pod
      endpoints: [http://{}]
      metrics_url: {}
      key_prefix: kubeproof/etcdpod-it/
      key_space: 200
      pods: {{agent_start_timeout: 30s}}
)",
                     endpoint, metrics);
}

json etcd_phase(const Ran& ran) {
  const json report = json::parse(ran.out, nullptr, false);
  if (report.is_discarded()) {
    return json();
  }
  for (const json& phase : report.value("phases", json::array())) {
    if (phase.value("phase", "") == "etcd") {
      return phase;
    }
  }
  return json();
}

std::vector<std::string> run_namespaces(testing::FakeApiserver& server) {
  Result<kube::RestConfig> config = server.rest_config();
  Result<std::unique_ptr<kube::Transport>> transport =
      config ? kube::Transport::create(*config, kube::ClientOptions{}, real_clock())
             : Result<std::unique_ptr<kube::Transport>>(std::unexpected(config.error()));
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

std::string all_notes(const json& phase) {
  std::string text;
  for (const json& note : phase.value("notes", json::array())) {
    text += note.get<std::string>() + "\n";
  }
  return text;
}

TEST(EtcdPod, MeasuresTheLabsEtcdFromTheControlPlaneNodeAndCleansUp) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  LabEtcd etcd;
  ASSERT_TRUE(etcd.ok()) << etcd.error();
  fs::create_directories(etcd.pki());
  testing::FakeApiserver server("etcdpod", fixture_config(control_plane_nodes(), etcd.pki()));
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  const fs::path plan = sandbox.write("plan.yaml", plan_text(etcd.client(), etcd.metrics()));
  const TimePoint start = real_clock().now();
  Ran ran = sandbox.run({"run", "--plan", plan.string(), "--kubeconfig", server.kubeconfig(), "--only",
                         "etcd", "--format", "json", "--duration-scale", "0.066"});
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(60));
  const json phase = etcd_phase(ran);
  ASSERT_TRUE(phase.is_object()) << ran.out << ran.err;
  EXPECT_EQ(phase.value("status", ""), "completed") << phase.dump(2) << ran.err;
  std::map<std::string, json> rows;
  for (const char* key : {"rows", "informational"}) {
    for (const json& row : phase.value(key, json::array())) {
      rows[row.value("metric", "")] = row;
    }
  }
  for (const char* metric : {"etcd.write.p99", "etcd.read.p99"}) {
    ASSERT_TRUE(rows.contains(metric)) << metric << "\n" << phase.dump(2) << ran.err;
    const json& row = rows[metric];
    const json value = row.contains("measured") ? row["measured"] : row.value("value", json());
    ASSERT_TRUE(value.is_number()) << row;
    EXPECT_GT(value.get<double>(), 0.0) << row;
    // Placed by its toleration and node selector on the tainted control-plane node.
    EXPECT_NE(row.value("source", "").find("control-plane node cp-0"), std::string::npos) << row;
  }
  // The server's own rows came from etcd's /metrics, scraped by the agent on the node.
  EXPECT_TRUE(rows.contains("etcd.fsync.p99")) << phase.dump(2);
  EXPECT_NE(ran.err.find("on control-plane node cp-0"), std::string::npos) << ran.err;

  // The agent deleted every key it wrote under its prefix.
  Result<drivers::etcd::Connections> connections =
      drivers::etcd::open_connections({etcd.client()}, drivers::etcd::TlsFiles{}, 1);
  ASSERT_TRUE(connections) << connections.error().message;
  Result<std::int64_t> left = drivers::etcd::count_prefix(connections->channels.front(),
                                                          "kubeproof/etcdpod-it/", std::chrono::seconds(5));
  ASSERT_TRUE(left) << left.error().message;
  EXPECT_EQ(*left, 0);
  EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
}

TEST(EtcdPod, NoControlPlaneNodeOrNoEtcdOnItIsSkippedWithTheReason) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  const fs::path pki = fs::temp_directory_path() / fmt::format("kp-etcdpod-pki-{}", ::getpid());
  fs::create_directories(pki);
  {
    // Worker nodes only, as a managed cluster shows them.
    testing::FakeApiserver server("etcdpod-managed",
                                  fixture_config(json::array({json{{"name", "worker-0"}}}), pki));
    ASSERT_TRUE(server.ok()) << server.error();
    Sandbox sandbox;
    const fs::path plan = sandbox.write("plan.yaml", plan_text("127.0.0.1:1", "http://127.0.0.1:1/metrics"));
    Ran ran = sandbox.run({"run", "--plan", plan.string(), "--kubeconfig", server.kubeconfig(), "--only",
                           "etcd", "--format", "json", "--duration-scale", "0.066"});
    const json phase = etcd_phase(ran);
    ASSERT_TRUE(phase.is_object()) << ran.out << ran.err;
    EXPECT_EQ(phase.value("verdict", ""), "SKIPPED") << phase.dump(2);
    EXPECT_NE(phase.value("reason", "").find("no schedulable control-plane node"), std::string::npos)
        << phase.dump(2);
    // The API server's view of etcd instead, informational: the fixture times its store's operations as
    // kube-apiserver times its etcd calls (this run's own requests, the namespace and nodes, among them).
    const std::string notes = all_notes(phase);
    EXPECT_NE(notes.find("etcd_request_duration_seconds from its /metrics"), std::string::npos) << notes;
    EXPECT_NE(notes.find("informational, not judged"), std::string::npos) << notes;
    EXPECT_NE(notes.find(" /registry/"), std::string::npos) << notes;
    EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
  }
  {
    // A control-plane node whose etcd does not answer (nothing listens on port 1).
    testing::FakeApiserver server("etcdpod-noetcd", fixture_config(control_plane_nodes(), pki));
    ASSERT_TRUE(server.ok()) << server.error();
    Sandbox sandbox;
    const fs::path plan = sandbox.write("plan.yaml", plan_text("127.0.0.1:1", "http://127.0.0.1:1/metrics"));
    Ran ran = sandbox.run({"run", "--plan", plan.string(), "--kubeconfig", server.kubeconfig(), "--only",
                           "etcd", "--format", "json", "--duration-scale", "0.066"});
    const json phase = etcd_phase(ran);
    ASSERT_TRUE(phase.is_object()) << ran.out << ran.err;
    EXPECT_EQ(phase.value("verdict", ""), "SKIPPED") << phase.dump(2) << ran.err;
    EXPECT_NE(phase.value("reason", "").find("etcd is not reachable from control-plane node cp-0"),
              std::string::npos)
        << phase.dump(2);
    EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
  }
  fs::remove_all(pki);
}

// k3s and RKE2 label their servers node-role.kubernetes.io/control-plane: "true" (and master: "true"), and
// keep etcd's certificates away from kubeadm's folder: the pod still finds the node, and the phase is
// SKIPPED naming the missing certificates rather than failing on a pod stuck in ContainerCreating or an
// agent that cannot read a file.
TEST(EtcdPod, AControlPlaneNodeWithoutKubeadmsCertificatesIsSkippedWithTheReason) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  ASSERT_FALSE(fs::exists("/etc/kubernetes/pki/etcd")) << "this host's own kubeadm folder would be mounted";
  const json nodes = json::array(
      {json{{"name", "server-0"},
            {"labels",
             {{"node-role.kubernetes.io/control-plane", "true"}, {"node-role.kubernetes.io/master", "true"}}},
            {"taints",
             json::array({json{{"key", "node-role.kubernetes.io/master"}, {"effect", "NoSchedule"}}})}},
       json{{"name", "worker-0"}}});
  const std::string plan_yaml = R"(name: etcd-pod
type: smoke
target: cluster
capacity: {etcd_ops: 1k}
phases:
  - phase: etcd
    duration: 1m
    load: 20%
    settings:
      from: control-plane-pod
      key_prefix: kubeproof/etcdpod-it/
      pods: {agent_start_timeout: 5s}
)";
  {
    // No such folder on the node: the kubelet's hostPath type check fails (FailedMount).
    json config = fixture_config(nodes, "/nonexistent");
    config.erase("node_paths");
    testing::FakeApiserver server("etcdpod-k3s", config);
    ASSERT_TRUE(server.ok()) << server.error();
    Sandbox sandbox;
    const fs::path plan = sandbox.write("plan.yaml", plan_yaml);
    Ran ran = sandbox.run({"run", "--plan", plan.string(), "--kubeconfig", server.kubeconfig(), "--only",
                           "etcd", "--format", "json", "--duration-scale", "0.066"});
    const json phase = etcd_phase(ran);
    ASSERT_TRUE(phase.is_object()) << ran.out << ran.err;
    EXPECT_EQ(phase.value("verdict", ""), "SKIPPED") << phase.dump(2) << ran.err;
    const std::string reason = phase.value("reason", "");
    EXPECT_NE(reason.find("/etc/kubernetes/pki/etcd cannot be mounted on control-plane node server-0: not "
                          "measured"),
              std::string::npos)
        << phase.dump(2);
    EXPECT_NE(reason.find("MountVolume.SetUp failed"), std::string::npos) << reason;
    EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
  }
  {
    // The folder, empty: the agent cannot read kubeadm's CA file.
    const fs::path pki = fs::temp_directory_path() / fmt::format("kp-etcdpod-empty-{}", ::getpid());
    fs::create_directories(pki);
    testing::FakeApiserver server("etcdpod-empty", fixture_config(nodes, pki));
    ASSERT_TRUE(server.ok()) << server.error();
    Sandbox sandbox;
    const fs::path plan = sandbox.write("plan.yaml", plan_yaml);
    Ran ran = sandbox.run({"run", "--plan", plan.string(), "--kubeconfig", server.kubeconfig(), "--only",
                           "etcd", "--format", "json", "--duration-scale", "0.066"});
    const json phase = etcd_phase(ran);
    ASSERT_TRUE(phase.is_object()) << ran.out << ran.err;
    EXPECT_EQ(phase.value("verdict", ""), "SKIPPED") << phase.dump(2) << ran.err;
    EXPECT_NE(
        phase.value("reason", "").find("etcd's client certificate is not on control-plane node server-0"),
        std::string::npos)
        << phase.dump(2);
    EXPECT_EQ(run_namespaces(server), std::vector<std::string>{});
    fs::remove_all(pki);
  }
}

}  // namespace
}  // namespace kp
