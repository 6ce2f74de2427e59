// The pod runner against the API fixture's process kubelet: the namespace and its ServiceAccount, agent pods
// that really run (the kubeproof binary under test) and whose result line is read from pods/log, a Service
// that is returned once its EndpointSlice is ready, volume claims, and every start-up failure as one line
// within a short agent_start_timeout. Needs root (the kubelet's network namespaces); skipped otherwise.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "cluster/pod_runner.hpp"
#include "cluster/run.hpp"
#include "fake_apiserver.hpp"

namespace kp::cluster {
namespace {

using json = nlohmann::json;

json fixture_config() {
  return kp::testing::process_kubelet_config(
      KP_BINARY,
      {{"storage_classes",
        json::array({json{{"name", "standard"}, {"default", true}, {"volumeBindingMode", "Immediate"}},
                     json{{"name", "late"}, {"volumeBindingMode", "WaitForFirstConsumer"}}})}});
}

// One fixture for the suite (starting one costs seconds); each test has its own run id, so its own namespace.
class PodRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() == 0) {
      fixture_ = new kp::testing::FakeApiserver("cluster-runner", fixture_config());
    }
  }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "the process kubelet needs root (network namespaces, nftables, setpriv)";
    }
    ASSERT_TRUE(fixture_->ok()) << fixture_->error();
    fixture_->control("POST", "/fixture/config",
                      json{{"denied", json::array()}, {"pod_security_default", nullptr}});
    Result<kube::RestConfig> config = fixture_->rest_config();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
  }

  RunnerOptions options(std::string phase = "network") {
    RunnerOptions runner;
    runner.run_id = new_run_id();
    runner.phase = std::move(phase);
    runner.image = AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
    runner.pods.start_timeout = std::chrono::seconds(4);
    runner.cleanup_timeout = std::chrono::seconds(30);
    return runner;
  }

  std::unique_ptr<PodRunner> open(RunnerOptions runner) {
    Result<std::unique_ptr<PodRunner>> opened =
        PodRunner::open(config_, std::move(runner), real_clock(), cancel_);
    EXPECT_TRUE(opened) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }

  // The namespace as the API has it now (null when gone).
  json namespace_object(const std::string& name) {
    json got = fixture_->control("GET", "/api/v1/namespaces/" + name);
    return got.value("kind", "") == "Namespace" ? got : json();
  }

  static kp::testing::FakeApiserver* fixture_;
  kube::RestConfig config_;
  engine::CancellationToken cancel_;
};
kp::testing::FakeApiserver* PodRunnerTest::fixture_ = nullptr;

AgentPodSpec agent(const std::string& name, std::vector<std::string> args) {
  AgentPodSpec spec;
  spec.name = name;
  spec.agent = name;
  spec.args = std::move(args);
  return spec;
}

TEST_F(PodRunnerTest, OpenMakesTheNamespaceAndAnAccountWithoutTokenAndCloseRemovesIt) {
  RunnerOptions runner = options();
  const std::string run_id = runner.run_id;
  std::unique_ptr<PodRunner> pods = open(runner);
  ASSERT_TRUE(pods);
  EXPECT_EQ(pods->ns(), run_id + "-network");
  json ns = namespace_object(pods->ns());
  ASSERT_FALSE(ns.is_null());
  EXPECT_EQ(ns["metadata"]["labels"]["kubeproof.io/run"], run_id);
  EXPECT_EQ(ns["metadata"]["labels"]["kubeproof.io/phase"], "network");
  json account = fixture_->control(
      "GET", fmt::format("/api/v1/namespaces/{}/serviceaccounts/kubeproof-agent", pods->ns()));
  EXPECT_EQ(account.value("automountServiceAccountToken", true), false) << account.dump();
  const std::string name = pods->ns();
  pods->close();
  EXPECT_TRUE(namespace_object(name).is_null()) << "close() waits until the namespace is gone";
  pods->close();  // idempotent
}

