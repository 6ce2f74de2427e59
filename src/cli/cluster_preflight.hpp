#pragma once

// The pod phases' part of the permission preflight: a plan's enabled network and storage phases, an ingress
// phase with `from: pods` and an etcd phase `from: control-plane-pod` run agent pods on --target cluster
// (cluster/pod_runner.hpp), so `kubeproof preflight` and the run itself check the runner's permissions too,
// before anything is created, alongside the api phase's.

#include <set>
#include <vector>

#include "cli/driver_registry.hpp"
#include "config/plan.hpp"
#include "core/error.hpp"
#include "kube/access_review.hpp"

namespace kp::cli {

// The enabled network and storage phases of `plan`, its ingress phase with `from: pods` and its etcd phase
// `from: control-plane-pod` (of `only`, when not empty), in flow order.
std::vector<Phase> pod_phases(const config::Plan& plan, const std::set<Phase>& only = {});

// cluster::runner_permissions() for each of `phases`, duplicates removed.
std::vector<kube::Permission> pod_phase_permissions(const std::vector<Phase>& phases);

// What the plan's pod phases need (pod_phase_permissions) and, for an ingress phase that names an Ingress
// (`ingress:`), get ingresses.networking.k8s.io.
std::vector<kube::Permission> plan_pod_permissions(const config::Plan& plan,
                                                   const std::set<Phase>& only = {});

// A cluster run's own preflight for its pod phases: one ErrorKind::input message naming every permission the
// user lacks, before the first phase starts (the api phase checks its own in its prepare()). {} when the
// plan has no pod phase, targets the local lab, or the cluster cannot be asked (the phases then say why).
Result<void> check_pod_phase_permissions(const config::Plan& plan, const std::set<Phase>& only,
                                         const RegistryOptions& registry);

}  // namespace kp::cli
