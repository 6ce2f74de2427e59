// deploy/rbac/clusterrole.yaml grants exactly what a run asks the preflight for: the api phase's built-in
// workload and the pod runner. A permission added to either without the role (or a rule nobody needs) fails
// here.

#include <set>
#include <tuple>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cluster/cluster_watch.hpp"
#include "cluster/pod_runner.hpp"
#include "drivers/api/permissions.hpp"
#include "drivers/dns/cluster_dns.hpp"

namespace kp::cluster {
namespace {

using Grant = std::tuple<std::string, std::string, std::string>;  // group, resource, verb

std::set<Grant> role_grants() {
  YAML::Node role = YAML::LoadFile(std::string(KP_SOURCE_DIR) + "/deploy/rbac/clusterrole.yaml");
  EXPECT_EQ(role["kind"].as<std::string>(), "ClusterRole");
  std::set<Grant> grants;
  for (const YAML::Node& rule : role["rules"]) {
    if (rule["nonResourceURLs"]) {
      continue;
    }
    for (const YAML::Node& group : rule["apiGroups"]) {
      for (const YAML::Node& resource : rule["resources"]) {
        for (const YAML::Node& verb : rule["verbs"]) {
          EXPECT_NE(verb.as<std::string>(), "*") << "no wildcards: the role lists what a run does";
          EXPECT_NE(resource.as<std::string>(), "*");
          grants.emplace(group.as<std::string>(), resource.as<std::string>(), verb.as<std::string>());
        }
      }
    }
  }
  return grants;
}

std::vector<kube::Permission> run_permissions() {
  Result<std::vector<kube::Permission>> api = drivers::api::required_permissions(drivers::api::Settings{});
  EXPECT_TRUE(api) << api.error().message;
  std::vector<kube::Permission> needed = api ? *api : std::vector<kube::Permission>{};
  for (kube::Permission& permission : runner_permissions("the pod runner")) {
    needed.push_back(std::move(permission));
  }
  for (kube::Permission& permission : ingress_read_permissions("the ingress phase's Ingress")) {
    needed.push_back(std::move(permission));
  }
  for (kube::Permission& permission : drivers::dns::dns_cluster_permissions()) {
    needed.push_back(std::move(permission));
  }
  for (kube::Permission& permission : soak_watch_permissions()) {
    needed.push_back(std::move(permission));
  }
  return needed;
}

TEST(Rbac, TheClusterRoleCoversEveryPermissionARunChecks) {
  const std::set<Grant> grants = role_grants();
  for (const kube::Permission& permission : run_permissions()) {
    EXPECT_TRUE(grants.contains(Grant{permission.group, permission.resource, permission.verb}))
        << "deploy/rbac/clusterrole.yaml lacks " << kube::to_string(permission) << " (" << permission.why
        << ")";
  }
}

TEST(Rbac, TheClusterRoleGrantsNothingARunDoesNotCheck) {
  std::set<Grant> needed;
  for (const kube::Permission& permission : run_permissions()) {
    needed.emplace(permission.group, permission.resource, permission.verb);
  }
  for (const Grant& grant : role_grants()) {
    EXPECT_TRUE(needed.contains(grant))
        << "deploy/rbac/clusterrole.yaml grants " << std::get<2>(grant) << " " << std::get<1>(grant)
        << " (group \"" << std::get<0>(grant) << "\"), which no preflight asks for";
  }
}

TEST(Rbac, TheRunnerAsksForItsSubresourceAsRbacSpellsIt) {
  std::vector<kube::Permission> needed = runner_permissions("x");
  EXPECT_TRUE(std::any_of(needed.begin(), needed.end(), [](const kube::Permission& p) {
    return p.resource == "pods/log" && p.verb == "get";
  }));
}

}  // namespace
}  // namespace kp::cluster

namespace kp::cluster {
namespace {

// The optional CoreDNS scrape is granted by its own Role in kube-system, not cluster-wide.
TEST(Rbac, TheCorednsMetricsRoleGrantsExactlyThePodProxyRead) {
  const std::vector<YAML::Node> docs =
      YAML::LoadAllFromFile(std::string(KP_SOURCE_DIR) + "/deploy/rbac/coredns-metrics.yaml");
  ASSERT_EQ(docs.size(), 2u);
  const kube::Permission wanted = drivers::dns::coredns_metrics_permission();
  EXPECT_EQ(docs[0]["kind"].as<std::string>(), "Role");
  EXPECT_EQ(docs[0]["metadata"]["namespace"].as<std::string>(), wanted.ns);
  ASSERT_EQ(docs[0]["rules"].size(), 1u);
  EXPECT_EQ(docs[0]["rules"][0]["resources"][0].as<std::string>(), wanted.resource);
  EXPECT_EQ(docs[0]["rules"][0]["verbs"][0].as<std::string>(), wanted.verb);
  EXPECT_EQ(docs[0]["rules"][0]["verbs"].size(), 1u);
}

}  // namespace
}  // namespace kp::cluster
