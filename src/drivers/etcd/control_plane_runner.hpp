#pragma once

// The etcd phase's agent pod on a control-plane node (control_plane_pod.hpp), through the pod runner
// (cluster/pod_runner.hpp): a namespace "<run id>-etcd" labelled for the privileged Pod Security level, one
// agent pod placed on a control-plane node, its "kubeproof.agent.etcd" line read from pods/log, and the
// namespace deleted on every exit path (close()).
//
// SKIPPED, with the reason and the API server's own view of etcd as informational notes
// (apiserver_view.hpp), when no schedulable control-plane node is visible (a managed control plane: EKS,
// GKE, AKS hide theirs) or when the agent could not reach etcd from the node (its error line says
// "network"). Errors: a pod that cannot start or is refused by admission, or an agent that printed no line.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "cluster/pod_runner.hpp"
#include "drivers/etcd/run_plan.hpp"
#include "drivers/etcd/settings.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::etcd {

struct ClusterOptions {
  std::optional<std::filesystem::path> kubeconfig;  // --kubeconfig; unset: kubectl's rules
  std::optional<std::string> context;               // --context
  std::string run_id;                               // the run's id: the namespace is "<run id>-etcd"
  cluster::AgentImage image;
};

class ControlPlaneEtcd {
 public:
  // Connects and opens the runner (permissions first, then the namespace). ErrorKind::unavailable when the
  // cluster cannot be reached.
  static Result<std::unique_ptr<ControlPlaneEtcd>> open(const ClusterOptions& options, Settings settings,
                                                        RunPlan plan, Duration duration,
                                                        cluster::PodSettings pods, Clock& clock,
                                                        engine::CancellationToken& cancel);
  ~ControlPlaneEtcd();
  ControlPlaneEtcd(const ControlPlaneEtcd&) = delete;
  ControlPlaneEtcd& operator=(const ControlPlaneEtcd&) = delete;

  const std::string& ns() const;
  // The agent's run as the phase's result; PhaseRun::skipped set when etcd is out of reach.
  Result<engine::PhaseRun> run(engine::PhaseContext& context);
  void close() noexcept;

 private:
  ControlPlaneEtcd(std::unique_ptr<cluster::PodRunner> runner, Settings settings, RunPlan plan,
                   Duration duration, Clock& clock);
  engine::PhaseRun skipped(std::string reason);

  std::unique_ptr<cluster::PodRunner> runner_;
  Settings settings_;
  RunPlan plan_;
  Duration duration_;
  Clock& clock_;
};

}  // namespace kp::drivers::etcd
