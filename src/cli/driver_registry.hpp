#pragma once

// The one place that knows which driver runs which phase. Phases without an entry are reported SKIPPED ("no
// driver for this phase yet"); each driver's issue adds its line in driver_registry.cpp.

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "cluster/agent_pod.hpp"
#include "core/phase.hpp"
#include "engine/driver.hpp"

namespace kp::cli {

// What the command line tells the drivers; the commands resolve the defaults, the registry reads no
// environment.
struct RegistryOptions {
  std::filesystem::path lab_dir;                    // --lab-dir, else lab::default_state_dir()
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig; unset: kubectl's rules
  std::optional<std::string> context;               // --context
  std::optional<std::string> run_id;                // the API phase's run id; unset: a new one
  std::optional<std::filesystem::path> compare_to;  // --compare-to (storage)
  // --agent-image, --storage-agent-image and --image-pull-policy, checked: the images the network and storage
  // phases run as pods on --target cluster.
  cluster::AgentImage agent_image{cluster::default_agent_image(), "IfNotPresent",
                                  cluster::default_storage_agent_image()};
  // --agents: how many agent pods a phase that spreads its load runs (dns: settings.agents otherwise).
  std::optional<int> agents;
};

std::map<Phase, engine::DriverFactory> driver_registry(const RegistryOptions& options);

}  // namespace kp::cli
