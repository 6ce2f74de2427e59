#pragma once

// The network phase on --target cluster, worked out without a cluster (unit-tested): which placements run
// on the cluster's schedulable nodes and which are SKIPPED with the reason, which one gives the judged rows,
// and the agent pods and Services each placement creates (cluster/agent_pod.hpp).
//
// Placements (k8s-netperf's matrix), each a server pod per pair and a client pod per pair and test:
//   same-node   the client has required pod affinity to its server (kubernetes.io/hostname)
//   cross-node  required pod anti-affinity to its server on kubernetes.io/hostname: needs two nodes
//   cross-zone  anti-affinity on topology.kubernetes.io/zone: needs nodes in two zones; only when asked
//   host-network (host_network_baseline) hostNetwork server and client pods, cross-node when there are two
//               nodes: the path without the CNI, so the report can say what the CNI costs
// The judged rows (net.pod_to_pod.*) come from cross-node when it runs, else same-node, else cross-zone:
// traffic between nodes is what a workload sees. Every placement also gives its own rows (phase_flow.hpp).
//
// Pods and Services: each server pod listens on kAgentPort (TCP: control and data; UDP: datagrams; all on
// one port), and gets its own ClusterIP Service with kAgentPort/TCP and kAgentPort/UDP: a Service in front of
// two servers would split one test's connections between them. Stress adds a probe server beside server 0.

#include <optional>
#include <string>
#include <vector>

#include "cluster/agent_pod.hpp"
#include "cluster/pod_runner.hpp"
#include "drivers/net/settings.hpp"

namespace kp::drivers::net {

inline constexpr int kAgentPort = 7410;
inline constexpr std::string_view kZoneLabel = "topology.kubernetes.io/zone";
inline constexpr std::string_view kHostnameLabel = "kubernetes.io/hostname";

struct PlacementPlan {
  std::string name;                    // "same-node", "cross-node", "cross-zone", "host-network"
  std::string qualifier;               // "same_node", ...: the rows' middle part
  std::optional<std::string> skipped;  // why it is not measured (then nothing of it is created)
  bool judged = false;                 // the catalog's rows come from it
  bool host_network = false;
  bool client_away = false;  // anti-affinity (cross-*); otherwise affinity (same-node)
  std::string topology_key = std::string(kHostnameLabel);
};

// In settings order (host-network last). With no schedulable node every placement is skipped.
std::vector<PlacementPlan> plan_placements(const Settings& settings, const std::vector<cluster::Node>& nodes);

// The port a server of `placement` listens on: kAgentPort, or kAgentPort + pair on the host network (two
// hostNetwork servers on one node share its ports).
int server_port(const PlacementPlan& placement, int pair);

std::string server_agent(const PlacementPlan& placement, int pair);  // "net-server-cross-node-0"
std::string probe_agent(const PlacementPlan& placement);             // "net-probe-cross-node"
std::string service_name(const PlacementPlan& placement, int pair);  // "net-svc-cross-node-0"

cluster::AgentPodSpec server_pod(const PlacementPlan& placement, int pair);
// Stress: the TCP_RR's server beside each stream step, on server 0's node (affinity).
cluster::AgentPodSpec probe_pod(const PlacementPlan& placement);
// A client of pair `pair`, placed relative to that pair's server; `sequence` keeps names unique in the run
// (a deleted pod keeps its name while it terminates). `flags` follow `net-client`.
cluster::AgentPodSpec client_pod(const PlacementPlan& placement, int pair, int sequence,
                                 const std::vector<std::string>& flags);

// The ports of a server's Service: kAgentPort/TCP and kAgentPort/UDP.
std::vector<std::pair<std::string, int>> service_ports();

// For --dry-run: what the phase creates on the cluster.
std::vector<std::string> describe_cluster(const Settings& settings, bool stress);

}  // namespace kp::drivers::net
