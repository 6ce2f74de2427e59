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
#include <vector>

#include "engine/driver.hpp"
#include "kube/access_review.hpp"

namespace kp::drivers::api {

struct DriverOptions {
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig
  std::optional<std::string> context;               // --context
  std::filesystem::path lab_dir;                    // for --target local
  std::optional<std::string> run_id;                // default: a new one per run
};

engine::DriverFactory driver_factory(DriverOptions options);

// What the plan's api phase will do, for the confirmation prompt and --dry-run: the context and server, the
// objects and the request rate (ApiPhase::describe). Reads the kubeconfig but makes no request. Empty when
// the plan has no enabled api phase; the errors the phase itself would give otherwise (bad settings: input;
// no cluster configured: unavailable).
Result<std::vector<std::string>> describe_plan(const config::Plan& plan, const DriverOptions& options);
// Every permission the plan's api phase needs (permissions.hpp), read from its settings; the built-in
// workload's when the plan has no api phase. Errors: bad settings (input).
Result<std::vector<kube::Permission>> plan_permissions(const config::Plan& plan);
std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, DriverOptions options);

}  // namespace kp::drivers::api
