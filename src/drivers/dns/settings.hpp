#pragma once

// The DNS phase's settings: the `settings:` node of the dns phase in a plan (or the agent's flags), parsed
// strictly with config/yaml_fields.hpp: an unknown key is an error listing the known ones, a bad value an
// error naming file:line and the field and echoing the value.
//
//   server: 10.96.0.10:53        # the DNS server; default for --target local: the lab's caching unbound
//   protocol: udp                # udp | tcp
//   queries: kubernetes          # the built-in Kubernetes mix, or a dnsperf query file (relative to the
//   plan) resolver: direct             # direct | pod: each name walks a pod's search list with ndots, as
//   glibc does namespace: default           # pod resolver: the pod's namespace (search <ns>.svc.<domain>
//   svc.<domain> search: [a.example, b]       #   <domain>), or an explicit search list ndots: 5
//   cluster_domain: cluster.local  # default: on --target cluster, each agent pod's own search list's domain
//                                  # (the notes say which was used); cluster.local in the lab
//   rate: capacity               # lookups per second, open loop (10k, 1500/s); "max": as fast as
//   `outstanding`
//                                # allows; "capacity" (the default): capacity.dns_qps x the phase's load
//                                # (load/rate_setting.hpp, the same in every phase)
//   arrival: constant            # or poisson
//   outstanding: 100             # queries in flight at most (max: the window, like dnsperf -q; default 100;
//                                # open loop: a safety bound, default rate x timeout x 1.5)
//   clients: 10                  # UDP sockets / TCP connections (dnsperf -c)
//   threads: 0                   # 0: one per core (at most one per client)
//   total: 100000                # stop after this many lookups (default: the phase's duration only)
//   timeout: 2s                  # a query without an answer by then is lost
//   edns: 1232                   # EDNS0 UDP payload size to advertise; default none (classic 512 bytes)
//   tcp_on_truncation: true      # ask again over TCP when an answer comes back truncated (TC)
//   failure_window: 5s           # stop when nothing has answered for this long while queries were lost
//   late_tolerance: 5ms          # an open-loop send later than this after its intended time is late
//   unbound_control: 127.0.0.1:8953        # cache statistics from unbound (default: the lab's)
//   metrics_url: http://10.0.0.5:9153/metrics  # ... or from CoreDNS's /metrics (cluster)
//   stats_timeout: 5s
//   stress:                      # type stress (load/schedule.hpp, the same in every phase): open-loop
//     steps: [100%, 125%, 150%, 175%, 200%]  # multiples of capacity.dns_qps (or of an explicit rate)
//     bisect: 3                  # extra steps between the last rate held and the first broken
// A step breaks (load/breaking_point.hpp) when the answered rate misses the offered rate by more than 1 %
// (lost and SERVFAIL answers included), or its P99 crosses the criteria's Critical level for dns.p99.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"
#include "drivers/dns/load_engine.hpp"
#include "drivers/dns/queries.hpp"
#include "drivers/dns/resolver.hpp"
#include "load/rate_setting.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::dns {

inline constexpr std::string_view kBuiltinMix = "kubernetes";

struct Settings {
  std::string server;  // "" : the lab's
  Protocol protocol = Protocol::udp;
  std::string queries = std::string(kBuiltinMix);  // "kubernetes" or a file path (resolved against the plan)
  // Given queries (the agent's --query lines: the mix a cluster run built from its Services and pods); when
  // not empty they are the queries, and `queries` only names where they came from.
  std::vector<QuerySpec> inline_queries;
  bool pod_resolver = false;
  std::string pod_namespace = "default";
  std::vector<std::string> search;  // explicit search list; empty: the pod's from its namespace
  bool search_given = false;        // `search` is the list even when empty (read from a resolv.conf)
  int ndots = 5;
  std::string cluster_domain = "cluster.local";
  // The plan set cluster_domain (or the agent was given --cluster-domain): it wins over a pod's resolv.conf.
  bool cluster_domain_given = false;
  // Where cluster_domain came from, for the notes: "the plan's cluster_domain", "--cluster-domain",
  // "resolv.conf's search list", "the default (resolv.conf has no ClusterFirst search list)".
  std::string cluster_domain_source = "the default";
  load::RateSetting rate;  // capacity x load unless the plan says otherwise
  Arrival arrival = Arrival::constant;
  std::uint32_t outstanding = 0;  // 0: the mode's default
  int clients = 10;
  int threads = 0;
  std::optional<std::uint64_t> total;
  Duration timeout = std::chrono::seconds(2);
  std::optional<std::uint16_t> edns;
  bool tcp_on_truncation = true;
  Duration failure_window = std::chrono::seconds(5);
  Duration late_tolerance = std::chrono::milliseconds(5);
  std::string unbound_control;
  std::string metrics_url;
  Duration stats_timeout = std::chrono::seconds(5);
  load::StressSettings stress;
  // Fail before the run when the probe gets no answer at all (the agent: a pod whose resolver is wrong
  // learns it in seconds, not after losing a whole run). The phase measures a silent server instead.
  bool require_answer = false;
  // --target cluster: agent pods, spread over the nodes (preferred anti-affinity); the CLI's --agents
  // overrides.
  int agents = 1;
  // --target cluster: the external names of the mix (answered by the cluster DNS's upstream).
  std::vector<std::string> external_names = {"kubernetes.io", "example.com"};
  YAML::Node pods;  // --target cluster: the agent pods' settings (cluster/agent_pod.hpp, read_pod_settings)
};

// Parses the settings node (null -> defaults). `path` is the field path of the node ("phases[3].settings");
// relative query files are resolved against `base_dir` (the plan's folder).
Result<Settings> parse_settings(const YAML::Node& node, const std::string& file, const std::string& path,
                                const std::filesystem::path& base_dir);

// Cross-field checks; `where` prefixes messages ("plans/x.yaml: phases[3].settings", "--outstanding").
Result<void> validate(const Settings& settings, std::string_view where);

// The queries to ask: the query file (errors name its file and line) or the built-in mix.
Result<std::vector<QuerySpec>> load_queries(const Settings& settings);
std::optional<ResolverConfig> resolver_config(const Settings& settings);

// What a run does, from the settings and the plan.
struct RunShape {
  LoadOptions load;  // without the server address, which prepare() fills in; rate: the schedule's first step
  // The resolved schedule (load/schedule.hpp): one steady step, or (type stress) the ramp the breaking-point
  // search walks, each step a slice of the phase's duration.
  load::Schedule schedule;
  std::vector<std::string> notes;  // the schedule's ("rate 1k QPS = capacity.dns_qps 10k QPS x 10%") and ours
};

// The schedule from load::resolve_schedule with capacity.dns_qps (a missing or zero capacity is an input
// error when the rate derives from it: `where` names the plan file); the rest from the settings (threads 0 ->
// the cores, at most one per client).
Result<RunShape> shape_run(const Settings& settings, const config::Capacity& capacity, double load,
                           Duration duration, config::TestType type = config::TestType::load,
                           std::string where = {});

// The capacity a dns phase's rate derives from, as the kernel names it.
load::CapacityRef dns_capacity(const config::Capacity& capacity);

}  // namespace kp::drivers::dns