TEST_F(PodRunnerTest, AgentPodsRunAndTheirResultLineIsReadThroughAReadyService) {
  std::unique_ptr<PodRunner> pods = open(options());
  ASSERT_TRUE(pods);
  Result<std::vector<Node>> nodes = pods->schedulable_nodes();
  ASSERT_TRUE(nodes) << nodes.error().message;
  ASSERT_EQ(nodes->size(), 2U);
  EXPECT_EQ((*nodes)[0].name, "fixture-node-a");
  EXPECT_FALSE((*nodes)[0].internal_ip.empty());

  AgentPodSpec server = agent("net-server-0", {"net-server", "--listen", "0.0.0.0:7410"});
  server.ports = {{"tcp", 7410}, {"udp", 7410}};
  ASSERT_TRUE(pods->create_pod(server));
  Result<PodInfo> running = pods->wait_running("net-server-0");
  ASSERT_TRUE(running) << running.error().message;
  EXPECT_EQ(running->phase, "Running");
  EXPECT_FALSE(running->ip.empty());
  Result<ServiceInfo> service = pods->create_service("net-server-0", "net-server-0", server.ports);
  ASSERT_TRUE(service) << service.error().message;
  EXPECT_FALSE(service->cluster_ip.empty());

  AgentPodSpec client =
      agent("net-client-0", {"net-client", "--server", service->cluster_ip + ":7410", "--scenario", "TCP_RR",
                             "--duration", "1s", "--warmup", "200ms"});
  client.placement.away_from = "net-server-0";
  ASSERT_TRUE(pods->create_pod(client));
  Result<PodInfo> started = pods->wait_running("net-client-0");
  ASSERT_TRUE(started) << started.error().message;
  Result<PodInfo> done = pods->wait_finished("net-client-0", real_clock().now() + std::chrono::seconds(30));
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->phase, "Succeeded") << *pods->logs("net-client-0");
  EXPECT_EQ(done->exit_code, 0);
  EXPECT_NE(done->node, running->node) << "required anti-affinity on kubernetes.io/hostname";
  Result<json> line = pods->result_line("net-client-0", "kubeproof.agent.net-client");
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_TRUE(line->value("complete", false)) << line->dump();

  Result<json> none = pods->result_line("net-client-0", "kubeproof.agent.storage");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::network);
  EXPECT_NE(none.error().message.find(fmt::format(
                "pod {}/net-client-0 printed no kubeproof.agent.storage result line", pods->ns())),
            std::string::npos)
      << none.error().message;
}

// Each start-up failure: one line naming the pod, the reason and the last event's message, within the
// start timeout (4 s here) plus the time a watch takes to notice.
TEST_F(PodRunnerTest, PodsThatCannotStartFailWithinTheTimeoutWithTheirReason) {
  std::unique_ptr<PodRunner> pods = open(options());
  ASSERT_TRUE(pods);
  struct Case {
    std::string name;
    std::string image;
    std::string policy;
    std::map<std::string, std::string> node_selector;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"pull",
       "registry.kubeproof.invalid/kubeproof-agent:1",
       "IfNotPresent",
       {},
       "did not start within 4.00s: ImagePull"},
      {"never", "registry.example.com/other:1", "Never", {}, "cannot start: ErrImageNeverPull: "},
      {"nowhere",
       "",
       "IfNotPresent",
       {{"kubeproof.io/none", "true"}},
       "did not start within 4.00s: Unschedulable: 0/2 nodes are available"},
      {"badname", "Kubeproof-Agent:1", "IfNotPresent", {}, "cannot start: InvalidImageName"},
  };
  for (const Case& c : cases) {
    RunnerOptions runner = options();
    runner.image.pull_policy = c.policy;
    runner.pods.node_selector = c.node_selector;
    // A runner per case would cost a namespace each; the same namespace serves, the manifest differs.
    AgentPodSpec spec = agent(c.name, {"net-server", "--listen", "0.0.0.0:7411"});
    spec.image = c.image;
    json manifest = agent_pod_manifest(spec, runner.image, runner.pods, pods->ns(), pods->options().run_id);
    ASSERT_TRUE(pods->api().create(kube::pods_resource(), pods->ns(), manifest));
    const TimePoint start = real_clock().now();
    Result<PodInfo> running = pods->wait_running(c.name);
    const Duration took = real_clock().now() - start;
    ASSERT_FALSE(running) << c.name;
    EXPECT_EQ(running.error().kind, ErrorKind::timeout) << c.name;
    EXPECT_NE(running.error().message.find(fmt::format("pod {}/{} {}", pods->ns(), c.name, c.expected)),
              std::string::npos)
        << running.error().message;
    EXPECT_EQ(running.error().message.find('\n'), std::string::npos) << "one line";
    EXPECT_LT(took, std::chrono::seconds(8)) << c.name;
    if (c.name == "pull") {
      EXPECT_NE(running.error().message.find("registry.kubeproof.invalid/kubeproof-agent:1"),
                std::string::npos)
          << "the event names the image: " << running.error().message;
    }
  }
}

