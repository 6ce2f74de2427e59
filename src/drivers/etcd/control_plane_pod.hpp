#pragma once

// The etcd phase from a control-plane pod (`etcd.settings.from: control-plane-pod`, --target cluster), worked
// out without a cluster (unit-tested): where etcd is from a kubeadm control-plane node, the agent pod that
// reaches it, the agent's flags for the phase's stages, and how its JSON line becomes the phase's result.
//
// etcd is not reachable through the Kubernetes API, and on most clusters not from anywhere but the
// control-plane nodes. The pod therefore runs there, as kubeadm lays it out:
//   - hostNetwork: etcd listens on the node's 127.0.0.1:2379 (client, TLS) and 127.0.0.1:2381 (/metrics,
//     plain http), kubeadm's --listen-client-urls and --listen-metrics-urls;
//   - placed on a node labelled node-role.kubernetes.io/control-plane or node-role.kubernetes.io/master,
//     whatever the value (kubeadm sets "", k3s and RKE "true"; required node affinity, operator Exists),
//     tolerating the NoSchedule taints of both keys;
//   - kubeadm's etcd client certificate read-only from the node through hostPath /etc/kubernetes/pki/etcd
//     (ca.crt, healthcheck-client.crt, healthcheck-client.key: the pair kubeadm made for etcd's own health
//     checks; the key is root's, mode 0600, so the agent runs as root, not under the restricted profile).
// Such a pod needs the privileged Pod Security level (host network, hostPath): its namespace is labelled
// pod-security.kubernetes.io/enforce=privileged, and a cluster whose policy refuses that (a validating
// webhook, Pod Security admission with a forced level) fails the phase with the admission's message.
//
// The agent writes and reads only keys under `key_prefix` ("kubeproof/" by default) and deletes them when it
// ends (its teardown), so the cluster's own keys are never touched.

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/agent_pod.hpp"
#include "core/error.hpp"
#include "drivers/etcd/etcd_phase.hpp"
#include "drivers/etcd/run_plan.hpp"
#include "drivers/etcd/settings.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::etcd {

inline constexpr std::string_view kControlPlaneLabel = "node-role.kubernetes.io/control-plane";
// The label and taint of control-plane nodes before Kubernetes 1.24 (k3s and RKE still set both).
inline constexpr std::string_view kLegacyMasterLabel = "node-role.kubernetes.io/master";
inline constexpr std::string_view kKubeadmPkiDir = "/etc/kubernetes/pki/etcd";
inline constexpr std::string_view kAgentPodName = "etcd-agent";
inline constexpr std::string_view kAgentLineKind = "kubeproof.agent.etcd";

// Where the agent finds etcd on the node: the settings' endpoints, metrics_url and certificates where given,
// else kubeadm's (https://127.0.0.1:2379; http://127.0.0.1:2381/metrics; the certificates above). An
// endpoint list of plain http:// endpoints uses no certificates unless the settings name them.
Endpoint control_plane_endpoint(const Settings& settings);

// The pod settings every etcd agent pod gets on top of the plan's `pods:`: the control-plane node affinity
// and tolerations added, the restricted profile off (root reads the key).
cluster::PodSettings control_plane_pod_settings(cluster::PodSettings settings);

// `kubeproof agent etcd` flags that run exactly the phase's steady stages: the resolved rate (or max), the
// phase's duration (write-then-read splits it as the phase does), the workload and the settings' sizes.
std::vector<std::string> agent_flags(const Settings& settings, const RunPlan& plan, Duration duration,
                                     const Endpoint& endpoint);

cluster::AgentPodSpec agent_pod(const Settings& settings, const RunPlan& plan, Duration duration);

// What the agent's line says, as the phase's result. ErrorKind::protocol when it is not an etcd agent line;
// the agent's own error (it printed {"error": ...}) keeps its kind: "network" (etcd did not answer) is
// ErrorKind::unavailable, so the phase is SKIPPED with it.
Result<engine::PhaseRun> parse_agent_line(const nlohmann::json& line);

}  // namespace kp::drivers::etcd
