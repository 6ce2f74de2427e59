#pragma once

// The ingress phase as an engine::Driver, on the load kernel (src/load/). Two series: requests on keep-alive
// connections at capacity.ingress_rps x load, then new connections (a connection, and TLS handshake, per
// request) at capacity.ingress_connection_rate x load for `connection_share` of the phase duration
// (settings.hpp: resolve_schedules). Target: the settings' url, or for `--target local` the lab's nginx
// (absent -> the phase is SKIPPED with the reason).
// Measurements: ingress.rps, ingress.p99 (histogram: P50/P90/P99.9), ingress.error_rate_5xx,
// ingress.connection_rate. Stress plans ramp each series (100..200 % of capacity by default) and bisect to
// the breaking point (load::BreakingPointSearch; a step breaks on achieved < 99 % of offered, or P99 or
// errors beyond the Critical levels of ingress.p99 and ingress.error_rate_5xx), never loading above a step
// that broke: ingress.breaking_rps and ingress.breaking_connection_rate, with every step in PhaseRun::stress.
// Validity: the one rule (load/validity.hpp): INVALID only for the generator's own shortfall; sends that
// queued for a connection held by a slow server are the server's latency. Each run's statement goes to
// PhaseRun::notes.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cluster/agent_pod.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::ingress {

// Where the load comes from (settings `from:`): the machine that runs kubeproof (cli, the default), or, on
// --target cluster, `agents` agent pods (pod_load.hpp) in the namespace "<run id>-ingress". `ingress:` names
// an Ingress whose address and host are loaded (ingress_object.hpp).
struct DriverOptions {
  std::filesystem::path lab_dir;  // where `--target local` finds the lab
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  std::string run_id;
  cluster::AgentImage image;
};

engine::DriverFactory driver_factory(DriverOptions options);

// The run's preflight for an enabled ingress phase that names an Ingress (`ingress:`) on --target cluster:
// reads it before anything is created, so an Ingress the cluster does not have (or one without an address
// or rules) is the plan's mistake, one line and exit 2 (ErrorKind::input), never a phase ERROR after other
// phases ran. {} when there is nothing to check, the settings are bad (validate() reports those) or the
// cluster cannot be asked (the phase says why).
Result<void> check_cluster_inputs(const config::Plan& plan, const DriverOptions& options);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, DriverOptions options);
// The local lab only (tests): no cluster options.
std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

}  // namespace kp::drivers::ingress
