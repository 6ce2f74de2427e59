#pragma once

// The etcd phase as an engine::Driver: settings from the plan's etcd phase, endpoints from the settings or,
// for
// `--target local`, from the lab (a lab without etcd makes the phase SKIPPED with the reason).

#include <filesystem>
#include <memory>

#include "engine/driver.hpp"

namespace kp::drivers::etcd {

// `lab_dir` is where `--target local` finds the lab (lab::default_state_dir() unless the CLI says otherwise).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

}  // namespace kp::drivers::etcd
