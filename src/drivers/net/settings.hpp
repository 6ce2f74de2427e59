#pragma once

// The network phase's settings (the `settings:` node of the network phase in a plan), parsed strictly:
// unknown keys are errors naming the key, bad values are errors echoing the value, with file:line.
//
//   settings:
//     duration: 20s          # each of the three tests; default: the phase's duration / 3 (at least 1s)
//     warmup: 1s             # before each test's window, excluded
//     streams: 1             # TCP_STREAM parallel streams (pod-to-pod throughput)
//     message_size: 128KiB   # TCP_STREAM bytes per write
//     request_size: 64B      # TCP_RR request (pod-to-pod and pod-to-service latency)
//     response_size: 64B     # TCP_RR response
//     rate: max              # TCP_RR transactions/s, open loop (load/rate_setting.hpp); max = closed loop
//                            # (back to back). The RR has no capacity field of its own: capacity.pod_network
//                            # is the streams' bandwidth, so "capacity" is an error here.
//     arrival: constant      # or poisson (open loop)
//     client_cpu: 0          # pin the client agent to a CPU (the lab; unset: not pinned)
//     server_cpu: 1          # pin the server agent
//     response_timeout: 2s
//     connect_timeout: 5s
//     stress:                # stress plans (load/schedule.hpp): the RR rate ramp, as multiples of the RR
//       steps: [100%, 150%]  # base rate (the explicit rate, or the closed-loop rate measured first), and
//       bisect: 3            # the extra bisection steps of both searches
//     stress_streams: [1, 2, 4, 8, 16]  # stress: the TCP_STREAM ramp of parallel streams (ascending)
//   --target cluster only (agents as pods, cluster_plan.hpp):
//     placements: [same-node, cross-node]  # the default; cross-zone on request (nodes need
//                            # topology.kubernetes.io/zone); each runs every test with its own pods
//     host_network_baseline: false  # also run the tests between hostNetwork pods: what the CNI costs
//     pairs: 1               # server/client pod pairs per test, run together and merged (streams and rate
//                            # are shared out; streams must be >= pairs)
//     pods: {node_selector, tolerations, resources, priority_class, agent_start_timeout, restricted}

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"
#include "load/rate_setting.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::net {

struct Settings {
  std::optional<Duration> duration;
  Duration warmup = std::chrono::seconds(1);
  int streams = 1;
  std::uint64_t message_size = 128 * 1024;
  std::uint64_t request_size = 64;
  std::uint64_t response_size = 64;
  load::RateSetting rate = load::RateSetting::maximum();  // fixed or max (closed loop)
  Arrival arrival = Arrival::constant;
  std::optional<int> client_cpu;
  std::optional<int> server_cpu;
  Duration response_timeout = std::chrono::seconds(2);
  Duration connect_timeout = std::chrono::seconds(5);
  load::StressSettings stress;
  std::vector<int> stress_streams = {1, 2, 4, 8, 16};
  // --target cluster.
  std::vector<std::string> placements = {"same-node", "cross-node"};
  bool host_network_baseline = false;
  int pairs = 1;
  YAML::Node pods;  // read by cluster::read_pod_settings when the target is a cluster
};

inline constexpr int kMaxPairs = 64;
inline constexpr std::string_view kPlacementNames = "same-node, cross-node, cross-zone";

// Null or absent -> defaults. `path` is e.g. "phases[2].settings": messages read
// `plans/x.yaml:14: phases[2].settings.request_size: must be > 0, got "0"` (ErrorKind::input).
Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path);

// Each test's window: the setting, else the phase's duration split over the three tests (at least 1 s).
Duration test_duration(const Settings& settings, Duration phase_duration);

}  // namespace kp::drivers::net
