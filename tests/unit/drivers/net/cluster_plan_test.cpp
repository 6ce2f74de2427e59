#include "drivers/net/cluster_plan.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::net {
namespace {

cluster::Node node(const std::string& name, const std::string& zone = "") {
  cluster::Node n;
  n.name = name;
  n.zone = zone;
  n.labels = {{"kubernetes.io/hostname", name}};
  if (!zone.empty()) {
    n.labels[std::string(kZoneLabel)] = zone;
  }
  return n;
}

Settings settings_from(const std::string& yaml) {
  Result<Settings> parsed = parse_settings(YAML::Load(yaml), "plans/x.yaml", "phases[2].settings");
  EXPECT_TRUE(parsed) << parsed.error().message;
  return parsed.value_or(Settings{});
}

const PlacementPlan& find(const std::vector<PlacementPlan>& plans, const std::string& name) {
  for (const PlacementPlan& plan : plans) {
    if (plan.name == name) {
      return plan;
    }
  }
  ADD_FAILURE() << "no placement " << name;
  return plans.front();
}

TEST(NetClusterPlan, TwoNodesRunBothAndCrossNodeIsJudged) {
  const std::vector<PlacementPlan> plans = plan_placements(Settings{}, {node("a"), node("b")});
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].name, "same-node");
  EXPECT_FALSE(plans[0].skipped);
  EXPECT_FALSE(plans[0].judged);
  EXPECT_FALSE(plans[0].client_away);
  EXPECT_EQ(plans[1].name, "cross-node");
  EXPECT_FALSE(plans[1].skipped);
  EXPECT_TRUE(plans[1].judged);
  EXPECT_TRUE(plans[1].client_away);
  EXPECT_EQ(plans[1].qualifier, "cross_node");
  EXPECT_EQ(plans[1].topology_key, "kubernetes.io/hostname");
}

// With one schedulable node the cross-node rows cannot be measured: SKIPPED with the reason, same-node runs
// and gives the judged rows.
TEST(NetClusterPlan, OneNodeSkipsCrossNodeAndJudgesSameNode) {
  const std::vector<PlacementPlan> plans = plan_placements(Settings{}, {node("only")});
  const PlacementPlan& cross = find(plans, "cross-node");
  ASSERT_TRUE(cross.skipped);
  EXPECT_EQ(*cross.skipped, "only one schedulable node (only): cross-node needs two");
  EXPECT_FALSE(cross.judged);
  const PlacementPlan& same = find(plans, "same-node");
  EXPECT_FALSE(same.skipped);
  EXPECT_TRUE(same.judged);
}

TEST(NetClusterPlan, NoNodeSkipsEverything) {
  for (const PlacementPlan& plan : plan_placements(Settings{}, {})) {
    ASSERT_TRUE(plan.skipped) << plan.name;
    EXPECT_EQ(*plan.skipped, "no schedulable node");
    EXPECT_FALSE(plan.judged);
  }
}

TEST(NetClusterPlan, CrossZoneNeedsTwoZonesAndUsesTheZoneKey) {
  const Settings settings = settings_from("placements: [same-node, cross-zone]");
  const std::vector<PlacementPlan> one_zone = plan_placements(settings, {node("a", "z1"), node("b", "z1")});
  ASSERT_TRUE(find(one_zone, "cross-zone").skipped);
  EXPECT_EQ(*find(one_zone, "cross-zone").skipped,
            "the schedulable nodes are all in zone z1: cross-zone needs two");
  EXPECT_TRUE(find(one_zone, "same-node").judged);

  const std::vector<PlacementPlan> no_zone = plan_placements(settings, {node("a"), node("b")});
  EXPECT_NE(find(no_zone, "cross-zone").skipped.value_or("").find("topology.kubernetes.io/zone"),
            std::string::npos);

  const std::vector<PlacementPlan> two = plan_placements(settings, {node("a", "z1"), node("b", "z2")});
  const PlacementPlan& zone = find(two, "cross-zone");
  EXPECT_FALSE(zone.skipped);
  EXPECT_TRUE(zone.client_away);
  EXPECT_EQ(zone.topology_key, "topology.kubernetes.io/zone");
  // Without cross-node in the plan, same-node is judged before cross-zone.
  EXPECT_TRUE(find(two, "same-node").judged);
  EXPECT_FALSE(zone.judged);
}

