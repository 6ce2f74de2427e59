#pragma once

// The two agents as child processes in two network namespaces, as the network phase runs them in the lab
// (and the integration tests do): the server is started once and reports where it listens; each test is
// one client process whose single JSON line is the result. On a cluster the same two commands run as pods.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/live.hpp"
#include "drivers/net/agent_process.hpp"
#include "drivers/net/result.hpp"
#include "drivers/net/test_spec.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::net {

// How to run the agent: kubeproof itself (`/proc/self/exe agent net-server`), or a stand-alone build.
struct AgentCommand {
  std::filesystem::path binary;
  std::vector<std::string> server_args = {"agent", "net-server"};
  std::vector<std::string> client_args = {"agent", "net-client"};
  // This executable with kubeproof's subcommands.
  static AgentCommand self();
};

struct LabServer {
  AgentProcess process;
  std::string listening;  // as the server printed it, "0.0.0.0:7410"
};

// Starts `net-server --listen <listen>` in `netns` and waits (bounded by `ready_timeout`) for its listening
// line. ErrorKind::unavailable with the server's own last words when it does not come up.
// `realtime`: see AgentSpawn (accuracy tests only).
Result<LabServer> start_lab_server(const AgentCommand& agent, const std::string& netns,
                                   const std::string& listen, Duration hold, std::optional<int> cpu,
                                   Clock& clock, Duration ready_timeout, bool realtime = false);

// The client's flags for a test spec.
std::vector<std::string> client_flags(const TestSpec& spec, const std::string& server,
                                      Duration connect_timeout);

// Runs one client in `netns` against `server` and reads its result line. Cancellation is passed on as SIGINT
// (the client then ends its window early and still prints what it measured). An error when it printed no
// result: then its last stderr line ("kubeproof: <message>") is the message (e.g. "cannot connect to
// 10.237.0.2:7410: Connection refused"), with ErrorKind::usage for a flag it rejected (exit 2) and
// ErrorKind::network otherwise.
// With a `live` sink the client prints its live counts (core/live_lines.hpp), handed to `live` as they arrive
// as the network phase's series `series`, from this thread.
Result<ClientResult> run_lab_client(const AgentCommand& agent, const std::string& netns,
                                    const std::string& server, const TestSpec& spec, Duration connect_timeout,
                                    std::optional<int> cpu, Clock& clock, engine::CancellationToken& cancel,
                                    LiveSink* live = nullptr, const std::string& series = {});

}  // namespace kp::drivers::net
