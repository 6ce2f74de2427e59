#pragma once

// The API phase as an engine::Driver. The cluster comes from, in order: --kubeconfig/--context
// (DriverOptions), the phase's settings (kubeconfig, context), kubectl's rules ($KUBECONFIG, ~/.kube/config,
// in-cluster).
// `--target local` uses the lab's kube-apiserver (the "kube-apiserver" service's "kubeconfig" endpoint); a
// lab without one makes the phase SKIPPED with the reason.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "engine/driver.hpp"

namespace kp::drivers::api {

struct DriverOptions {
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig
  std::optional<std::string> context;               // --context
  std::filesystem::path lab_dir;                    // for --target local
  std::optional<std::string> run_id;                // default: a new one per run
};

engine::DriverFactory driver_factory(DriverOptions options);
std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, DriverOptions options);

}  // namespace kp::drivers::api
