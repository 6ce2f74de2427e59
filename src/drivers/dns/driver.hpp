#pragma once

// The DNS phase as an engine::Driver.
// --target local: settings.server, or the lab's caching unbound (a lab without it makes the phase SKIPPED
// with the reason). Cache statistics: settings.metrics_url (CoreDNS) or settings.unbound_control, else the
// lab unbound's remote control.
// --target cluster: DNS as pods see it (cluster_runner.hpp): settings.agents agent pods (--agents overrides)
// in the run's "<run id>-dns" namespace, each querying through its own resolv.conf; the mix from the
// cluster's Services and pods; the cache ratio from CoreDNS's counters through the API server's pod proxy,
// or NOT MEASURED with the reason. settings.server does not apply there (the pods' resolv.conf names the
// server); type stress is not offered on a cluster yet (an input error).

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cluster/agent_pod.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::dns {

struct DriverOptions {
  std::filesystem::path lab_dir;  // where --target local finds the lab
  std::optional<std::filesystem::path> kubeconfig;
  std::optional<std::string> context;
  std::string run_id;  // the namespace is "<run id>-dns"
  cluster::AgentImage image{cluster::default_agent_image(), "IfNotPresent", ""};
  std::optional<int> agents;  // --agents: overrides settings.agents
};

engine::DriverFactory driver_factory(DriverOptions options);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, DriverOptions options);

}  // namespace kp::drivers::dns
