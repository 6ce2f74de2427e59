#include "cli/cluster_config.hpp"

namespace kp::cli {

Result<kube::RestConfig> rest_config_from_flags(const std::string& kubeconfig, const std::string& context) {
  kube::LoadOptions load;
  if (!kubeconfig.empty()) {
    load.kubeconfig = kubeconfig;
  }
  if (!context.empty()) {
    load.context = context;
  }
  return kube::load_rest_config(load);
}

}  // namespace kp::cli
