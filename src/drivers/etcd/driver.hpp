#pragma once

// The etcd phase as an engine::Driver: settings from the plan's etcd phase, endpoints from the settings or,
// for `--target local`, from the lab (a lab without etcd makes the phase SKIPPED with the reason). On
// `--target cluster` with `from: control-plane-pod` the same phase runs as an agent pod on a control-plane
// node (control_plane_runner.hpp) and its result comes back through pods/log.

#include <filesystem>
#include <memory>

#include "drivers/etcd/control_plane_runner.hpp"
#include "drivers/etcd/etcd_phase.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::etcd {

// `lab_dir` is where `--target local` finds the lab (lab::default_state_dir() unless the CLI says otherwise).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir);
// The same, with the cluster's options for `from: control-plane-pod` (control_plane_runner.hpp).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir, ClusterOptions cluster);

// Where the phase reaches etcd: the settings' endpoints (with their /metrics pages), or, when they give none
// (--target local), the lab's members; a lab without etcd is ErrorKind::unavailable.
Result<Endpoint> resolve_endpoint(const Settings& settings, const std::filesystem::path& lab_dir);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

// A plan whose etcd phase runs from a control-plane pod on --target cluster (for the permission preflight).
bool runs_control_plane_pod(const config::Plan& plan, const config::PhasePlan& phase);

}  // namespace kp::drivers::etcd
