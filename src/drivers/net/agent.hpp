#pragma once

// `kubeproof agent net-server` and `kubeproof agent net-client`: the two ends of the network test, runnable
// on their own (two pods on a cluster, two network namespaces in the lab, or a shell next to iperf3 and
// sockperf in bench/compare-net.sh).
//
// The CLI attaches the flags with attach_server_options()/attach_client_options() to its subcommands and
// calls run_server_agent()/run_client_agent(). Output contract:
//   net-server  prints one line when it listens: {"kind":"kubeproof.agent.net-server","version":1,
//               "listening":"0.0.0.0:7410","hold_s":0}; logs to stderr; runs until SIGINT/SIGTERM (the
//               CLI's cancellation token) or, with --once, until one test is over.
//   net-client  prints one JSON line (result.hpp's to_json_line) with every figure, even when the test broke
//               off (then "complete": false and "error" says why); progress goes to stderr.
// Exit codes (main maps them): usage errors (bad flag values) 2; could not run the test (server unreachable,
// refused) 4 with a one-line message; result printed: 0 when complete, 4 when not (then also the reason on
// stderr as one line, "kubeproof: <error>", as main prints errors).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "drivers/net/client.hpp"
#include "drivers/net/result.hpp"
#include "drivers/net/server.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::net {

inline constexpr std::string_view kServerLineKind = "kubeproof.agent.net-server";

// Flag values as typed; units are parsed by the to_*() functions so an error names the flag and echoes it.
struct ServerAgentOptions {
  std::string listen = "0.0.0.0:7410";
  std::string hold = "0";
  bool once = false;
};

struct ClientAgentOptions {
  std::string server;  // host:port, required
  std::string scenario = "TCP_STREAM";
  int streams = 1;
  std::string duration = "10s";
  std::string warmup = "1s";
  std::optional<std::uint64_t> total;
  std::string message_size;  // default: 128KiB for TCP_STREAM, 1400 for UDP_STREAM (one 1500-byte frame)
  std::string request_size = "64";
  std::string response_size = "64";
  std::string rate = "max";  // RR/CRR transactions per second over all streams, or max (closed loop)
  std::string arrival = "constant";
  std::string bandwidth;  // UDP_STREAM offered load; default: as fast as it sends
  std::string response_timeout = "2s";
  std::string connect_timeout = "5s";
  // Live counts as `kp-live` lines on stderr (core/live_lines.hpp), for a parent that shows them while it
  // runs.
  bool live_lines = false;
};

void attach_server_options(CLI::App& app, ServerAgentOptions& options);
void attach_client_options(CLI::App& app, ClientAgentOptions& options);

// ErrorKind::usage naming the flag: `--request-size: must be > 0, got 0`,
// `--scenario: must be one of TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, TCP_CRR, got "TCP_FOO"`.
Result<ServerOptions> to_server_options(const ServerAgentOptions& options);
Result<ClientOptions> to_client_options(const ClientAgentOptions& options);

// The server's "listening" line (without a newline).
std::string server_listening_line(const Server& server, Duration hold);

// Opens the server, prints its listening line with `print_line`, serves until cancelled (or one test with
// --once). `log` gets one line per test and per problem.
Result<void> run_server_agent(const ServerAgentOptions& options, Clock& clock,
                              engine::CancellationToken& cancel,
                              const std::function<void(std::string_view)>& print_line, const LogFn& log);

// Parses the flags and runs the client; `progress` gets one line a second ("net-client: 3s 941.2 Mbit/s").
Result<ClientResult> run_client_agent(const ClientAgentOptions& options, Clock& clock,
                                      engine::CancellationToken& cancel,
                                      const std::function<void(std::string_view)>& progress);

}  // namespace kp::drivers::net
