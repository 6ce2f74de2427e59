// Agent pod, Service and PVC manifests.

#include "cluster/agent_pod.hpp"

#include <cctype>

#include <fmt/format.h>

#include "cluster/run.hpp"

namespace kp::cluster {
namespace {

json run_labels(std::string_view run_id) {
  return json{{std::string(kRunLabel), std::string(run_id)}, {"app.kubernetes.io/name", "kubeproof-agent"}};
}

// Selects one agent pod of this run: another run's agent of the same name never matches.
json agent_selector(std::string_view agent, std::string_view run_id) {
  return json{{std::string(kAgentLabel), std::string(agent)}, {std::string(kRunLabel), std::string(run_id)}};
}

std::string protocol_of(const std::string& name) {
  std::string upper;
  for (char c : name) {
    upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return upper;  // "TCP", "UDP", "SCTP"
}

// A port name must be unique in the pod and at most 15 characters: "tcp-7410".
std::string port_name(const std::string& protocol, int port) {
  std::string lower;
  for (char c : protocol) {
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return fmt::format("{}-{}", lower, port);
}

json env_from_field(std::string_view name, std::string_view path) {
  return json{{"name", std::string(name)}, {"valueFrom", {{"fieldRef", {{"fieldPath", std::string(path)}}}}}};
}

json pod_affinity_term(std::string_view agent, std::string_view run_id, const std::string& topology_key) {
  return json{{"labelSelector", {{"matchLabels", agent_selector(agent, run_id)}}},
              {"topologyKey", topology_key}};
}

std::string claim_size(std::uint64_t size) {
  constexpr std::uint64_t kKi = 1024;
  if (size > 0 && size % (kKi * kKi * kKi) == 0) {
    return fmt::format("{}Gi", size / (kKi * kKi * kKi));
  }
  if (size > 0 && size % (kKi * kKi) == 0) {
    return fmt::format("{}Mi", size / (kKi * kKi));
  }
  if (size > 0 && size % kKi == 0) {
    return fmt::format("{}Ki", size / kKi);
  }
  return fmt::format("{}", size);
}

}  // namespace

void spread_over_nodes(AgentPodSpec& spec, std::string_view group) {
  spec.agent = std::string(group);
  spec.placement.spread_from = std::string(group);
  spec.placement.topology_key = "kubernetes.io/hostname";
}

std::string_view build_architecture() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__i386__)
  return "386";
#else
#error "kubeproof: add this architecture's kubernetes.io/arch name"
#endif
}

std::map<std::string, std::string> agent_node_selector(const PodSettings& settings) {
  std::map<std::string, std::string> selector = {{"kubernetes.io/os", "linux"},
                                                 {"kubernetes.io/arch", std::string(build_architecture())}};
  for (const auto& [key, value] : settings.node_selector) {
    selector[key] = value;
  }
  return selector;
}

json agent_pod_manifest(const AgentPodSpec& spec, const AgentImage& image, const PodSettings& settings,
                        std::string_view ns, std::string_view run_id) {
  json labels = run_labels(run_id);
  for (const auto& [key, value] : spec.labels) {
    labels[key] = value;
  }
  labels[std::string(kAgentLabel)] = spec.agent;

  json container = {
      {"name", std::string(kAgentContainer)},
      {"image", spec.image.empty() ? image.reference : spec.image},
      {"imagePullPolicy", image.pull_policy.empty() ? "IfNotPresent" : image.pull_policy},
      {"args", spec.args},
      {"env", json::array(
                  {env_from_field("POD_NAME", "metadata.name"),
                   env_from_field("POD_NAMESPACE", "metadata.namespace"),
                   env_from_field("POD_IP", "status.podIP"), env_from_field("NODE_NAME", "spec.nodeName"),
                   env_from_field("HOST_IP", "status.hostIP"), json{{"name", "TMPDIR"}, {"value", "/tmp"}}})},
      {"volumeMounts", json::array({json{{"name", "tmp"}, {"mountPath", "/tmp"}}})},
  };
  if (!spec.ports.empty()) {
    json ports = json::array();
    for (const auto& [protocol, port] : spec.ports) {
      ports.push_back(json{
          {"name", port_name(protocol, port)}, {"containerPort", port}, {"protocol", protocol_of(protocol)}});
    }
    container["ports"] = std::move(ports);
    // A server is ready once it accepts: its EndpointSlice (and so a Service's rules) and wait_running
    // follow readiness, so no client connects before the agent listens.
    for (const auto& [protocol, port] : spec.ports) {
      if (protocol_of(protocol) == "TCP") {
        container["readinessProbe"] = {{"tcpSocket", {{"port", port}}}, {"periodSeconds", 1}};
        break;
      }
    }
  }
  if (!settings.resources.empty()) {
    container["resources"] = settings.resources;
  }
  json volumes = json::array({json{{"name", "tmp"}, {"emptyDir", json::object()}}});
  for (const VolumeMount& volume : spec.volumes) {
    json mount{{"name", volume.name}, {"mountPath", volume.mount_path}};
    if (volume.read_only) {
      mount["readOnly"] = true;
    }
    container["volumeMounts"].push_back(std::move(mount));
    if (!volume.host_path.empty()) {
      volumes.push_back(
          json{{"name", volume.name}, {"hostPath", {{"path", volume.host_path}, {"type", "Directory"}}}});
    } else if (!volume.claim_name.empty()) {
      volumes.push_back(
          json{{"name", volume.name}, {"persistentVolumeClaim", {{"claimName", volume.claim_name}}}});
    } else {
      json empty_dir = json::object();
      if (volume.memory) {
        empty_dir["medium"] = "Memory";
      }
      volumes.push_back(json{{"name", volume.name}, {"emptyDir", empty_dir}});
    }
  }

  json pod_security = json::object();
  if (settings.restricted) {
    // The restricted Pod Security profile, so the pods run in namespaces that enforce it.
    container["securityContext"] = {
        {"allowPrivilegeEscalation", false},
        {"capabilities", {{"drop", json::array({"ALL"})}}},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
    };
    pod_security = {
        {"runAsNonRoot", true},
        {"runAsUser", 65534},
        {"runAsGroup", 65534},
        {"seccompProfile", {{"type", "RuntimeDefault"}}},
    };
  }
  // fsGroup makes a PVC's and an emptyDir's files group-writable for the non-root agent (the kubelet
  // changes their ownership; hostPath volumes are the exception, see docs/cluster.md).
  if (spec.fs_group > 0) {
    pod_security["fsGroup"] = spec.fs_group;
  }
  if (spec.run_as_user && !settings.restricted) {
    pod_security["runAsUser"] = *spec.run_as_user;
    pod_security["runAsGroup"] = *spec.run_as_user;
    pod_security["runAsNonRoot"] = *spec.run_as_user != 0;
  }

  json pod_spec = {
      {"restartPolicy", "Never"},
      {"terminationGracePeriodSeconds",
       std::chrono::duration_cast<std::chrono::seconds>(kAgentGracePeriod).count()},
      {"serviceAccountName", std::string(kAgentServiceAccount)},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"containers", json::array({container})},
      {"volumes", volumes},
      {"securityContext", pod_security},
  };
  if (spec.host_network) {
    pod_spec["hostNetwork"] = true;
    // Keeps cluster DNS for a host-network pod (the default policy would give it the node's resolv.conf).
    pod_spec["dnsPolicy"] = "ClusterFirstWithHostNet";
  }
  if (!spec.placement.node_name.empty()) {
    pod_spec["nodeName"] = spec.placement.node_name;
  }
  pod_spec["nodeSelector"] = agent_node_selector(settings);
  if (!settings.tolerations.empty()) {
    pod_spec["tolerations"] = settings.tolerations;
  }
  if (!settings.priority_class.empty()) {
    pod_spec["priorityClassName"] = settings.priority_class;
  }
  json affinity = json::object();
  if (!settings.node_label_keys.empty()) {
    json terms = json::array();
    for (const std::string& key : settings.node_label_keys) {
      terms.push_back(json{{"matchExpressions", json::array({json{{"key", key}, {"operator", "Exists"}}})}});
    }
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] = terms;
  }
  if (spec.placement.away_from) {
    affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
        json::array({pod_affinity_term(*spec.placement.away_from, run_id, spec.placement.topology_key)});
  }
  if (spec.placement.next_to) {
    affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
        json::array({pod_affinity_term(*spec.placement.next_to, run_id, spec.placement.topology_key)});
  }
  if (spec.placement.spread_from) {
    affinity["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] =
        json::array({json{{"weight", 100},
                          {"podAffinityTerm", pod_affinity_term(*spec.placement.spread_from, run_id,
                                                                spec.placement.topology_key)}}});
  }
  if (!affinity.empty()) {
    pod_spec["affinity"] = std::move(affinity);
  }
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", spec.name}, {"namespace", std::string(ns)}, {"labels", labels}}},
              {"spec", pod_spec}};
}