// An agent that fails at once is not a start-up failure: it may well be seen running first. Its end is its
// exit code and reason, and its log says why in one line.
TEST_F(PodRunnerTest, AnAgentThatExitsAtOnceEndsWithItsExitCodeAndALogLine) {
  std::unique_ptr<PodRunner> pods = open(options());
  ASSERT_TRUE(pods);
  ASSERT_TRUE(pods->create_pod(agent("crash", {"net-client", "--server", "nowhere"})));
  Result<PodInfo> started = pods->wait_running("crash");
  ASSERT_TRUE(started) << started.error().message;
  Result<PodInfo> ended = pods->wait_finished("crash", real_clock().now() + std::chrono::seconds(10));
  ASSERT_TRUE(ended) << ended.error().message;
  EXPECT_EQ(ended->phase, "Failed");
  ASSERT_TRUE(ended->exit_code.has_value());
  EXPECT_NE(*ended->exit_code, 0);
  EXPECT_EQ(ended->reason, "Error");
  Result<json> line = pods->result_line("crash", "kubeproof.agent.net-client");
  if (line) {
    // The agents print a result line with the error even for bad flags (issue 15).
    EXPECT_NE(line->value("error", ""), "") << line->dump();
  } else {
    EXPECT_NE(line.error().message.find(
                  fmt::format("pod {}/crash printed no kubeproof.agent.net-client result line "
                              "(log ends \"",
                              pods->ns())),
              std::string::npos)
        << line.error().message;
    EXPECT_NE(line.error().message.find("nowhere"), std::string::npos) << "the agent names its bad flag";
  }
}

TEST_F(PodRunnerTest, StorageClassesAndClaims) {
  std::unique_ptr<PodRunner> pods = open(options("storage"));
  ASSERT_TRUE(pods);
  Result<std::string> fallback = pods->resolve_storage_class("");
  ASSERT_TRUE(fallback) << fallback.error().message;
  EXPECT_EQ(*fallback, "standard");

  Result<void> unknown = pods->create_volume_claim("data", "fast-nvme", 1ULL << 30);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::input);
  EXPECT_NE(unknown.error().message.find("storage class \"fast-nvme\" does not exist"), std::string::npos)
      << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("(storage classes: late, standard (default))"), std::string::npos)
      << unknown.error().message;

  ASSERT_TRUE(pods->create_volume_claim("bound", "", 1ULL << 30));
  Result<void> bound = pods->wait_bound("bound", real_clock().now() + std::chrono::seconds(10));
  EXPECT_TRUE(bound) << bound.error().message;

  // WaitForFirstConsumer without a consumer never binds: the claim's last event says why.
  ASSERT_TRUE(pods->create_volume_claim("waiting", "late", 1ULL << 30));
  Result<void> pending = pods->wait_bound("waiting", real_clock().now() + std::chrono::seconds(2));
  ASSERT_FALSE(pending);
  EXPECT_EQ(pending.error().kind, ErrorKind::timeout);
  EXPECT_NE(pending.error().message.find(
                fmt::format("persistentvolumeclaim {}/waiting still Pending at its deadline: ", pods->ns())),
            std::string::npos)
      << pending.error().message;
  EXPECT_NE(pending.error().message.find("WaitForFirstConsumer"), std::string::npos)
      << pending.error().message;
}

