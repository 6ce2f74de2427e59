#include "cli/cluster_preflight.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "cluster/cluster_watch.hpp"
#include "cluster/pod_runner.hpp"
#include "core/clock.hpp"
#include "drivers/dns/cluster_dns.hpp"
#include "drivers/etcd/driver.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"

namespace kp::cli {

namespace {

// The ingress phase's `from:` and `ingress:` settings, as written (the driver validates them).
bool ingress_from_pods(const config::PhasePlan& phase) {
  const YAML::Node& settings = phase.settings;
  return settings && settings.IsMap() && settings["from"] && settings["from"].IsScalar() &&
         settings["from"].Scalar() == "pods";
}

bool ingress_object(const config::PhasePlan& phase) {
  return phase.settings && phase.settings.IsMap() && phase.settings["ingress"];
}

}  // namespace

std::vector<Phase> pod_phases(const config::Plan& plan, const std::set<Phase>& only) {
  std::vector<Phase> phases;
  for (const config::PhasePlan& phase : plan.phases) {
    const bool pods = phase.phase == Phase::network || phase.phase == Phase::dns ||
                      phase.phase == Phase::storage ||
                      (phase.phase == Phase::ingress && ingress_from_pods(phase)) ||
                      drivers::etcd::runs_control_plane_pod(plan, phase);
    if (pods && phase.enabled && (only.empty() || only.contains(phase.phase))) {
      phases.push_back(phase.phase);
    }
  }
  return phases;
}

std::vector<kube::Permission> pod_phase_permissions(const std::vector<Phase>& phases) {
  std::vector<kube::Permission> needed;
  for (Phase phase : phases) {
    for (kube::Permission& permission :
         cluster::runner_permissions(fmt::format("the {} phase's agent pods", to_string(phase)))) {
      needed.push_back(std::move(permission));
    }
    if (phase == Phase::dns) {
      for (kube::Permission& permission : drivers::dns::dns_cluster_permissions()) {
        needed.push_back(std::move(permission));
      }
    }
  }
  return kube::unique_permissions(std::move(needed));
}

std::vector<kube::Permission> plan_pod_permissions(const config::Plan& plan, const std::set<Phase>& only) {
  std::vector<kube::Permission> needed = pod_phase_permissions(pod_phases(plan, only));
  if (plan.type == config::TestType::soak) {
    for (kube::Permission& permission : cluster::soak_watch_permissions()) {
      needed.push_back(std::move(permission));
    }
  }
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase == Phase::ingress && phase.enabled && ingress_object(phase) &&
        (only.empty() || only.contains(phase.phase))) {
      for (kube::Permission& permission : cluster::ingress_read_permissions("the ingress phase's Ingress")) {
        needed.push_back(std::move(permission));
      }
    }
  }
  return kube::unique_permissions(std::move(needed));
}

Result<void> check_pod_phase_permissions(const config::Plan& plan, const std::set<Phase>& only,
                                         const RegistryOptions& registry) {
  const std::vector<kube::Permission> needed = plan_pod_permissions(plan, only);
  if (plan.target != config::Target::cluster || needed.empty()) {
    return {};
  }
  kube::LoadOptions load;
  load.kubeconfig = registry.kubeconfig;
  load.context = registry.context;
  Result<kube::RestConfig> config = kube::load_rest_config(load);
  if (!config) {
    return {};  // each phase reports it (a kubeconfig problem is not the preflight's to judge twice)
  }
  kube::ClientOptions client;
  client.request_timeout = std::chrono::seconds(30);
  client.warn = [](std::string_view) {};  // the phases warn about an insecure kubeconfig themselves
  Result<std::unique_ptr<kube::Transport>> transport = kube::Transport::create(*config, client, real_clock());
  if (!transport) {
    return {};
  }
  kube::ApiResult<std::vector<kube::AccessAnswer>> answers = kube::review_access(**transport, needed);
  if (!answers) {
    return {};  // unreachable or no review API: the phases find out and say so
  }
  return kube::judge_access(*answers, fmt::format("context \"{}\" ({})", config->context, config->server));
}

}  // namespace kp::cli
