// `<phase>.settings.pods` read with file:line errors that echo the value.

#include <gtest/gtest.h>

#include "cluster/agent_pod.hpp"

namespace kp::cluster {
namespace {

Result<PodSettings> read(const std::string& yaml) {
  Result<config::YamlField> root = config::parse_yaml(yaml, "plans/x.yaml");
  if (!root) {
    return std::unexpected(root.error());
  }
  config::YamlField pods(root->node()["pods"], "plans/x.yaml", "network.settings.pods");
  return read_pod_settings(pods);
}

TEST(PodSettings, DefaultsWhenAbsent) {
  Result<PodSettings> settings = read("other: 1\n");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->start_timeout, std::chrono::minutes(2));
  EXPECT_TRUE(settings->restricted);
  EXPECT_TRUE(settings->tolerations.empty());
}

TEST(PodSettings, ReadsEveryKey) {
  Result<PodSettings> settings = read(R"(pods:
  node_selector: {kubeproof.io/bench: "true", kubernetes.io/os: linux}
  tolerations:
    - {key: dedicated, operator: Equal, value: bench, effect: NoSchedule}
    - {operator: Exists}
    - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 30}
  resources: {requests: {cpu: 500m, memory: 256Mi}, limits: {cpu: "2", memory: 1Gi}}
  priority_class: kubeproof-high
  agent_start_timeout: 30s
  restricted: false
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->node_selector.at("kubeproof.io/bench"), "true");
  EXPECT_EQ(settings->node_selector.at("kubernetes.io/os"), "linux");
  EXPECT_EQ(settings->tolerations, json::parse(R"([
      {"key": "dedicated", "operator": "Equal", "value": "bench", "effect": "NoSchedule"},
      {"operator": "Exists"},
      {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}])"));
  EXPECT_EQ(
      settings->resources,
      json::parse(
          R"({"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}})"));
  EXPECT_EQ(settings->priority_class, "kubeproof-high");
  EXPECT_EQ(settings->start_timeout, std::chrono::seconds(30));
  EXPECT_FALSE(settings->restricted);
}

void expect_error(const std::string& yaml, const std::string& expected) {
  Result<PodSettings> settings = read(yaml);
  ASSERT_FALSE(settings) << yaml;
  EXPECT_EQ(settings.error().kind, ErrorKind::input);
  EXPECT_EQ(settings.error().message, expected);
}

TEST(PodSettings, ErrorsNameFileLineFieldAndValue) {
  expect_error(
      "pods:\n  node_selectr: {a: b}\n",
      "plans/x.yaml:2: network.settings.pods: unknown key \"node_selectr\" (expected one of: node_selector, "
      "tolerations, resources, priority_class, agent_start_timeout, start_lead, restricted)");
  expect_error("pods:\n  tolerations:\n    - {key: a, operator: In}\n",
               "plans/x.yaml:3: network.settings.pods.tolerations[0].operator: must be one of: Exists, "
               "Equal, got \"In\"");
  expect_error(
      "pods:\n  tolerations:\n    - {value: x}\n",
      "plans/x.yaml:3: network.settings.pods.tolerations[0]: a toleration without a key must have operator: "
      "Exists (it then tolerates every taint)");
  expect_error(
      "pods:\n  resources: {requests: {cpu: lots}}\n",
      "plans/x.yaml:2: network.settings.pods.resources.requests.cpu: must be a Kubernetes quantity such as "
      "500m, 2, 256Mi, got \"lots\"");
  expect_error("pods:\n  agent_start_timeout: 0s\n",
               "plans/x.yaml:2: network.settings.pods.agent_start_timeout: must be at least 1s, got \"0s\"");
  expect_error(
      "pods:\n  priority_class: Not_A_Name\n",
      "plans/x.yaml:2: network.settings.pods.priority_class: must be a PriorityClass name (a DNS subdomain), "
      "got \"Not_A_Name\"");
  expect_error(
      "pods:\n  node_selector: {a: \"has space\"}\n",
      "plans/x.yaml:2: network.settings.pods.node_selector.a: must be a label value (at most 63 letters, "
      "digits, '-', '_', '.'), got \"has space\"");
}

TEST(PodSettings, FromJsonNamesTheFileAndFieldWithoutALine) {
  Result<PodSettings> ok = read_pod_settings(json::parse(R"({"tolerations": [{"operator": "Exists"}],
      "agent_start_timeout": "30s", "restricted": false})"),
                                             "plans/x.yaml", "storage.settings.pods");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->start_timeout, std::chrono::seconds(30));
  EXPECT_FALSE(ok->restricted);
  Result<PodSettings> bad = read_pod_settings(json::parse(R"({"agent_start_timeout": "soon"})"),
                                              "plans/x.yaml", "storage.settings.pods");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().message.starts_with("plans/x.yaml: storage.settings.pods.agent_start_timeout: "))
      << bad.error().message;
  EXPECT_TRUE(read_pod_settings(json(), "plans/x.yaml", "storage.settings.pods")) << "absent: the defaults";
}

}  // namespace
}  // namespace kp::cluster
