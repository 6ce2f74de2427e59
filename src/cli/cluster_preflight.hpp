#pragma once

// The pod phases' part of the permission preflight: a plan's enabled network and storage phases (and an etcd
// phase `from: control-plane-pod`) run agent pods on --target cluster (cluster/pod_runner.hpp), so `kubeproof preflight` and the run itself check the
// runner's permissions too, before anything is created, alongside the api phase's.

#include <set>
#include <vector>

#include "cli/driver_registry.hpp"
#include "config/plan.hpp"
#include "core/error.hpp"
#include "kube/access_review.hpp"

namespace kp::cli {

// The enabled network and storage phases of `plan` (and etcd from a control-plane pod on --target cluster) (of `only`, when not empty), in flow order.
std::vector<Phase> pod_phases(const config::Plan& plan, const std::set<Phase>& only = {});

// cluster::runner_permissions() for each of `phases`, duplicates removed.
std::vector<kube::Permission> pod_phase_permissions(const std::vector<Phase>& phases);

// A cluster run's own preflight for its pod phases: one ErrorKind::input message naming every permission the
// user lacks, before the first phase starts (the api phase checks its own in its prepare()). {} when the
// plan has no pod phase, targets the local lab, or the cluster cannot be asked (the phases then say why).
Result<void> check_pod_phase_permissions(const config::Plan& plan, const std::set<Phase>& only,
                                         const RegistryOptions& registry);

}  // namespace kp::cli
