#pragma once

// What an agent pod is: the kubeproof agent image running `kubeproof agent <args>` (the image's entrypoint;
// the manifest sets only args), placed, secured and sized by the plan, as one Pod manifest. Pure functions
// (no I/O), so the manifests are unit-tested as JSON.
//
// Every pod the runner makes has the restricted Pod Security profile by default: runAsNonRoot, UID/GID
// 65534, all capabilities dropped, no privilege escalation, read-only root filesystem, seccomp
// RuntimeDefault; a writable emptyDir at /tmp (TMPDIR) for the agent's work files. restartPolicy Never: an
// agent runs once and its exit code and one JSON line are its result. No ServiceAccount token is mounted and
// no Service environment variables are injected (enableServiceLinks false): an agent talks to no API.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::cluster {

using nlohmann::json;

inline constexpr std::string_view kAgentServiceAccount = "kubeproof-agent";
inline constexpr std::string_view kAgentContainer = "agent";
// terminationGracePeriodSeconds of every agent pod: the time from a deletion's SIGTERM (a cancelled phase) to
// SIGKILL, in which an agent ends its window and prints what it measured (the API's default, stated so the
// runner's bound on that wait follows the pod's).
inline constexpr Duration kAgentGracePeriod = std::chrono::seconds(30);

// An image reference split by Docker's reference grammar: [registry[:port]/]path[:tag][@digest].
struct ImageReference {
  std::string registry;    // "registry.local:5000"; "" when the reference names none (the runtime's default)
  std::string repository;  // "team/kubeproof-agent" (lowercase path components)
  std::string tag;         // "0.1.0-1a2b3c4"; "" when absent
  std::string digest;      // "sha256:<64 hex>"; "" when absent
  // The last path component: "kubeproof-agent".
  std::string name() const;
};
// ErrorKind::usage naming `flag` and echoing the value: `--agent-image: not an image reference
// ([registry/]path[:tag][@digest]), got "Bad//Ref"`.
Result<ImageReference> parse_image_reference(std::string_view reference, std::string_view flag);

// --agent-image, --storage-agent-image and --image-pull-policy, checked.
struct AgentImage {
  std::string reference;          // "registry.local/kubeproof-agent:0.1.0-1a2b3c4": net, dns, http agents
  std::string pull_policy;        // "IfNotPresent" | "Always" | "Never"
  std::string storage_reference;  // the image with fio, for the storage agent ("" = `reference`)
  static constexpr std::string_view kDefaultName = "kubeproof-agent";
  static constexpr std::string_view kDefaultStorageName = "kubeproof-agent-storage";
  // The image the storage agent runs: storage_reference, else reference.
  const std::string& storage() const { return storage_reference.empty() ? reference : storage_reference; }
};
// The default references: kubeproof-agent:<version>-<git hash> and kubeproof-agent-storage:<version>-<git
// hash> (what scripts/build-agent-image.sh tags; the storage image adds fio to the small one).
std::string default_agent_image();
std::string default_storage_agent_image();
// The storage variant of an image reference, as the two images are named and tagged together: "-storage"
// appended to the last path component, registry and tag kept, a digest dropped (it names one image only):
// "reg:5000/team/kubeproof-agent:1@sha256:..." -> "reg:5000/team/kubeproof-agent-storage:1". The reference
// as given when it does not parse (parse_agent_image reports it).
std::string storage_variant(std::string_view reference);
// "" or an unparsable reference, or a policy other than the three: ErrorKind::usage naming the flag and the
// value. An empty `storage_reference` stays empty (the storage agent then runs `reference`).
Result<AgentImage> parse_agent_image(std::string_view reference, std::string_view pull_policy,
                                     std::string_view storage_reference = {});

// Plan settings every agent pod of a phase shares (`<phase>.settings.pods`, see read_pod_settings).
struct PodSettings {
  std::map<std::string, std::string> node_selector;
  json tolerations = json::array();                  // as the Pod API takes them
  json resources = json::object();                   // {"requests": {...}, "limits": {...}}
  std::string priority_class;                        // "" = none
  Duration start_timeout = std::chrono::minutes(2);  // agent_start_timeout: Pending -> Running
  // start_lead: how far ahead of its agents' creation the runner sets their shared start time (--start-at):
  // long enough for every pod of a test to be scheduled, pulled and Running. Unset: PodRunner::start_lead().
  std::optional<Duration> start_lead;
  bool restricted = true;  // the restricted security context above; false: the image's defaults
  // Set by a phase, not read from a plan: only nodes that carry one of these label keys, whatever its value
  // (required node affinity, one term per key, operator Exists). Empty: any node.
  std::vector<std::string> node_label_keys;
};
// The architecture of this build, as Kubernetes names it in the node label kubernetes.io/arch ("amd64",
// "arm64", ...): the agent image's, since scripts/build-agent-image.sh packs this binary.
std::string_view build_architecture();
// The node selector every agent pod gets: kubernetes.io/os=linux (the agent is a Linux binary; mixed clusters
// have Windows nodes) and kubernetes.io/arch=build_architecture(), then the plan's node_selector, whose keys
// win (kubernetes.io/arch: arm64 for an agent image built on another machine). The runner's node list filters
// by it too, so a node picked by name is one the pod may run on.
std::map<std::string, std::string> agent_node_selector(const PodSettings& settings);
// Reads `pods: {node_selector, tolerations, resources, priority_class, agent_start_timeout, start_lead,
// restricted}` (the
// field itself, e.g. `network.settings.pods`; a null field gives the defaults). Errors are ErrorKind::input
// with file:line, the field's path and the value:
//   `plans/x.yaml:12: network.settings.pods.tolerations[0].operator: must be one of: Exists, Equal, got
//   "In"`.
Result<PodSettings> read_pod_settings(const config::YamlField& pods);
// The same from JSON (the `pods` node converted), naming `file` and `path` in errors but no line: prefer the
// YamlField form, which has the plan's line numbers.
Result<PodSettings> read_pod_settings(const json& settings, std::string_view file, std::string_view path);

