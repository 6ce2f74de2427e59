#pragma once

// The DNS phase's agents as pods (--target cluster), through the pod runner (cluster/pod_runner.hpp).
//
// prepare(): finds the cluster DNS (cluster_dns.hpp: the kube-dns Service, CoreDNS pods or the reason the
// cache ratio cannot be measured) and builds the mix from the Services and pods the API lists
// (cluster_mix.hpp).
// run(): reads CoreDNS's counters, creates N agent pods at once (`kubeproof agent dns --resolver pod`, each
// with the offered rate / N, round robin by node name over the schedulable nodes), waits for each to run and
// end, reads its result line from pods/log (before the pod goes), reads the counters again, and merges: the
// agents' LoadResults merge exactly (counts add up, histograms bucket by bucket; load_json.hpp carries them
// losslessly), and the merged run is judged by the same build_run as one process's. dns.qps is the sum of
// what each agent held (its answered queries over its own window); each agent's own summary is a phase note
// (report.json "notes"), and its whole run stays readable (agent_runs()).
//
// Each agent reads its own /etc/resolv.conf (what the kubelet wrote: the cluster DNS Service, the search
// list of its namespace, ndots), so the search-path fan-out measured is the pods' own; the notes say what
// each one had.
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
};

// The arguments of agent pod `index` of `agents` (after `kubeproof agent`): the one place they are made,
// so an argument every agent shares (a common start time) is one more line here.
std::vector<std::string> agent_args(const Settings& settings, const RunShape& shape,
                                    const std::vector<QuerySpec>& queries, int index, int agents);

// The phase's result from the agents' runs: merged load, dns.qps as the sum of the agents' rates, every
// agent's summary in the notes. Pure; unit-tested without a cluster.
engine::PhaseRun merge_agent_runs(const std::vector<AgentRun>& runs, const std::optional<CacheDelta>& cache,
                                  const std::string& cache_source, const std::string& cache_problem,
                                  const std::vector<QuerySpec>& queries, const Settings& settings,
                                  const std::vector<std::string>& notes, const Judging& judging);

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
  Result<std::vector<AgentRun>> run_agents();

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
