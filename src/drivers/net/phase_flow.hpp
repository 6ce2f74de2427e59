#pragma once

// The network phase's one flow, shared by both targets: run a plan's tests (phase_plan.hpp) over one path
// from a client to a server, turn each result into measurements, judge each open-loop series with the one
// validity rule, and run the stress searches (stress.hpp). Only how a client agent is run differs, and it is
// passed in (RunClients): in the lab a child process in the client network namespace (lab_runner.hpp), on a
// cluster a client pod placed beside or away from its server pod (cluster_runner.hpp).
//
// Rows. A judged path gives the catalog's rows (net.pod_to_pod.throughput, net.pod_to_pod.latency.p99,
// net.pod_to_service.latency.p99 and, in stress, the breaking points). A qualified path (the cluster's
// placements) also gives its own informational rows, named after the placement:
//   net.<q>.throughput, net.<q>.latency.p99, net.<q>.service_latency.p99, net.<q>.udp_rr.p99,
//   net.<q>.tcp_crr.p99
// (q: same_node, cross_node, cross_zone, host_network), the last two from the extra UDP_RR and TCP_CRR tests
// (extra_tests). A test that cannot run, or a generator that could not keep its schedule, makes the phase
// INVALID only when it feeds a judged row; otherwise it is stated in the notes.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "drivers/net/phase_plan.hpp"
#include "drivers/net/result.hpp"
#include "drivers/net/settings.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::net {

// Which server a client is sent to.
enum class ServerRole {
  server,   // the server agent itself (pod to pod)
  service,  // the server through its Service (the ClusterIP, or the lab's DNAT)
  probe,    // stress: the second server, for the TCP_RR beside each stream step
};

struct ClientJob {
  ServerRole role = ServerRole::server;
  std::string target;  // host:port, as FlowPath names it for the role
  TestSpec spec;
  std::optional<int> cpu;  // pin the client (the lab)
};

// Runs the jobs at the same time; one result per job, in order.
using RunClients = std::function<std::vector<Result<ClientResult>>(const std::vector<ClientJob>&)>;

struct FlowPath {
  std::string server;        // host:port of the server agent
  std::string service;       // host:port of the server behind its Service; "" when there is none
  std::string service_path;  // for people: "pod to service: ClusterIP 10.96.0.12:7410 -> 10.244.1.5:7410"
  std::string probe;         // host:port of the stress probe's server
  std::string client;        // where the client runs, for sources: "in kp-b", "pod on node-a"
  std::string medium;        // for stream notes: "lab veth between network namespaces", "cross-node: ..."
  std::optional<std::string> qualifier;  // "same_node": the path's own rows, and the extra tests
  bool judged = true;                    // the catalog's rows come from this path
  bool stress = true;                    // stress plans: the searches run on this path
};

// "net.pod_to_pod.latency.p99" on qualifier "same_node" -> "net.same_node.latency.p99".
std::string qualified_metric(std::string_view metric, std::string_view qualifier);

// The tests beside the plan's on a qualified path: UDP_RR and TCP_CRR pod to pod, with the TCP_RR's sizes,
// rate, window and timeouts. Their metric is the qualified one.
std::vector<PlannedTest> extra_tests(const NetPhasePlan& plan, std::string_view qualifier,
                                     const std::string& server);

// Runs every test of `plan` (and, on a qualified path, extra_tests) over `path`, then the stress searches
// when the plan is a stress plan and the path runs them. Adds to `run`; never fails as a whole: a test that
// could not run is a reason or a note (see the header comment).
void run_path(engine::PhaseContext& context, const Settings& settings, const NetPhasePlan& plan,
              const FlowPath& path, const RunClients& run_clients, engine::PhaseRun& run);

}  // namespace kp::drivers::net
