#include "drivers/net/cluster_plan.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>

namespace kp::drivers::net {
namespace {

std::string qualifier_of(std::string_view name) {
  std::string out(name);
  std::ranges::replace(out, '-', '_');
  return out;
}

std::string node_names(const std::vector<cluster::Node>& nodes) {
  std::string out;
  for (const cluster::Node& node : nodes) {
    out += (out.empty() ? "" : ", ") + node.name;
  }
  return out;
}

}  // namespace

std::vector<PlacementPlan> plan_placements(const Settings& settings,
                                           const std::vector<cluster::Node>& nodes) {
  std::set<std::string> zones;
  for (const cluster::Node& node : nodes) {
    if (!node.zone.empty()) {
      zones.insert(node.zone);
    }
  }
  std::vector<PlacementPlan> out;
  for (const std::string& name : settings.placements) {
    PlacementPlan placement;
    placement.name = name;
    placement.qualifier = qualifier_of(name);
    placement.client_away = name != "same-node";
    if (name == "cross-zone") {
      placement.topology_key = std::string(kZoneLabel);
    }
    if (nodes.empty()) {
      placement.skipped = "no schedulable node";
    } else if (name == "cross-node" && nodes.size() < 2) {
      placement.skipped =
          fmt::format("only one schedulable node ({}): cross-node needs two", node_names(nodes));
    } else if (name == "cross-zone" && zones.size() < 2) {
      placement.skipped =
          zones.empty()
              ? fmt::format("no schedulable node carries {}: cross-zone needs nodes in two zones", kZoneLabel)
              : fmt::format("the schedulable nodes are all in zone {}: cross-zone needs two", *zones.begin());
    }
    out.push_back(std::move(placement));
  }
  for (const std::string_view preferred : {"cross-node", "same-node", "cross-zone"}) {
    auto found =
        std::ranges::find_if(out, [&](const PlacementPlan& p) { return p.name == preferred && !p.skipped; });
    if (found != out.end()) {
      found->judged = true;
      break;
    }
  }
  if (settings.host_network_baseline) {
    PlacementPlan host;
    host.name = "host-network";
    host.qualifier = "host_network";
    host.host_network = true;
    host.client_away = nodes.size() >= 2;
    if (nodes.empty()) {
      host.skipped = "no schedulable node";
    }
    out.push_back(std::move(host));
  }
  return out;
}

int server_port(const PlacementPlan& placement, int pair) {
  return placement.host_network ? kAgentPort + pair : kAgentPort;
}

std::string server_agent(const PlacementPlan& placement, int pair) {
  return fmt::format("net-server-{}-{}", placement.name, pair);
}

std::string probe_agent(const PlacementPlan& placement) {
  return fmt::format("net-probe-{}", placement.name);
}

std::string service_name(const PlacementPlan& placement, int pair) {
  return fmt::format("net-svc-{}-{}", placement.name, pair);
}

std::vector<std::pair<std::string, int>> service_ports() {
  return {{"tcp", kAgentPort}, {"udp", kAgentPort}};
}

cluster::AgentPodSpec server_pod(const PlacementPlan& placement, int pair) {
  cluster::AgentPodSpec spec;
  spec.name = server_agent(placement, pair);
  spec.agent = spec.name;
  const int port = server_port(placement, pair);
  spec.args = {"net-server", "--listen", fmt::format(":{}", port)};
  spec.labels = {{"kubeproof.io/role", "net-server"}, {"kubeproof.io/placement", placement.name}};
  spec.ports = {{"tcp", port}, {"udp", port}};
  spec.host_network = placement.host_network;
  return spec;
}

cluster::AgentPodSpec probe_pod(const PlacementPlan& placement) {
  cluster::AgentPodSpec spec;
  spec.name = probe_agent(placement);
  spec.agent = spec.name;
  const int port = placement.host_network ? kAgentPort + 100 : kAgentPort;
  spec.args = {"net-server", "--listen", fmt::format(":{}", port)};
  spec.labels = {{"kubeproof.io/role", "net-server"}, {"kubeproof.io/placement", placement.name}};
  spec.ports = {{"tcp", port}, {"udp", port}};
  spec.host_network = placement.host_network;
  spec.placement.next_to = server_agent(placement, 0);
  return spec;
}

cluster::AgentPodSpec client_pod(const PlacementPlan& placement, int pair, int sequence,
                                 const std::vector<std::string>& flags) {
  cluster::AgentPodSpec spec;
  spec.name = fmt::format("net-client-{}-{}", placement.name, sequence);
  spec.agent = spec.name;
  spec.args = {"net-client"};
  spec.args.insert(spec.args.end(), flags.begin(), flags.end());
  spec.labels = {{"kubeproof.io/role", "net-client"}, {"kubeproof.io/placement", placement.name}};
  spec.host_network = placement.host_network;
  if (placement.client_away) {
    spec.placement.away_from = server_agent(placement, pair);
  } else {
    spec.placement.next_to = server_agent(placement, pair);
  }
  spec.placement.topology_key = placement.topology_key;
  return spec;
}

std::vector<std::string> describe_cluster(const Settings& settings, bool stress) {
  std::vector<std::string> lines;
  std::string placements;
  for (const std::string& name : settings.placements) {
    placements += (placements.empty() ? "" : ", ") + name;
  }
  lines.push_back(fmt::format(
      "creates, per placement ({}{}): {} net-server pod{} with a ClusterIP Service each ({}/TCP and "
      "{}/UDP){}, "
      "then one net-client pod per pair and test (TCP_STREAM, TCP_RR to the pod and to the Service, UDP_RR, "
      "TCP_CRR), deleted after each test; a placement the nodes cannot give is SKIPPED",
      placements, settings.host_network_baseline ? ", host-network baseline" : "", settings.pairs,
      settings.pairs == 1 ? "" : "s", kAgentPort, kAgentPort,
      stress ? " and a probe server pod (stress)" : ""));
  return lines;
}

}  // namespace kp::drivers::net