// A volume that will never be there ends the wait at its Event, long before the start timeout: a hostPath
// the node lacks (the kubelet's FailedMount) and a claim whose StorageClass is gone (ProvisioningFailed).
TEST_F(PodRunnerTest, ALastingVolumeFailureEndsTheWaitAtItsEvent) {
  RunnerOptions runner = options("storage");
  runner.pods.start_timeout = std::chrono::seconds(60);
  std::unique_ptr<PodRunner> pods = open(runner);
  ASSERT_TRUE(pods);
  AgentPodSpec spec = agent("nopath", {"net-server", "--listen", "0.0.0.0:7411"});
  spec.volumes.push_back(VolumeMount{.name = "node-dir",
                                     .mount_path = "/node",
                                     .claim_name = "",
                                     .memory = false,
                                     .host_path = "/nonexistent/kubeproof-test",
                                     .read_only = true});
  ASSERT_TRUE(pods->create_pod(spec));
  TimePoint start = real_clock().now();
  Result<PodInfo> running = pods->wait_running("nopath");
  ASSERT_FALSE(running);
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(20)) << "waited for the start timeout";
  EXPECT_EQ(running.error().kind, ErrorKind::timeout);
  EXPECT_EQ(
      running.error().message,
      fmt::format("pod {}/nopath cannot start: FailedMount: MountVolume.SetUp failed for volume \"node-dir\" "
                  ": hostPath type check failed: /nonexistent/kubeproof-test is not a directory (the node "
                  "has no such path for the hostPath volume (/nonexistent/kubeproof-test is not a "
                  "directory))",
                  pods->ns()));

  // A claim of a class that does not exist (made past resolve_storage_class, as when the class is deleted
  // after the check): the persistentvolume-controller's ProvisioningFailed says it at once.
  json claim = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", "orphan"}}},
                {"spec",
                 {{"accessModes", {"ReadWriteOnce"}},
                  {"storageClassName", "gone"},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  ASSERT_TRUE(pods->api().create(*kube::builtin_resource("v1", "PersistentVolumeClaim"), pods->ns(), claim));
  start = real_clock().now();
  Result<void> bound = pods->wait_bound("orphan", real_clock().now() + std::chrono::seconds(60));
  ASSERT_FALSE(bound);
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(20)) << "waited for the bind deadline";
  EXPECT_EQ(bound.error().kind, ErrorKind::input);
  EXPECT_EQ(
      bound.error().message,
      fmt::format("persistentvolumeclaim {}/orphan cannot bind: ProvisioningFailed: "
                  "storageclass.storage.k8s.io \"gone\" not found (StorageClass \"gone\" does not exist)",
                  pods->ns()));
}

TEST_F(PodRunnerTest, NoDefaultClassIsAClearInputError) {
  std::unique_ptr<PodRunner> pods = open(options("storage"));
  ASSERT_TRUE(pods);
  const kube::Resource classes{"storage.k8s.io", "v1", "storageclasses", "StorageClass", false};
  auto mark_default = [&](const char* value) {
    json patch = {{"metadata", {{"annotations", {{"storageclass.kubernetes.io/is-default-class", value}}}}}};
    return pods->api().patch(classes, "", "standard", patch).has_value();
  };
  ASSERT_TRUE(mark_default("false"));
  Result<void> claim = pods->create_volume_claim("data", "", 1ULL << 30);
  ASSERT_TRUE(mark_default("true"));
  ASSERT_FALSE(claim);
  EXPECT_EQ(claim.error().kind, ErrorKind::input);
  EXPECT_NE(claim.error().message.find("no storage class given and context \"token\""), std::string::npos)
      << claim.error().message;
  EXPECT_NE(claim.error().message.find("has no default storage class"), std::string::npos)
      << claim.error().message;
}

TEST_F(PodRunnerTest, AForbiddenPodCreateIsOneInputLine) {
  fixture_->control("POST", "/fixture/config",
                    json{{"denied", json::array({json{{"verb", "create"}, {"resource", "pods"}}})}});
  // With the preflight (the default): refused before anything is created, every missing permission named.
  RunnerOptions checked = options();
  Result<std::unique_ptr<PodRunner>> refused = PodRunner::open(config_, checked, real_clock(), cancel_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::input);
  EXPECT_NE(
      refused.error().message.find(
          "permissions kubeproof needs: create pods in all namespaces (the network phase's agent pods)"),
      std::string::npos)
      << refused.error().message;
  EXPECT_TRUE(namespace_object(checked.run_id + "-network").is_null()) << "nothing created";

  // Without it, the API's own 403 on create is the same kind of error, in one line.
  RunnerOptions unchecked = options();
  unchecked.preflight = false;
  std::unique_ptr<PodRunner> pods = open(unchecked);
  ASSERT_TRUE(pods);
  Result<void> created = pods->create_pod(agent("denied", {"net-server"}));
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().kind, ErrorKind::input);
  EXPECT_NE(created.error().message.find(fmt::format("create pod {}/denied: ", pods->ns())),
            std::string::npos)
      << created.error().message;
  EXPECT_NE(created.error().message.find("403"), std::string::npos) << created.error().message;
  EXPECT_EQ(created.error().message.find('\n'), std::string::npos);
}

