#pragma once

// The network phase as an engine::Driver. With --target local it uses the lab's two network namespaces
// (lab/netns.hpp): the server agent runs in the server namespace, each test is a client agent in the client
// namespace, and three tests give the phase's rows:
//   net.pod_to_pod.throughput      TCP_STREAM to the server's pod address (receiver goodput, bits/s)
//   net.pod_to_pod.latency.p99     TCP_RR to the server's pod address (round trip, P99)
//   net.pod_to_service.latency.p99 TCP_RR to the "ClusterIP" (DNAT'ed to the server), P99
// Not root, or the lab's namespaces not set up: the phase is SKIPPED (ErrorKind::unavailable) saying so.
// --target cluster: SKIPPED until the in-cluster runner (agent pods) lands.

#include <filesystem>
#include <memory>

#include "drivers/net/lab_runner.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::net {

// `lab_dir`: where --target local finds the lab (lab::default_state_dir() unless the CLI says otherwise).
// `agent`: how to run the agents; kubeproof itself by default.
engine::DriverFactory driver_factory(std::filesystem::path lab_dir,
                                     AgentCommand agent = AgentCommand::self());

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir,
                                            AgentCommand agent = AgentCommand::self());

}  // namespace kp::drivers::net
