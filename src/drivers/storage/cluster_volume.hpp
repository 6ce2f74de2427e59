#pragma once

// The storage phase's agents as pods (--target cluster), through the pod runner (cluster/pod_runner.hpp):
// one PersistentVolumeClaim per agent (cluster_plan.hpp), created in prepare (an unknown StorageClass is the
// plan's error, before anything runs); in run the agent pods mounting them, created together so they run at
// the same time; each claim must be Bound within bind_timeout after its pod exists (a WaitForFirstConsumer
// class binds only then), or the phase fails naming the claim and its last event. While the agents run, each
// pod's log is followed for its `kp-live` lines (--live-lines: each job's counts from fio's status dumps),
// handed to the run's live sink. Each pod's
// "kubeproof.agent.storage" line is read from its log before anything is deleted; the agents' measurements
// are merged exactly and every agent's own summary, notes and warnings go into the phase's notes. The claims
// and pods go with the runner's namespace (close()).

#include <memory>
#include <string>
#include <vector>

#include "cluster/pod_runner.hpp"
#include "drivers/storage/cluster_plan.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::storage {

class ClusterVolume {
 public:
  ClusterVolume(std::unique_ptr<cluster::PodRunner> runner, Settings settings, JobSet jobs,
                ClusterSettings cluster, Clock& clock);
  ~ClusterVolume();

  const std::string& ns() const;
  std::uint64_t volume_size() const;
  // The claims. ErrorKind::input for a StorageClass the cluster does not have.
  Result<void> create_claims();
  // The agents, their results merged. Errors: a claim not bound in time, a pod that cannot start, an agent
  // that printed no result (each naming the object and the reason).
  Result<engine::PhaseRun> run(engine::PhaseContext& context);
  void close() noexcept;

 private:
  std::unique_ptr<cluster::PodRunner> runner_;
  Settings settings_;
  JobSet jobs_;
  ClusterSettings cluster_;
  Clock& clock_;
};

}  // namespace kp::drivers::storage
