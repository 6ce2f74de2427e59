#include "drivers/etcd/control_plane_pod.hpp"

#include "core/measurement_json.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kp::drivers::etcd {
namespace {

// kubeadm's etcd static pod: --listen-client-urls=https://127.0.0.1:2379,https://<node ip>:2379 and
// --listen-metrics-urls=http://127.0.0.1:2381.
constexpr std::string_view kKubeadmEndpoint = "https://127.0.0.1:2379";
constexpr std::string_view kKubeadmMetrics = "http://127.0.0.1:2381/metrics";

std::string millis(Duration duration) {
  return fmt::format("{}ms", std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

bool all_plain_http(const std::vector<std::string>& endpoints) {
  return std::ranges::all_of(endpoints, [](const std::string& e) { return e.starts_with("http://"); });
}

ErrorKind kind_named(std::string_view name) {
  if (name == "network" || name == "unavailable") {
    return ErrorKind::unavailable;  // etcd did not answer from the node: the phase is SKIPPED with it
  }
  if (name == "usage" || name == "input") {
    return ErrorKind::input;
  }
  if (name == "timeout") {
    return ErrorKind::timeout;
  }
  if (name == "cancelled") {
    return ErrorKind::cancelled;
  }
  return ErrorKind::protocol;
}

}  // namespace

Endpoint control_plane_endpoint(const Settings& settings) {
  Endpoint endpoint;
  endpoint.endpoints = settings.endpoints.empty() ? std::vector<std::string>{std::string(kKubeadmEndpoint)}
                                                  : settings.endpoints;
  endpoint.tls = settings.tls;
  if (!endpoint.tls.enabled() && !all_plain_http(endpoint.endpoints)) {
    const std::filesystem::path pki(kKubeadmPkiDir);
    endpoint.tls = TlsFiles{.ca_file = pki / "ca.crt",
                            .cert_file = pki / "healthcheck-client.crt",
                            .key_file = pki / "healthcheck-client.key"};
  }
  endpoint.metrics_url = settings.metrics_url;
  if (endpoint.metrics_url.empty()) {
    endpoint.metrics_url = settings.endpoints.empty() ? std::string(kKubeadmMetrics)
                                                      : default_metrics_url(endpoint.endpoints, endpoint.tls);
  }
  return endpoint;
}

cluster::PodSettings control_plane_pod_settings(cluster::PodSettings settings) {
  settings.node_label_keys = {std::string(kControlPlaneLabel), std::string(kLegacyMasterLabel)};
  for (std::string_view key : {kControlPlaneLabel, kLegacyMasterLabel}) {
    const cluster::json toleration = {
        {"key", std::string(key)}, {"operator", "Exists"}, {"effect", "NoSchedule"}};
    if (std::find(settings.tolerations.begin(), settings.tolerations.end(), toleration) ==
        settings.tolerations.end()) {
      settings.tolerations.push_back(toleration);
    }
  }
  settings.restricted = false;
  return settings;
}

std::vector<std::string> agent_flags(const Settings& settings, const RunPlan& plan, Duration duration,
                                     const Endpoint& endpoint) {
  std::vector<std::string> args = {"etcd", "--endpoints",
                                   fmt::format("{}", fmt::join(endpoint.endpoints, ","))};
  auto add = [&](std::string_view flag, std::string value) {
    args.emplace_back(flag);
    args.push_back(std::move(value));
  };
  if (!endpoint.tls.ca_file.empty()) {
    add("--cacert", endpoint.tls.ca_file.string());
  }
  if (!endpoint.tls.cert_file.empty()) {
    add("--cert", endpoint.tls.cert_file.string());
  }
  if (!endpoint.tls.key_file.empty()) {
    add("--key", endpoint.tls.key_file.string());
  }
  add("--metrics-url", endpoint.metrics_url.empty() ? std::string("none") : endpoint.metrics_url);
  add("--workload", std::string(to_string(settings.workload)));
  add("--read-ratio", fmt::format("{}%", settings.read_fraction * 100));
  add("--consistency", settings.serializable ? "s" : "l");
  // Every steady stage runs at the one resolved rate (write-then-read: both halves), as in plan_run.
  const std::optional<Rate> rate = plan.stages.empty() ? std::nullopt : plan.stages.front().rate;
  add("--rate", rate ? fmt::format("{}/s", rate->per_second) : std::string("max"));
  add("--arrival", settings.arrival == Arrival::poisson ? "poisson" : "constant");
  add("--duration", millis(duration));
  if (settings.total) {
    add("--total", std::to_string(*settings.total));
  }
  add("--conns", std::to_string(settings.connections));
  add("--clients", std::to_string(settings.clients));
  add("--threads", std::to_string(settings.threads));
  add("--key-size", std::to_string(settings.key_size));
  add("--val-size", std::to_string(settings.value_size));
  add("--key-space", std::to_string(settings.key_space));
  if (settings.sequential_keys) {
    args.emplace_back("--sequential-keys");
  }
  add("--key-prefix", settings.key_prefix);
  add("--request-timeout", millis(settings.request_timeout));
  return args;
}

cluster::AgentPodSpec agent_pod(const Settings& settings, const RunPlan& plan, Duration duration) {
  cluster::AgentPodSpec spec;
  spec.name = std::string(kAgentPodName);
  spec.agent = std::string(kAgentPodName);
  spec.args = agent_flags(settings, plan, duration, control_plane_endpoint(settings));
  spec.host_network = true;
  spec.run_as_user = 0;
  spec.fs_group = 0;
  cluster::VolumeMount pki;
  pki.name = "etcd-pki";
  pki.mount_path = std::string(kKubeadmPkiDir);
  pki.host_path = std::string(kKubeadmPkiDir);
  pki.read_only = true;
  spec.volumes.push_back(std::move(pki));
  return spec;
}

Result<engine::PhaseRun> parse_agent_line(const nlohmann::json& line) {
  if (!line.is_object() || line.value("kind", std::string()) != kAgentLineKind) {
    return fail(ErrorKind::protocol, fmt::format("not a {} line", kAgentLineKind));
  }
  if (line.contains("error")) {
    const std::string error =
        line["error"].is_string() ? line["error"].get<std::string>() : line["error"].dump();
    const std::string kind = line.value("error_kind", std::string());
    return fail(kind_named(kind), error);
  }
  if (!line.contains("measurements") || !line["measurements"].is_array()) {
    return fail(ErrorKind::protocol, "no \"measurements\" array");
  }
  engine::PhaseRun run;
  for (const nlohmann::json& item : line["measurements"]) {
    Result<Measurement> m = measurement_from_json(item);
    if (!m) {
      return std::unexpected(m.error());
    }
    run.measurements.push_back(std::move(*m));
  }
  auto strings = [&](std::string_view key, std::vector<std::string>& into) {
    if (line.contains(key) && line[key].is_array()) {
      for (const nlohmann::json& item : line[key]) {
        if (item.is_string()) {
          into.push_back(item.get<std::string>());
        }
      }
    }
  };
  strings("invalid_reasons", run.invalid_reasons);
  strings("notes", run.notes);
  return run;
}

}  // namespace kp::drivers::etcd