TEST_F(PodRunnerTest, ACancelledWaitReturnsAtOnce) {
  std::unique_ptr<PodRunner> pods = open(options());
  ASSERT_TRUE(pods);
  AgentPodSpec stuck = agent("stuck", {"net-server"});
  ASSERT_TRUE(pods->create_pod(stuck));
  cancel_.request();
  const TimePoint start = real_clock().now();
  Result<PodInfo> waited = pods->wait_running("stuck");
  ASSERT_FALSE(waited);
  EXPECT_EQ(waited.error().kind, ErrorKind::cancelled);
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(1));
  const std::string ns = pods->ns();
  pods.reset();  // the destructor closes, cancelled or not
  EXPECT_TRUE(namespace_object(ns).is_null());
}

// A run that was killed leaves its namespace; `kubeproof cleanup --run ID` removes it (it selects the run
// label the runner puts on its namespaces), and the runner's own close() afterwards is harmless.
TEST_F(PodRunnerTest, KubeproofCleanupRemovesTheRunnersNamespace) {
  RunnerOptions runner = options("storage");
  const std::string run_id = runner.run_id;
  std::unique_ptr<PodRunner> pods = open(runner);
  ASSERT_TRUE(pods);
  ASSERT_TRUE(pods->create_pod(agent("left", {"net-server", "--listen", "0.0.0.0:7419"})));
  std::vector<std::string> args = {
      KP_BINARY,   "cleanup", "--run",     run_id, "--kubeconfig", fixture_->kubeconfig(),
      "--context", "token",   "--timeout", "30s"};
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, KP_BINARY, nullptr, nullptr, argv.data(), environ), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(namespace_object(pods->ns()).is_null());
  pods->close();
}

// The API does not promise the pod IP together with phase Running: a fixture whose kubelet sets it 1.5 s
// late shows that wait_running returns only once the IP is there.
TEST(PodRunnerLateIp, WaitRunningReturnsOnlyWithAnIp) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the process kubelet needs root (network namespaces, nftables, setpriv)";
  }
  json config = fixture_config();
  config["kubelet"]["pod_ip_delay_ms"] = 1500;
  kp::testing::FakeApiserver fixture("cluster-late-ip", config);
  ASSERT_TRUE(fixture.ok()) << fixture.error();
  Result<kube::RestConfig> rest = fixture.rest_config();
  ASSERT_TRUE(rest) << rest.error().message;
  RunnerOptions runner;
  runner.run_id = new_run_id();
  runner.phase = "network";
  runner.image = AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
  runner.pods.start_timeout = std::chrono::seconds(10);
  engine::CancellationToken cancel;
  Result<std::unique_ptr<PodRunner>> pods = PodRunner::open(*rest, runner, real_clock(), cancel);
  ASSERT_TRUE(pods) << pods.error().message;
  // No ports, so no readiness probe: Running comes before the IP, and only the IP is waited for.
  AgentPodSpec client = agent("late", {"net-server", "--listen", "0.0.0.0:7420"});
  ASSERT_TRUE((*pods)->create_pod(client));
  Result<PodInfo> running = (*pods)->wait_running("late");
  ASSERT_TRUE(running) << running.error().message;
  EXPECT_FALSE(running->ip.empty()) << "phase " << running->phase;
}

// Pod Security admission with a cluster-wide default of baseline refuses a host-network pod unless its
// namespace is labelled privileged, which the runner does when a phase asks for it.
TEST_F(PodRunnerTest, HostNetworkPodsNeedTheNamespaceLabelledPrivileged) {
  fixture_->control("POST", "/fixture/config", json{{"pod_security_default", "baseline"}});
  AgentPodSpec host = agent("host-0", {"net-server", "--listen", "0.0.0.0:7440"});
  host.host_network = true;
  {
    std::unique_ptr<PodRunner> pods = open(options());
    ASSERT_TRUE(pods);
    Result<void> refused = pods->create_pod(host);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, ErrorKind::input);
    EXPECT_NE(refused.error().message.find("violates PodSecurity \"baseline:latest\": host namespaces "
                                           "(hostNetwork=true)"),
              std::string::npos)
        << refused.error().message;
  }
  RunnerOptions privileged = options();
  privileged.namespace_labels = privileged_pod_security_labels();
  std::unique_ptr<PodRunner> pods = open(privileged);
  ASSERT_TRUE(pods);
  json ns = namespace_object(pods->ns());
  for (const char* mode : {"enforce", "warn", "audit"}) {
    EXPECT_EQ(ns["metadata"]["labels"].value(fmt::format("pod-security.kubernetes.io/{}", mode), ""),
              "privileged")
        << ns.dump();
  }
  Result<void> created = pods->create_pod(host);
  ASSERT_TRUE(created) << created.error().message;
}

