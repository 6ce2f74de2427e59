#pragma once

// What every phase that creates objects on a cluster shares: the run id, the labels that find a run's
// namespaces, and the cleanup that deletes them (the api phase's teardown, the pod runner's close() and
// `kubeproof cleanup`). A run's namespaces, whoever made them, carry kubeproof.io/run=<run id>, so one
// label selector finds everything a killed run left behind.

#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "kube/transport.hpp"

namespace kp::cluster {

inline constexpr std::string_view kRunLabel = "kubeproof.io/run";
inline constexpr std::string_view kPhaseLabel = "kubeproof.io/phase";
inline constexpr std::string_view kAgentLabel = "kubeproof.io/agent";

// A new run id: "kp-" + 8 hex digits. The api phase's namespaces are "<run id>-<iteration>", the pod runner's
// "<run id>-<phase>".
std::string new_run_id();

// Deletes namespaces labelled kubeproof.io/run=<run_id> (every run's when run_id is empty) and waits until
// they are gone or `timeout` passed. Returns the names deleted; an error when some remain.
Result<std::vector<std::string>> cleanup(kube::Transport& transport, const std::string& run_id,
                                         Duration timeout, Clock& clock);

}  // namespace kp::cluster
