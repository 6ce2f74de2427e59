#pragma once

// The DNS phase as an engine::Driver. The server: settings.server, or for `--target local` the lab's caching
// unbound (a lab without it makes the phase SKIPPED with the reason). Cache statistics: settings.metrics_url
// (CoreDNS) or settings.unbound_control, else for the lab its unbound's remote control.
// `--target cluster` needs settings.server (the cluster DNS service address, reachable from where kubeproof
// runs) until in-cluster agent pods (src/kube) run `kubeproof agent dns` for it.

#include <filesystem>
#include <memory>

#include "engine/driver.hpp"

namespace kp::drivers::dns {

// `lab_dir`: where `--target local` finds the lab (lab::default_state_dir() unless the CLI says otherwise).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

}  // namespace kp::drivers::dns
