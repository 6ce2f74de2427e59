#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace kp {

// The seed's flow, foundation first. The numeric order is the run order.
enum class Phase { etcd = 0, api = 1, network = 2, dns = 3, storage = 4, ingress = 5 };

inline constexpr std::array<Phase, 6> kFlowOrder = {Phase::etcd, Phase::api,     Phase::network,
                                                    Phase::dns,  Phase::storage, Phase::ingress};

constexpr std::string_view to_string(Phase phase) {
  switch (phase) {
    case Phase::etcd:
      return "etcd";
    case Phase::api:
      return "api";
    case Phase::network:
      return "network";
    case Phase::dns:
      return "dns";
    case Phase::storage:
      return "storage";
    case Phase::ingress:
      return "ingress";
  }
  return "?";
}

// People's names for the report ("API Server & Kubelet").
std::string_view display_name(Phase phase);

constexpr std::optional<Phase> parse_phase(std::string_view name) {
  for (Phase phase : kFlowOrder) {
    if (to_string(phase) == name) {
      return phase;
    }
  }
  return std::nullopt;
}

}  // namespace kp