// Where a pod may go, relative to other agent pods of the run (selected by the label kubeproof.io/agent).
struct Placement {
  std::string node_name;                 // pinned to a node ("" = the scheduler decides)
  std::optional<std::string> away_from;  // required anti-affinity to pods with kubeproof.io/agent=<value>
  std::optional<std::string> next_to;    // required affinity to pods with kubeproof.io/agent=<value>
  // preferred anti-affinity (weight 100) to pods with kubeproof.io/agent=<value>: agents that share the load
  // go to different nodes where there are enough, and still all run where there are not.
  std::optional<std::string> spread_from;
  std::string topology_key = "kubernetes.io/hostname";  // or topology.kubernetes.io/zone
};

struct VolumeMount {
  std::string name;
  std::string mount_path;
  std::string claim_name;  // a PersistentVolumeClaim; "" = emptyDir
  bool memory = false;     // emptyDir medium Memory (only for a baseline that says it is not a disk)
  std::string host_path;   // a directory of the node (type Directory: it must exist); "" = not hostPath
  bool read_only = false;
};

struct AgentPodSpec {
  std::string name;                           // DNS-1123 label
  std::string agent;                          // value of the kubeproof.io/agent label ("net-server-0")
  std::vector<std::string> args;              // after `kubeproof agent`: {"net-server", "--listen", ...}
  std::map<std::string, std::string> labels;  // extra labels (the runner adds kubeproof.io/run and /agent)
  std::vector<std::pair<std::string, int>> ports;  // {"tcp", 7410}, {"udp", 7410}; the first TCP port gets a
                                                   // readinessProbe (tcpSocket): ready = accepting
  std::vector<VolumeMount> volumes;
  Placement placement;
  bool host_network = false;  // a baseline: the node's network, no CNI
  int fs_group = 65534;       // so a PVC is writable by the non-root agent (not hostPath!)
  // The agent's user, set in the pod's securityContext (with PodSettings::restricted false): 0 reads a
  // node's root-only files through a hostPath volume. Unset: the restricted profile's 65534, or the image's.
  std::optional<int> run_as_user;
  std::string image;  // "" = AgentImage::reference; the storage agent passes AgentImage::storage()
};

// The placement of agents that share one test's load (the dns phase's agents, the ingress phase's from:
// pods): every pod of `group` is labelled kubeproof.io/agent=<group> and prefers (preferred pod
// anti-affinity, weight 100, kubernetes.io/hostname) nodes that hold no other pod of the group: different
// nodes where there are enough, and all of them still run where there are not. The scheduler decides, so
// node selectors, taints, resources and cordons are honoured as for any pod (pinning by nodeName would
// bypass them).
void spread_over_nodes(AgentPodSpec& spec, std::string_view group);

// The Pod object for `spec` in `ns`, with the run's label. Env: POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME,
// HOST_IP (downward API), TMPDIR=/tmp; thread sizing is the agent's own (it reads its cgroup's cpu.max).
json agent_pod_manifest(const AgentPodSpec& spec, const AgentImage& image, const PodSettings& settings,
                        std::string_view ns, std::string_view run_id);

// A ClusterIP Service selecting exactly one agent pod (kubeproof.io/agent=<agent> of this run): one Service
// per server pod, because a Service in front of two servers splits one test's connections between them.
json agent_service_manifest(std::string_view name, std::string_view agent,
                            const std::vector<std::pair<std::string, int>>& ports, std::string_view run_id);

// A PVC of `storage_class` ("" = the cluster's default class: the field is left out), ReadWriteOnce, `size`
// bytes (written as Gi/Mi/Ki when exact).
json volume_claim_manifest(std::string_view name, std::string_view storage_class, std::uint64_t size,
                           std::string_view run_id);

}  // namespace kp::cluster