json agent_service_manifest(std::string_view name, std::string_view agent,
                            const std::vector<std::pair<std::string, int>>& ports, std::string_view run_id) {
  json service_ports = json::array();
  for (const auto& [protocol, port] : ports) {
    service_ports.push_back(json{{"name", port_name(protocol, port)},
                                 {"protocol", protocol_of(protocol)},
                                 {"port", port},
                                 {"targetPort", port}});
  }
  return json{
      {"apiVersion", "v1"},
      {"kind", "Service"},
      {"metadata", {{"name", std::string(name)}, {"labels", run_labels(run_id)}}},
      {"spec",
       {{"type", "ClusterIP"}, {"selector", agent_selector(agent, run_id)}, {"ports", service_ports}}}};
}

json volume_claim_manifest(std::string_view name, std::string_view storage_class, std::uint64_t size,
                           std::string_view run_id) {
  json spec = {{"accessModes", json::array({"ReadWriteOnce"})},
               {"resources", {{"requests", {{"storage", claim_size(size)}}}}}};
  if (!storage_class.empty()) {
    spec["storageClassName"] = std::string(storage_class);
  }
  return json{{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", {{"name", std::string(name)}, {"labels", run_labels(run_id)}}},
              {"spec", spec}};
}

}  // namespace kp::cluster
