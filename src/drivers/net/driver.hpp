#pragma once

// The network phase as an engine::Driver. With --target local it uses the lab's two network namespaces
// (lab/netns.hpp): the server agent runs in the server namespace, each test is a client agent in the client
// namespace, and three tests give the phase's rows:
//   net.pod_to_pod.throughput      TCP_STREAM to the server's pod address (receiver goodput, bits/s)
//   net.pod_to_pod.latency.p99     TCP_RR to the server's pod address (round trip, P99)
//   net.pod_to_service.latency.p99 TCP_RR to the "ClusterIP" (DNAT'ed to the server), P99
// Not root, or the lab's namespaces not set up: the phase is SKIPPED (ErrorKind::unavailable) saying so.
// --target cluster: the same tests between agent pods (cluster_runner.hpp) in a namespace of the run's own,
// per placement (same-node, cross-node, ...; cluster_plan.hpp), through the same flow (phase_flow.hpp).

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/agent_pod.hpp"

#include "drivers/net/lab_runner.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::net {

// What --target cluster needs from the command line.
struct ClusterOptions {
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig; unset: kubectl's rules
  std::optional<std::string> context;               // --context
  std::string run_id;                               // the run's id: the namespace is "<run id>-network"
  // --agent-image and --image-pull-policy.
  cluster::AgentImage image{cluster::default_agent_image(), "IfNotPresent", ""};
};

// `lab_dir`: where --target local finds the lab (lab::default_state_dir() unless the CLI says otherwise).
// `agent`: how to run the agents in the lab; kubeproof itself by default.
engine::DriverFactory driver_factory(std::filesystem::path lab_dir, AgentCommand agent = AgentCommand::self(),
                                     ClusterOptions cluster = {});

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir,
                                            AgentCommand agent = AgentCommand::self(),
                                            ClusterOptions cluster = {});

// For --dry-run on --target cluster: what the network phase will create (empty without an enabled network
// phase). Errors: bad settings (input).
Result<std::vector<std::string>> describe_cluster_plan(const config::Plan& plan,
                                                       const cluster::AgentImage& image);

}  // namespace kp::drivers::net