TEST(NetClusterPlan, HostNetworkBaselineIsLastAndNeverJudged) {
  const Settings settings = settings_from("host_network_baseline: true");
  const std::vector<PlacementPlan> plans = plan_placements(settings, {node("a"), node("b")});
  ASSERT_EQ(plans.size(), 3u);
  EXPECT_EQ(plans[2].name, "host-network");
  EXPECT_TRUE(plans[2].host_network);
  EXPECT_FALSE(plans[2].judged);
  EXPECT_TRUE(plans[2].client_away);  // between the nodes when there are two
  EXPECT_FALSE(plan_placements(settings, {node("a")})[2].client_away);
}

TEST(NetClusterPlan, ServerPodListensOnTheOnePortForTcpAndUdp) {
  const PlacementPlan placement = plan_placements(Settings{}, {node("a"), node("b")})[1];
  const cluster::AgentPodSpec server = server_pod(placement, 0);
  EXPECT_EQ(server.name, "net-server-cross-node-0");
  EXPECT_EQ(server.agent, server.name);
  EXPECT_EQ(server.args, (std::vector<std::string>{"net-server", "--listen", ":7410"}));
  EXPECT_EQ(server.ports, (std::vector<std::pair<std::string, int>>{{"tcp", 7410}, {"udp", 7410}}));
  EXPECT_FALSE(server.host_network);
  EXPECT_EQ(service_ports(), server.ports);
  EXPECT_EQ(service_name(placement, 1), "net-svc-cross-node-1");
}

TEST(NetClusterPlan, ClientIsPlacedRelativeToItsOwnServer) {
  const std::vector<PlacementPlan> plans = plan_placements(Settings{}, {node("a"), node("b")});
  const cluster::AgentPodSpec away = client_pod(plans[1], 1, 7, {"--server", "10.0.0.5:7410"});
  EXPECT_EQ(away.name, "net-client-cross-node-7");
  EXPECT_EQ(away.args, (std::vector<std::string>{"net-client", "--server", "10.0.0.5:7410"}));
  ASSERT_TRUE(away.placement.away_from);
  EXPECT_EQ(*away.placement.away_from, "net-server-cross-node-1");
  EXPECT_FALSE(away.placement.next_to);
  EXPECT_EQ(away.placement.topology_key, "kubernetes.io/hostname");

  const cluster::AgentPodSpec beside = client_pod(plans[0], 0, 8, {});
  ASSERT_TRUE(beside.placement.next_to);
  EXPECT_EQ(*beside.placement.next_to, "net-server-same-node-0");
  EXPECT_FALSE(beside.placement.away_from);

  const cluster::AgentPodSpec probe = probe_pod(plans[1]);
  EXPECT_EQ(probe.placement.next_to.value_or(""), "net-server-cross-node-0");
}

TEST(NetClusterPlan, HostNetworkServersOfOneNodeGetTheirOwnPorts) {
  const Settings settings = settings_from("host_network_baseline: true\npairs: 2\nstreams: 2");
  const PlacementPlan host = plan_placements(settings, {node("a")}).back();
  EXPECT_EQ(server_pod(host, 0).args.back(), ":7410");
  EXPECT_EQ(server_pod(host, 1).args.back(), ":7411");
  EXPECT_TRUE(server_pod(host, 1).host_network);
}

TEST(NetClusterSettings, PlacementsAreCheckedByName) {
  Result<Settings> bad =
      parse_settings(YAML::Load("placements: [same-node, across]"), "plans/x.yaml", "phases[2].settings");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("phases[2].settings.placements[1]"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("\"across\""), std::string::npos) << bad.error().message;
  Result<Settings> twice =
      parse_settings(YAML::Load("placements: [same-node, same-node]"), "plans/x.yaml", "phases[2].settings");
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("listed twice"), std::string::npos) << twice.error().message;
  Result<Settings> pairs = parse_settings(YAML::Load("pairs: 0"), "plans/x.yaml", "phases[2].settings");
  ASSERT_FALSE(pairs);
  EXPECT_NE(pairs.error().message.find("phases[2].settings.pairs"), std::string::npos)
      << pairs.error().message;
}

TEST(NetClusterPlan, DryRunSaysWhatIsCreated) {
  const std::vector<std::string> lines = describe_cluster(Settings{}, false);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("same-node, cross-node"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("ClusterIP Service each (7410/TCP and 7410/UDP)"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace kp::drivers::net
