#include "drivers/dns/cluster_mix.hpp"

#include <map>

#include <gtest/gtest.h>

#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

std::vector<json> services() {
  return {json::parse(R"({"metadata": {"name": "web", "namespace": "shop"},
                          "spec": {"type": "ClusterIP", "clusterIP": "10.96.3.4",
                                   "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})"),
          json::parse(R"({"metadata": {"name": "db", "namespace": "shop"},
                          "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}})"),
          json::parse(R"({"metadata": {"name": "ext", "namespace": "shop"},
                          "spec": {"type": "ExternalName", "externalName": "example.org"}})")};
}

std::vector<json> pods() {
  return {json::parse(R"({"metadata": {"name": "web-1", "namespace": "shop"},
                          "spec": {}, "status": {"phase": "Running", "podIP": "10.244.1.7"}})"),
          json::parse(R"({"metadata": {"name": "node-agent", "namespace": "kube-system"},
                          "spec": {"hostNetwork": true}, "status": {"phase": "Running", "podIP": "192.168.0.2"}})"),
          json::parse(R"({"metadata": {"name": "job-1", "namespace": "shop"},
                          "spec": {}, "status": {"phase": "Succeeded", "podIP": "10.244.1.8"}})"),
          json::parse(R"({"metadata": {"name": "pending", "namespace": "shop"}, "spec": {}, "status": {}})")};
}

TEST(ClusterMix, ReadsServicesAndRunningPodsFromTheApi) {
  const ClusterNames names = read_cluster_names(services(), pods());
  ASSERT_EQ(names.services.size(), 2u);  // ExternalName left out
  EXPECT_EQ(names.services[0].name, "web");
  EXPECT_EQ(names.services[0].named_ports,
            (std::vector<std::pair<std::string, std::string>>{{"http", "tcp"}}));
  EXPECT_TRUE(names.services[1].named_ports.empty());
  // Host-network, finished and IP-less pods are not pod names.
  EXPECT_EQ(names.pods, (std::vector<std::pair<std::string, std::string>>{{"shop", "10.244.1.7"}}));
}

// A list item whose fields are of another type than the API's is passed over, never an exception.
TEST(ClusterMix, GarbledItemsArePassedOverWithoutAnException) {
  std::vector<json> garbled_services = services();
  for (const char* text :
       {R"({"metadata": {"name": 5, "namespace": "shop"}})", R"({"metadata": "x"})", R"([1, 2])",
        R"({"metadata": {"name": "api", "namespace": "shop"},
                               "spec": {"type": 3, "ports": [{"name": 80}, "http", {"name": "grpc", "protocol": 6}]}})"}) {
    garbled_services.push_back(json::parse(text));
  }
  std::vector<json> garbled_pods = pods();
  for (const char* text : {R"({"status": {"phase": "Running", "podIP": 10}})", R"({"spec": [], "status": 7})",
                           R"({"metadata": {"namespace": "shop"}, "spec": {"hostNetwork": "yes"},
                               "status": {"phase": "Running", "podIP": "10.244.1.9"}})"}) {
    garbled_pods.push_back(json::parse(text));
  }
  ClusterNames names;
  ASSERT_NO_THROW(names = read_cluster_names(garbled_services, garbled_pods));
  ASSERT_EQ(names.services.size(), 3u);
  EXPECT_EQ(names.services[2].name, "api");
  EXPECT_EQ(names.services[2].named_ports,
            (std::vector<std::pair<std::string, std::string>>{{"grpc", "tcp"}}));
  EXPECT_EQ(names.pods, (std::vector<std::pair<std::string, std::string>>{{"shop", "10.244.1.7"},
                                                                          {"shop", "10.244.1.9"}}));
}

TEST(ClusterMix, AsksRealNamesInTheStatedShares) {
  const ClusterMix mix =
      cluster_mix(read_cluster_names(services(), pods()), "cluster.local", {"example.com"}, 200);
  ASSERT_EQ(mix.queries.size(), 200u);
  std::map<std::string, int> kinds;
  for (const QuerySpec& q : mix.queries) {
    if (q.name == "kubernetes.default") {
      ++kinds["kubernetes"];
    } else if (q.type == type::srv) {
      EXPECT_EQ(q.name, "_http._tcp.web.shop.svc.cluster.local");
      ++kinds["srv"];
    } else if (q.type == type::aaaa) {
      EXPECT_TRUE(q.name == "web.shop" || q.name == "db.shop") << q.name;
      ++kinds["aaaa"];
    } else if (q.name.ends_with(".pod.cluster.local")) {
      EXPECT_EQ(q.name, "10-244-1-7.shop.pod.cluster.local");
      ++kinds["pod"];
    } else if (q.name == "example.com") {
      ++kinds["external"];
    } else if (q.name.starts_with("kubeproof-absent-")) {
      EXPECT_TRUE(q.name.ends_with(".shop")) << q.name;
      ++kinds["nxdomain"];
    } else {
      EXPECT_TRUE(q.name == "web.shop" || q.name == "db.shop") << q.name;
      EXPECT_EQ(q.type, type::a);
      ++kinds["service"];
    }
  }
  const std::map<std::string, int> expected{{"service", 80}, {"kubernetes", 20}, {"aaaa", 20},    {"srv", 20},
                                            {"pod", 20},     {"external", 20},   {"nxdomain", 20}};
  EXPECT_EQ(kinds, expected);
  EXPECT_NE(mix.description.find("over 2 Services and 1 pods"), std::string::npos) << mix.description;
  EXPECT_NE(mix.description.find("deliberate NXDOMAIN 10 %"), std::string::npos) << mix.description;
  // Every name is a valid DNS name (the agent prepares them all).
  for (const QuerySpec& q : mix.queries) {
    EXPECT_TRUE(encode_name(q.name)) << q.name;
  }
}

TEST(ClusterMix, AnEmptyClusterStillHasTheKubernetesService) {
  const ClusterMix mix = cluster_mix(ClusterNames{}, "cluster.local", {}, 20);
  for (const QuerySpec& q : mix.queries) {
    // No pods, no external names: their shares ask Services instead, and only the API server's exists.
    EXPECT_TRUE(q.name == "kubernetes.default" || q.name.starts_with("kubeproof-absent-") ||
                q.name.starts_with("_https._tcp.kubernetes.default.svc.") || q.name == "kubernetes.default")
        << q.name;
  }
}

}  // namespace
}  // namespace kp::drivers::dns
