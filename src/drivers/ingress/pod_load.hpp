#pragma once

// The ingress phase's load from inside the cluster (`from: pods`, --target cluster): one run of the
// generator becomes `agents` agent pods (`kubeproof agent http`), each with an equal share of the offered
// rate and of the connections, spread over the nodes by preferred pod anti-affinity (different nodes where
// there are enough, all of them still run where there are not), all started at one wall-clock time
// (--start-at: now + pods.start_lead, load/start_time.hpp) so their windows line up. Their results are read
// from their logs (agent_result.hpp) and merged exactly: counts add up, histograms merge bucket by bucket,
// the rate is the sum over the common window. Each agent's own summary (its node, offered and achieved rate,
// P99, errors, its start) is a note of the phase, and each agent's clock is checked against the runner's and
// the pod's status times (cluster/agent_clock.hpp): a skew is a reason that makes the phase INVALID.
//
// Errors: a pod that cannot start fails the phase (the pod runner's one line); an agent's own failure line
// ("cannot connect to http://10.96.0.10/: Connection refused") fails it with the pod and node named.
// Threads: one PodLoad is used from the phase's thread.

#include <memory>
#include <string>
#include <vector>

#include "cluster/pod_runner.hpp"
#include "drivers/ingress/load.hpp"

namespace kp::drivers::ingress {

// The arguments after `kubeproof agent` of agent `index` of `agents` for `spec` (its rate and connections
// are totals; threads 0 = the agent's default), starting at `start`.
std::vector<std::string> agent_args(const LoadSpec& spec, int threads, int index, int agents, WallTime start);

struct PodLoadResult {
  LoadResult merged;
  std::vector<std::string> notes;            // one per agent, then the sum
  std::vector<std::string> invalid_reasons;  // clock skews
};

class PodLoad {
 public:
  PodLoad(std::unique_ptr<cluster::PodRunner> runner, int agents, int threads, Clock& clock,
          engine::CancellationToken& cancel);
  ~PodLoad();

  const std::string& ns() const;
  kube::Api& api();

  // One run of `spec` (rate and connections in total, duration) from the agent pods; `label` names it in
  // the notes ("requests", "connections step x1.25").
  Result<PodLoadResult> run(const LoadSpec& spec, const std::string& label);

  void close() noexcept;

 private:
  std::unique_ptr<cluster::PodRunner> runner_;
  int agents_;
  int threads_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  int sequence_ = 0;
};

}  // namespace kp::drivers::ingress
