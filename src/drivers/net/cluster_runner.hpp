#pragma once

// The network phase's agents as pods (--target cluster), through the pod runner (cluster/pod_runner.hpp):
// for each placement of cluster_plan.hpp, its server pods (Running, with an IP, and listening: their
// "listening" line is in their log), one ClusterIP Service per server (ready in its EndpointSlice before any
// client starts: kube-proxy's rules follow that), then the phase's one flow (phase_flow.hpp) with clients as
// pods. A client job becomes one pod per pair, created together and started at one wall-clock time
// (--start-at: now + pods.start_lead) so their windows line up; each pod's clock is checked against the
// runner's and the pod's status times (cluster/agent_clock.hpp: a skew is an INVALID reason); each pod's
// result is its log's "kubeproof.agent.net-client" line, read before the pod is deleted; the pairs' results
// are merged exactly (merge.hpp) and each agent's own summary goes into the phase's notes. While the clients
// run, their logs are followed for their live counts (`--live-lines`: core/live_lines.hpp), as the lab runner
// reads its client's stderr.
//
// A server that cannot start fails the phase (the runner's one line: pod, reason, last event); a client that
// cannot is that test's reason. The placement's pods are deleted when it is done; the namespace (and every
// Service) goes with the runner's close().

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/agent_clock.hpp"
#include "cluster/pod_runner.hpp"
#include "drivers/net/cluster_plan.hpp"
#include "drivers/net/phase_flow.hpp"

namespace kp::drivers::net {

class ClusterNet {
 public:
  ClusterNet(std::unique_ptr<cluster::PodRunner> runner, Settings settings, Clock& clock,
             engine::CancellationToken& cancel);
  ~ClusterNet();

  // Lists the schedulable nodes and plans the placements (SKIPPED ones with their reason).
  Result<void> plan();
  const std::vector<PlacementPlan>& placements() const { return placements_; }
  const std::string& ns() const;

  // Every placement that is not skipped, in order. An error only when a server pod cannot start.
  Result<void> run(engine::PhaseContext& context, const NetPhasePlan& plan, engine::PhaseRun& run);

  void close() noexcept;

 private:
  struct Servers;
  Result<Servers> start_servers(engine::PhaseContext& context, const PlacementPlan& placement, bool probe);
  std::vector<Result<ClientResult>> run_clients(const PlacementPlan& placement, const Servers& servers,
                                                const std::vector<ClientJob>& jobs,
                                                std::vector<std::string>& notes,
                                                std::set<std::string>& nodes);
  Result<ClientResult> finish_client(const std::string& pod, Duration budget, std::string& node,
                                     cluster::ClockWitness& witness, std::vector<std::string>& skews);
  void delete_pods(const std::vector<std::string>& pods);

  std::unique_ptr<cluster::PodRunner> runner_;
  Settings settings_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  std::vector<PlacementPlan> placements_;
  int sequence_ = 0;
  std::vector<std::string> clock_skews_;  // of the placement running: its agents' clock checks
  LiveSink* live_ = nullptr;              // the run's, for the client pods' kp-live lines (null: none asked)
};

}  // namespace kp::drivers::net
