// The etcd phase from a control-plane pod, without a cluster: the pod manifest's placement, security and
// volume, the agent's flags (read back through the agent's own flag parser, they give the phase's stages),
// and the agent's line read back as the phase's result.

#include "drivers/etcd/control_plane_pod.hpp"

#include <gtest/gtest.h>

#include "drivers/etcd/agent.hpp"

namespace kp::drivers::etcd {
namespace {

using nlohmann::json;

Settings settings_from(std::string_view yaml) {
  Result<Settings> settings = parse_settings(YAML::Load(std::string(yaml)), "plan.yaml", "etcd.settings");
  EXPECT_TRUE(settings) << (settings ? "" : settings.error().message);
  return settings.value_or(Settings{});
}

RunPlan plan_of(const Settings& settings, Duration duration) {
  Result<RunPlan> plan = plan_run(settings, PlanInput{.type = config::TestType::load,
                                                      .capacity = Rate{5000},
                                                      .load = 0.1,
                                                      .duration = duration,
                                                      .where = "plan.yaml"});
  EXPECT_TRUE(plan) << (plan ? "" : plan.error().message);
  return plan.value_or(RunPlan{});
}

TEST(ControlPlanePod, DefaultsAreKubeadmsEtcd) {
  const Endpoint endpoint = control_plane_endpoint(settings_from("from: control-plane-pod"));
  EXPECT_EQ(endpoint.endpoints, std::vector<std::string>{"https://127.0.0.1:2379"});
  EXPECT_EQ(endpoint.metrics_url, "http://127.0.0.1:2381/metrics");
  EXPECT_EQ(endpoint.tls.ca_file, "/etc/kubernetes/pki/etcd/ca.crt");
  EXPECT_EQ(endpoint.tls.cert_file, "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
  EXPECT_EQ(endpoint.tls.key_file, "/etc/kubernetes/pki/etcd/healthcheck-client.key");

  // Plain http endpoints use no certificates unless named; given ones are kept.
  const Endpoint plain =
      control_plane_endpoint(settings_from("{from: control-plane-pod, endpoints: [http://127.0.0.1:12379]}"));
  EXPECT_FALSE(plain.tls.enabled());
  EXPECT_EQ(plain.metrics_url, "http://127.0.0.1:12379/metrics");
  const Endpoint own = control_plane_endpoint(settings_from(
      "{from: control-plane-pod, endpoints: [https://10.0.0.1:2379], cacert: /pki/ca.pem, cert: /pki/c.pem, "
      "key: /pki/k.pem, metrics_url: http://10.0.0.1:2381/metrics}"));
  EXPECT_EQ(own.tls.ca_file, "/pki/ca.pem");
  EXPECT_EQ(own.tls.key_file, "/pki/k.pem");
  EXPECT_EQ(own.metrics_url, "http://10.0.0.1:2381/metrics");
}

TEST(ControlPlanePod, CertificatePathsAreTheNodesAndAreNotCheckedHere) {
  Settings settings = settings_from("{from: control-plane-pod, cert: /nowhere/c.crt, key: /nowhere/c.key}");
  EXPECT_TRUE(validate(settings, "plan.yaml: etcd.settings"));
  settings.from = Source::client;
  Result<void> local = validate(settings, "plan.yaml: etcd.settings");
  ASSERT_FALSE(local);
  EXPECT_NE(local.error().message.find("no such file, got \"/nowhere/c.crt\""), std::string::npos)
      << local.error().message;
}

TEST(ControlPlanePod, FromIsCheckedByName) {
  Result<Settings> bad = parse_settings(YAML::Load("from: master"), "plan.yaml", "etcd.settings");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "plan.yaml:1: etcd.settings.from: must be client or control-plane-pod, got \"master\"");
}

TEST(ControlPlanePod, ThePodRunsOnAControlPlaneNodeWithTheNodesNetworkAndCertificates) {
  const Settings settings = settings_from("from: control-plane-pod");
  const cluster::AgentPodSpec spec =
      agent_pod(settings, plan_of(settings, std::chrono::seconds(20)), std::chrono::seconds(20));
  cluster::PodSettings pods;
  pods.tolerations.push_back(json{{"key", "dedicated"}, {"operator", "Exists"}});
  const json pod = cluster::agent_pod_manifest(spec, cluster::AgentImage{"kubeproof-agent:1", "Never", ""},
                                               control_plane_pod_settings(pods), "kp-1-etcd", "kp-1");
  const json& p = pod["spec"];
  EXPECT_EQ(p["hostNetwork"], true);
  // A control-plane node by either key, whatever its value: kubeadm labels "", k3s and RKE "true".
  EXPECT_FALSE(p["nodeSelector"].contains("node-role.kubernetes.io/control-plane")) << p["nodeSelector"];
  EXPECT_EQ(p["affinity"]["nodeAffinity"], json::parse(R"({"requiredDuringSchedulingIgnoredDuringExecution":
      {"nodeSelectorTerms": [
         {"matchExpressions": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists"}]},
         {"matchExpressions": [{"key": "node-role.kubernetes.io/master", "operator": "Exists"}]}]}})"));
  EXPECT_EQ(p["tolerations"], json::array({json{{"key", "dedicated"}, {"operator", "Exists"}},
                                           json{{"key", "node-role.kubernetes.io/control-plane"},
                                                {"operator", "Exists"},
                                                {"effect", "NoSchedule"}},
                                           json{{"key", "node-role.kubernetes.io/master"},
                                                {"operator", "Exists"},
                                                {"effect", "NoSchedule"}}}));
  // The key is root's (0600): the agent runs as root, without the restricted profile.
  EXPECT_EQ(p["securityContext"]["runAsUser"], 0);
  EXPECT_EQ(p["securityContext"]["runAsNonRoot"], false);
  EXPECT_FALSE(p["containers"][0].contains("securityContext")) << p["containers"][0];
  json host_volume;
  for (const json& volume : p["volumes"]) {
    if (volume.contains("hostPath")) {
      host_volume = volume;
    }
  }
  EXPECT_EQ(host_volume["hostPath"], json({{"path", "/etc/kubernetes/pki/etcd"}, {"type", "Directory"}}));
  bool mounted_read_only = false;
  for (const json& mount : p["containers"][0]["volumeMounts"]) {
    if (mount["name"] == host_volume["name"]) {
      mounted_read_only = mount.value("readOnly", false) && mount["mountPath"] == "/etc/kubernetes/pki/etcd";
    }
  }
  EXPECT_TRUE(mounted_read_only) << p["containers"][0]["volumeMounts"];
}

// The flags, read by the agent's own parser, give the agent the phase's stages: same rate, same split of
// the duration, same mix and sizes.
TEST(ControlPlanePod, TheAgentsFlagsRunThePhasesStages) {
  const Settings settings = settings_from(
      "{from: control-plane-pod, endpoints: [http://127.0.0.1:12379], key_size: 64B, value_size: 512B, "
      "key_space: 500, clients: 8, connections: 2, key_prefix: kubeproof/it/, request_timeout: 2s, "
      "consistency: serializable}");
  const RunPlan plan = plan_of(settings, std::chrono::seconds(30));
  ASSERT_EQ(plan.stages.size(), 2U);
  const std::vector<std::string> args =
      agent_flags(settings, plan, std::chrono::seconds(30), control_plane_endpoint(settings));
  ASSERT_EQ(args.front(), "etcd");
  CLI::App app;
  AgentOptions options;
  attach_agent_options(app, options);
  std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11 takes them in reverse
  ASSERT_NO_THROW(app.parse(reversed));
  Result<AgentPlan> agent = to_agent_plan(options);
  ASSERT_TRUE(agent) << agent.error().message;
  ASSERT_EQ(agent->plan.stages.size(), plan.stages.size());
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    EXPECT_EQ(agent->plan.stages[i].name, plan.stages[i].name);
    EXPECT_EQ(agent->plan.stages[i].duration, plan.stages[i].duration);
    EXPECT_EQ(agent->plan.stages[i].read_fraction, plan.stages[i].read_fraction);
    ASSERT_TRUE(agent->plan.stages[i].rate && plan.stages[i].rate);
    EXPECT_DOUBLE_EQ(agent->plan.stages[i].rate->per_second, 500.0);
  }
  EXPECT_EQ(agent->settings.key_size, 64U);
  EXPECT_EQ(agent->settings.value_size, 512U);
  EXPECT_EQ(agent->settings.key_space, 500U);
  EXPECT_EQ(agent->settings.clients, 8);
  EXPECT_EQ(agent->settings.connections, 2);
  EXPECT_EQ(agent->settings.key_prefix, "kubeproof/it/");
  EXPECT_EQ(agent->settings.request_timeout, std::chrono::seconds(2));
  EXPECT_TRUE(agent->settings.serializable);
  EXPECT_EQ(agent->endpoint.endpoints, std::vector<std::string>{"http://127.0.0.1:12379"});
  EXPECT_EQ(agent->endpoint.metrics_url, "http://127.0.0.1:12379/metrics");
  EXPECT_FALSE(agent->endpoint.tls.enabled());

  // kubeadm's defaults reach the agent as its TLS flags (the files are the node's: the agent checks them).
  const Settings kubeadm = settings_from("from: control-plane-pod");
  const std::vector<std::string> tls = agent_flags(kubeadm, plan_of(kubeadm, std::chrono::seconds(30)),
                                                   std::chrono::seconds(30), control_plane_endpoint(kubeadm));
  auto value_of = [&](std::string_view flag) {
    auto found = std::find(tls.begin(), tls.end(), flag);
    return found == tls.end() || found + 1 == tls.end() ? std::string("<none>") : *(found + 1);
  };
  EXPECT_EQ(value_of("--endpoints"), "https://127.0.0.1:2379");
  EXPECT_EQ(value_of("--cacert"), "/etc/kubernetes/pki/etcd/ca.crt");
  EXPECT_EQ(value_of("--cert"), "/etc/kubernetes/pki/etcd/healthcheck-client.crt");
  EXPECT_EQ(value_of("--key"), "/etc/kubernetes/pki/etcd/healthcheck-client.key");
  EXPECT_EQ(value_of("--metrics-url"), "http://127.0.0.1:2381/metrics");
}

TEST(ControlPlanePod, TheAgentsLineIsThePhasesResult) {
  Histogram histogram;
  histogram.record(2'000'000);
  histogram.record(3'000'000);
  Measurement p99{.metric = "etcd.write.p99",
                  .value = 0.003,
                  .offered = std::nullopt,
                  .histogram = histogram,
                  .source = "client",
                  .note = "open loop"};
  const json line = {{"kind", "kubeproof.agent.etcd"},
                     {"version", 1},
                     {"measurements", json::array({to_json(p99)})},
                     {"invalid_reasons", json::array({"writes: sent 90% of 500/s"})},
                     {"notes", json::array({"rate 500/s"})}};
  Result<engine::PhaseRun> run = parse_agent_line(line);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_EQ(run->measurements.size(), 1U);
  EXPECT_EQ(run->measurements[0].metric, "etcd.write.p99");
  ASSERT_TRUE(run->measurements[0].histogram);
  EXPECT_EQ(run->measurements[0].histogram->count(), 2U);
  EXPECT_EQ(run->invalid_reasons, std::vector<std::string>{"writes: sent 90% of 500/s"});
  EXPECT_EQ(run->notes, std::vector<std::string>{"rate 500/s"});

  // etcd did not answer from the node: unavailable (the phase is SKIPPED with it); a bad flag is input.
  Result<engine::PhaseRun> unreachable =
      parse_agent_line(json{{"kind", "kubeproof.agent.etcd"},
                            {"error", "etcd 127.0.0.1:2379: connection refused"},
                            {"error_kind", "network"}});
  ASSERT_FALSE(unreachable);
  EXPECT_EQ(unreachable.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(unreachable.error().message, "etcd 127.0.0.1:2379: connection refused");
  Result<engine::PhaseRun> bad_flag = parse_agent_line(
      json{{"kind", "kubeproof.agent.etcd"}, {"error", "--rate: not a rate"}, {"error_kind", "usage"}});
  ASSERT_FALSE(bad_flag);
  EXPECT_EQ(bad_flag.error().kind, ErrorKind::input);
  EXPECT_FALSE(parse_agent_line(json{{"kind", "kubeproof.agent.dns"}, {"measurements", json::array()}}));
  EXPECT_FALSE(parse_agent_line(json{{"kind", "kubeproof.agent.etcd"}}));
}

}  // namespace
}  // namespace kp::drivers::etcd
