#include "core/phase.hpp"

namespace kp {

std::string_view display_name(Phase phase) {
  switch (phase) {
    case Phase::etcd:
      return "etcd";
    case Phase::api:
      return "API Server & Kubelet";
    case Phase::network:
      return "Pod network (CNI)";
    case Phase::dns:
      return "CoreDNS";
    case Phase::storage:
      return "Storage";
    case Phase::ingress:
      return "Ingress";
  }
  return "?";
}

}  // namespace kp
