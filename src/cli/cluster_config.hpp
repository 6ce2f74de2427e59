#pragma once

// The cluster a command talks to, from its --kubeconfig and --context flags (empty: kubectl's rules:
// KUBECONFIG, then ~/.kube/config, and the current context). One place, so every command reads them alike.

#include <string>

#include "core/error.hpp"
#include "kube/kubeconfig.hpp"

namespace kp::cli {

Result<kube::RestConfig> rest_config_from_flags(const std::string& kubeconfig, const std::string& context);

}  // namespace kp::cli
