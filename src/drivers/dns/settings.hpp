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
//   cluster_domain: cluster.local
//   rate: 10k                    # lookups per second, open loop; "max": as fast as `outstanding` allows
//                                # default: capacity.dns_qps x the phase's load
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
//   stress_factors: [1, 1.25, 1.5, 1.75, 2]  # type stress: open-loop steps at these multiples of
//   capacity.dns_qps stress_p99_limit: 50ms       # a step whose P99 is above this did not hold (the seed's
//   critical DNS P99) stress_loss_limit: 1%        # ... nor one that lost more than this share of its
//   queries

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

namespace kp::drivers::dns {

inline constexpr std::string_view kBuiltinMix = "kubernetes";

struct Settings {
  std::string server;  // "" : the lab's
  Protocol protocol = Protocol::udp;
  std::string queries = std::string(kBuiltinMix);  // "kubernetes" or a file path (resolved against the plan)
  bool pod_resolver = false;
  std::string pod_namespace = "default";
  std::vector<std::string> search;  // explicit search list; empty: the pod's from its namespace
  int ndots = 5;
  std::string cluster_domain = "cluster.local";
  std::optional<Rate> rate;  // unset and !max_rate: the profile's
  bool max_rate = false;
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
  // The spec's stress range is 150-200 % of capacity; starting at 100 % shows where in it the server bends.
  std::vector<double> stress_factors = {1.0, 1.25, 1.5, 1.75, 2.0};
  Duration stress_p99_limit = std::chrono::milliseconds(50);  // criteria/default.yaml: dns.p99 critical
  // A pod's resolver waits 5 s before it retries a lost query (glibc's timeout), so even 1 % loss puts
  // seconds into the P99 of the applications' lookups: beyond it the server is not keeping up.
  double stress_loss_limit = 0.01;
};

// A step of a stress ramp holds when the server answered at least this share of the offered rate.
inline constexpr double kStressMinAchieved = 0.95;

// One open-loop step of a stress ramp.
struct StressStep {
  double factor = 1.0;  // multiple of the capacity
  Rate rate;
  Duration duration{0};
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
  LoadOptions load;  // without the server address, which prepare() fills in
  // Type stress (with the rate from the capacity): the ramp, each step a slice of the phase's duration; the
  // run stops at the first step the server does not hold. Empty otherwise.
  std::vector<StressStep> stress;
  std::vector<std::string>
      notes;  // e.g. "plan states no capacity.dns_qps; assumed 10k/s (the seed's target)"
};

// rate = settings.rate, or "max", or capacity.dns_qps x load (the seed's 10k when the plan states none);
// duration = the phase's; threads 0 -> the cores. Type stress without an explicit rate: steps at
// stress_factors x capacity.dns_qps, the duration split evenly between them.
RunShape shape_run(const Settings& settings, const config::Capacity& capacity, double load, Duration duration,
                   config::TestType type = config::TestType::load);

// The DNS query rate assumed when the plan states no capacity.dns_qps: the seed's target.
inline constexpr double kAssumedCapacity = 10000;

}  // namespace kp::drivers::dns
