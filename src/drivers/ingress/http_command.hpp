#pragma once

// `kubeproof http URL [flags]`: the generator on its own, printing a wrk-like summary; and `kubeproof agent
// http` (the same flags, one JSON line with the measurements and lossless histograms, so results of many
// agent pods can be merged).
//
// The CLI creates the subcommand, calls add_http_options(sub, options) and, when it was chosen,
// run_http_command(options, ...) or run_http_agent(options, ...).

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/clock.hpp"
#include "drivers/ingress/load.hpp"
#include "engine/cancellation.hpp"
#include "load/validity.hpp"

namespace kp::drivers::ingress {

// Flag values as typed; to_load_spec() parses units so errors name the flag and echo the value.
struct HttpOptions {
  std::string url;
  int threads = 0;  // 0: two, or fewer when the CPU quota allows fewer (core/cpu_budget.hpp)
  int connections = 10;
  std::string duration = "10s";
  std::optional<std::uint64_t> requests;
  std::string rate;  // empty or "max": closed loop; else open loop at this total rate ("5000", "10k/s")
  std::string arrival = "constant";
  std::string method = "GET";
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string host;                // Host header override
  std::vector<std::string> paths;  // cycled instead of the URL's path
  bool insecure = false;
  std::string cacert;
  std::string server_name;
  std::string timeout = "5s";
  bool connection_per_request = false;
  std::string io = "auto";  // I/O backend: auto, epoll or uring (io_backend.hpp)
  bool latency = false;     // print the latency distribution
  std::vector<double> percentiles = {50, 75, 90, 99, 99.9, 99.99};
};

// Adds URL (positional) and every flag: -t/--threads -c/--connections -d/--duration -n/--requests -R/--rate
// --arrival -m/--method -H/--header --body --host --path --insecure/-k --cacert --server-name --timeout
// --connection-per-request --io --latency --percentiles.
void add_http_options(CLI::App& app, HttpOptions& options);

// Errors are ErrorKind::usage: `--rate: not a rate > 0 (or "max", "capacity"), got "fast"`.
Result<LoadSpec> to_load_spec(const HttpOptions& options);

// The run's validity (load/validity.hpp) against the shipped criteria: the summary prints its statement.
load::Validity validity_of(const LoadSpec& spec, const LoadResult& result);

// Runs and prints the summary to `out`. Returns 0, or 4 when the run was cancelled or is invalid (the summary
// says why); an unreachable target is an error (ErrorKind::network) naming the URL.
Result<int> run_http_command(const HttpOptions& options, Clock& clock, engine::CancellationToken& cancel,
                             std::ostream& out);

// Same run; prints one JSON line (agent_json_line) to `out`. Returns 0, or 4 when cancelled or invalid.
Result<int> run_http_agent(const HttpOptions& options, Clock& clock, engine::CancellationToken& cancel,
                           std::ostream& out);

// The wrk-like summary.
std::string format_summary(const LoadSpec& spec, const LoadResult& result,
                           const std::vector<double>& percentiles, bool distribution);

// {"kind":"kubeproof.agent.http","version":1,"measurements":[...],"invalid_reasons":[...],"counts":{...},
//  "histograms":{"latency":...,"uncorrected":...,"connect":...,"handshake":...}} on one line.
std::string agent_json_line(const LoadSpec& spec, const LoadResult& result);

}  // namespace kp::drivers::ingress
