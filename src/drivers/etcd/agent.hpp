#pragma once

// `kubeproof agent etcd ...`: the etcd phase runnable on its own, with flags instead of a plan, e.g. on a
// control-plane node where etcd is reachable, or side by side with etcd's `benchmark`
// (bench/compare-etcd.sh). It prints one JSON line (agent_json_line) with every measurement, the histograms
// (lossless, so results from many agents can be merged) and per-stage counts.
//
// The CLI attaches the flags with attach_agent_options() to its `agent etcd` subcommand and calls
// run_agent().

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/clock.hpp"
#include "drivers/etcd/etcd_phase.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::etcd {

// Flag values as typed; units are parsed by to_settings() so errors can name the flag and echo the value.
struct AgentOptions {
  std::vector<std::string> endpoints = {"127.0.0.1:2379"};
  std::string cacert;
  std::string cert;
  std::string key;
  std::string metrics_url;       // default: <endpoint>/metrics; "none" disables the server metrics
  std::string workload = "put";  // put | range | mixed | write-then-read
  std::string read_ratio = "50%";
  std::string consistency = "l";  // l (linearizable) | s (serializable), as etcd's benchmark
  std::string rate = "max";       // requests per second, or max (closed loop): load::flag_rate_setting
  std::string arrival = "constant";
  std::string duration;  // default 10s, or a 10m bound when --total is given
  std::optional<std::uint64_t> total;
  int conns = 1;
  int clients = 50;
  int threads = 0;
  std::string key_size = "256";
  std::string val_size = "1KiB";
  std::uint64_t key_space = 10000;
  bool sequential_keys = false;
  std::string key_prefix = "kubeproof/";
  std::string request_timeout = "5s";
  bool keep_keys = false;
};

void attach_agent_options(CLI::App& app, AgentOptions& options);

struct AgentPlan {
  Settings settings;
  RunPlan plan;
  Endpoint endpoint;
};

// Parses and validates the flags: `--rate: not a rate > 0 (or "max", "capacity"), got "fast"`
// (ErrorKind::usage).
Result<AgentPlan> to_agent_plan(const AgentOptions& options);

struct AgentResult {
  engine::PhaseRun run;
  std::vector<StageResult> stages;
};

// Connect, run, clean up. Connection errors are one line naming the endpoint (ErrorKind::network).
Result<AgentResult> run_agent(const AgentOptions& options, Clock& clock, engine::CancellationToken& cancel,
                              const ProgressFn& progress);

// {"kind":"kubeproof.agent.etcd","version":1,"measurements":[...],"invalid_reasons":[...],"stages":[...]} on
// one line.
std::string agent_json_line(const AgentResult& result);

}  // namespace kp::drivers::etcd
