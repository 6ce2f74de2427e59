#pragma once

// `kubeproof agent dns ...`: the DNS phase runnable on its own with flags instead of a plan: in a pod of the
// cluster (so its queries go through the pod network to CoreDNS, as applications' do), or side by side with
// dnsperf (bench/compare-dns.sh). It prints one JSON line (agent_json_line) with the measurements, the
// histograms (lossless, so many agents' results merge exactly), the counts per RCODE and the client's CPU
// time.
//
// The CLI attaches the flags with attach_agent_options() to its `agent dns` subcommand and calls run_agent().

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/clock.hpp"
#include "drivers/dns/dns_phase.hpp"
#include "drivers/dns/resolv_conf.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::dns {

// Flag values as typed; to_settings() parses units so errors can name the flag and echo the value.
struct AgentOptions {
  std::string server;  // "": the first nameserver of --resolv-conf (a pod's cluster DNS Service)
  std::string resolv_conf = std::string(kResolvConf);
  std::string protocol = "udp";
  std::string queries = std::string(kBuiltinMix);  // or a dnsperf query file
  std::vector<std::string> query_lines;            // --query "name TYPE" (repeated): the mix itself
  std::string resolver = "direct";                 // direct | pod
  std::string pod_namespace;        // "": $POD_NAMESPACE (the downward API), else read from the search list
  std::vector<std::string> search;  // empty: resolv.conf's
  std::optional<int> ndots;         // unset: resolv.conf's (glibc's default 1 when it has none)
  std::string cluster_domain;       // "": read from resolv.conf's search list, else cluster.local
  std::string rate = "max";         // lookups per second, or max (window of --outstanding)
  std::string arrival = "constant";
  std::string duration;  // default 10s, or a 10m bound when --total is given
  std::optional<std::uint64_t> total;
  int clients = 10;
  std::uint32_t outstanding = 0;  // 0: 100 in max mode, rate x timeout x 1.5 in open loop
  int threads = 0;                // 0: one per core
  std::string timeout = "2s";
  int edns = 0;  // EDNS0 UDP payload size; 0: none
  bool no_tcp_fallback = false;
  std::string unbound_control;  // host:port of unbound's remote control (cache statistics)
  std::string metrics_url;      // CoreDNS /metrics (cache statistics)
  std::string failure_window = "5s";
  std::string late_tolerance = "5ms";
  // Live counts as `kp-live` lines on stderr (core/live_lines.hpp), for a parent that shows them while the
  // agent runs (the dns phase's agent pods on --target cluster: their logs are followed).
  bool live_lines = false;
};

void attach_agent_options(CLI::App& app, AgentOptions& options);

// Pod resolver mode reads the pod's resolv.conf (--resolv-conf): the nameserver when --server is not given,
// the search list and ndots when --search and --ndots are not; the namespace is --namespace, else
// $POD_NAMESPACE (the pod runner sets it from the downward API), else the one a ClusterFirst search list
// names. Direct mode without --server also queries resolv.conf's first nameserver. A server that answers
// none of the probe's query fails the agent at once (ErrorKind::unavailable), instead of losing a whole
// run's queries.
//
// The settings and the run's shape from the flags: `--rate: not a rate (or "max"), got "fast"`
// (ErrorKind::usage); a bad query file line is ErrorKind::input naming the file and line.
struct AgentPlan {
  Settings settings;
  RunShape shape;
  ServerAddress server;
};
Result<AgentPlan> to_agent_plan(const AgentOptions& options);

struct AgentResult {
  engine::PhaseRun run;
  LoadResult load;
  std::optional<CacheDelta> cache;
  std::string cache_problem;
  bool pod_resolver = false;
  // What the agent asked whom: for the pod runner's notes (the resolv.conf a pod really had).
  std::string server;
  std::vector<std::string> search;
  int ndots = 0;
  std::string pod_namespace;
  std::size_t distinct_queries = 0;
  std::string cluster_domain;         // of the built-in mix and of {cluster_domain} in --query names
  std::string cluster_domain_source;  // where it came from (Settings::cluster_domain_source)
};

Result<AgentResult> run_agent(const AgentOptions& options, Clock& clock, engine::CancellationToken& cancel,
                              const ProgressFn& progress);

// {"kind":"kubeproof.agent.dns","version":1,"measurements":[...],"invalid_reasons":[...],"sent":..,
//  "answered_per_second":..,"p99_s":..,"cpu_seconds":..,"rcodes":{"NOERROR":..},
//  "resolver":{"server":..,"search":[..],"ndots":..,"namespace":..,"cluster_domain":..,
//  "cluster_domain_source":..},"load":{load_json.hpp},...} on
//  one line.
std::string agent_json_line(const AgentResult& result);

}  // namespace kp::drivers::dns