// A cancelled phase stops its agents by deleting their pods; the SIGTERM makes an agent print what it
// measured. The API does not keep a pod whose containers ended: with a kubelet that finishes the deletion at
// once (termination_linger_ms 0) the log cannot be read after the end, so only following it from before
// the DELETE gets the line.
TEST(PodRunnerStop, StopForResultFollowsTheLogThroughTheDeletion) {
  if (geteuid() != 0) {
    GTEST_SKIP() << "the process kubelet needs root (network namespaces, nftables, setpriv)";
  }
  json config = fixture_config();
  config["kubelet"]["termination_linger_ms"] = 0;
  kp::testing::FakeApiserver fixture("cluster-stop", config);
  ASSERT_TRUE(fixture.ok()) << fixture.error();
  Result<kube::RestConfig> rest = fixture.rest_config();
  ASSERT_TRUE(rest) << rest.error().message;
  RunnerOptions runner;
  runner.run_id = new_run_id();
  runner.phase = "network";
  runner.image = AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
  runner.pods.start_timeout = std::chrono::seconds(10);
  engine::CancellationToken cancel;
  Result<std::unique_ptr<PodRunner>> opened = PodRunner::open(*rest, runner, real_clock(), cancel);
  ASSERT_TRUE(opened) << opened.error().message;
  PodRunner& pods = **opened;
  AgentPodSpec server = agent("net-server-0", {"net-server", "--listen", "0.0.0.0:7430"});
  server.ports = {{"tcp", 7430}};
  ASSERT_TRUE(pods.create_pod(server));
  Result<PodInfo> serving = pods.wait_running("net-server-0");
  ASSERT_TRUE(serving) << serving.error().message;
  AgentPodSpec client =
      agent("net-client-0", {"net-client", "--server", serving->ip + ":7430", "--scenario", "TCP_RR",
                             "--duration", "120s", "--warmup", "0s", "--live-lines"});
  ASSERT_TRUE(pods.create_pod(client));
  ASSERT_TRUE(pods.wait_running("net-client-0"));
  // Running says the container started, not that the agent is past its start-up: a SIGTERM before its
  // handler is in place (slow under ASan) ends it without a line. Its first live count says it is measuring.
  bool measuring = false;
  for (int i = 0; i < 600 && !measuring; ++i) {
    Result<std::string> log = pods.logs("net-client-0");
    measuring = log && log->find("kp-live") != std::string::npos;
    if (!measuring) {
      real_clock().sleep_until(real_clock().now() + std::chrono::milliseconds(50));  // the poll interval
    }
  }
  ASSERT_TRUE(measuring) << "no live count from the client agent within 30 s";

  const TimePoint start = real_clock().now();
  Result<json> line = pods.stop_for_result("net-client-0", "kubeproof.agent.net-client");
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_EQ(line->value("kind", ""), "kubeproof.agent.net-client");
  EXPECT_FALSE(line->value("complete", true)) << "stopped 120 s early: " << line->dump();
  EXPECT_LT(real_clock().now() - start, std::chrono::seconds(30)) << "SIGTERM ends it, not the grace period";

  // What reading after the deletion would have met: the pod goes with its container, and its log with it.
  Result<PodInfo> gone = pods.pod("net-client-0");
  for (int i = 0; i < 200 && gone; ++i) {
    real_clock().sleep_until(real_clock().now() + std::chrono::milliseconds(50));  // the poll interval
    gone = pods.pod("net-client-0");
  }
  ASSERT_FALSE(gone) << "pod still there: " << gone->phase;
  Result<json> late = pods.result_line("net-client-0", "kubeproof.agent.net-client");
  ASSERT_FALSE(late);
  EXPECT_NE(late.error().message.find("404"), std::string::npos) << late.error().message;
}

}  // namespace
}  // namespace kp::cluster
