#pragma once

// The DNS phase's agents as pods (--target cluster), through the pod runner (cluster/pod_runner.hpp).
//
// prepare(): finds the cluster DNS (cluster_dns.hpp: the kube-dns Service, CoreDNS pods or the reason the
// cache ratio cannot be measured) and builds the mix from the Services and pods the API lists
// (cluster_mix.hpp).
// run(): reads CoreDNS's counters, creates N agent pods at once (`kubeproof agent dns --resolver pod`, each
// with the offered rate / N, spread over the nodes by preferred pod anti-affinity, all starting at one
// wall-clock time: --start-at, now + the runner's start lead), waits for each to run, follows its log for its
// live counts while it runs (`--live-lines`, when the shape has a live sink), waits for it to end, reads its
// result line from pods/log (before the pod goes), reads the counters again, and merges: the agents'
// LoadResults merge exactly (counts add up, histograms bucket by bucket; load_json.hpp carries them
// losslessly), and the merged run is judged by the same build_run as one process's. dns.qps is the sum of
// what each agent held (its answered queries over its own window); each agent's own summary is a phase note
// (report.json "notes"), and its whole run stays readable (agent_runs()). Each agent's clock is checked
// against the runner's and the pod's status times (cluster/agent_clock.hpp): a skew makes the phase INVALID.
//
// Each agent reads its own /etc/resolv.conf (what the kubelet wrote: the cluster DNS Service, the search
// list of its namespace, ndots), so the search-path fan-out measured is the pods' own; the notes say what
// each one had. The mix's fully qualified names (Service SRV, pod A) carry kClusterDomainToken: each agent
// puts in the plan's cluster_domain when the plan sets it (--cluster-domain), else the domain of its own
// search list ("<ns>.svc.<domain>"), since a cluster's domain need not be cluster.local and cannot be read
// from outside; the notes say which was used.
//
// Type stress: each step of the breaking-point search (stress_search.hpp) is one round of N agent pods at the
// step's rate / N, started together, merged as above; the search judges the merged step. Every agent's
// summary is a note, prefixed by its step.
//
// Errors: an agent pod that cannot start, or that ends without a result (its own error line), fails the
// phase naming the pod. Cancellation deletes the pods (their agents end their windows early on SIGTERM and
// print what they measured) and returns what was measured.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/pod_runner.hpp"
#include "drivers/dns/cluster_dns.hpp"
#include "drivers/dns/cluster_mix.hpp"
#include "drivers/dns/dns_phase.hpp"
#include "drivers/dns/judging.hpp"
#include "drivers/dns/stress_search.hpp"

namespace kp::drivers::dns {

inline constexpr std::string_view kAgentKind = "kubeproof.agent.dns";

struct AgentRun {
  std::string pod;
  std::string node;
  LoadResult load;
  std::string server;               // the nameserver it asked (its resolv.conf's)
  std::vector<std::string> search;  // its search list
  int ndots = 0;
  std::vector<Measurement> measurements;  // its own rows, as it printed them
  std::vector<std::string> invalid_reasons;
  // Its start against the shared --start-at ("started 14:20:03.012Z (asked 14:20:03.000Z)"), and why its
  // clock cannot be trusted (cluster/agent_clock.hpp: a skew beyond 100 ms, or no clock in its line): a
  // reason that makes the phase INVALID.
  std::string started;
  std::optional<std::string> clock_problem;
  // The cluster domain it put into the mix's SRV and pod A names, and where it came from ("the plan's
  // cluster_domain" via --cluster-domain, or "/etc/resolv.conf's search list"); "" when its line has none.
  std::string cluster_domain;
  std::string cluster_domain_source;
};

// Which cluster domain the agents used and where it came from, for the notes: one line when they agree
// (`plan_given`: their --cluster-domain was the plan's cluster_domain), each agent's when they do not (nodes
// whose kubelets were given different --cluster-domain); nullopt when no agent said.
std::optional<std::string> cluster_domain_note(const std::vector<AgentRun>& runs, bool plan_given);
// The queries with kClusterDomainToken replaced by `domain` (what an agent asked).
std::vector<QuerySpec> in_cluster_domain(const std::vector<QuerySpec>& queries, const std::string& domain);

// The arguments of agent pod `index` of `agents` (after `kubeproof agent`), all starting at `start`
// (--start-at, load/start_time.hpp): the one place they are made.
std::vector<std::string> agent_args(const Settings& settings, const RunShape& shape,
                                    const std::vector<QuerySpec>& queries, int index, int agents,
                                    WallTime start);

// The phase's result from the agents' runs: merged load, dns.qps as the sum of the agents' rates, every
// agent's summary in the notes, every agent's clock problem in the invalid reasons. Pure; unit-tested
// without a cluster.
engine::PhaseRun merge_agent_runs(const std::vector<AgentRun>& runs, const std::optional<CacheDelta>& cache,
                                  const std::string& cache_source, const std::string& cache_problem,
                                  const std::vector<QuerySpec>& queries, const Settings& settings,
                                  const std::vector<std::string>& notes, const Judging& judging);

// An agent's result line, as read from its pod's log: ErrorKind::unavailable with its own error when it ran
// no load, ErrorKind::protocol naming the pod and the field when the line is garbled (never an exception).
Result<AgentRun> parse_agent(const std::string& pod, const std::string& node, const nlohmann::json& line);

// The agents' loads as one: counts and histograms merged exactly, and what they were asked (rate, threads,
// clients, outstanding) added up.
LoadResult merge_agent_loads(const std::vector<AgentRun>& runs);

// "dns-agent-0 on node-a: 4990 answered/s (asked 5000/s), P99 1.2 ms, ..." for the notes.
std::string agent_summary(const AgentRun& run);

class ClusterDns {
 public:
  ClusterDns(std::unique_ptr<cluster::PodRunner> runner, Settings settings, RunShape shape, Judging judging,
             int agents, Clock& clock, engine::CancellationToken& cancel, ProgressFn progress);
  ~ClusterDns();

  Result<void> prepare();
  Result<engine::PhaseRun> run();
  void close() noexcept;
  // Each agent's own run, as its result line gave it (after run()).
  const std::vector<AgentRun>& agent_runs() const { return runs_; }

 private:
  // One round of agent pods at `shape`'s rate and duration; `prefix` names them ("dns-agent", or
  // "dns-agent-s<step>" for a stress step: names are not reused while a deleted pod may still terminate).
  Result<std::vector<AgentRun>> run_agents(const RunShape& shape, const std::string& prefix);
  // Type stress: the breaking-point search (stress_search.hpp) with every step spread over the agents.
  Result<StressOutcome> run_stress(std::vector<std::string>& notes, std::vector<std::string>& invalid);

  std::unique_ptr<cluster::PodRunner> runner_;
  Settings settings_;
  RunShape shape_;
  Judging judging_;
  int agents_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  ProgressFn progress_;
  ClusterDnsInfo dns_;
  ClusterMix mix_;
  std::vector<std::string> notes_;
  std::vector<AgentRun> runs_;
};

}  // namespace kp::drivers::dns
