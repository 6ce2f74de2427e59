#include "drivers/etcd/control_plane_runner.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "drivers/etcd/apiserver_view.hpp"
#include "drivers/etcd/control_plane_pod.hpp"
#include "kube/kubeconfig.hpp"

namespace kp::drivers::etcd {
namespace {

// Beyond the stages' own time: the pod's start (bounded separately), the scrapes, the key cleanup.
constexpr Duration kAgentSlack = std::chrono::minutes(1);
constexpr std::string_view kNotKubeadm =
    "not measured: the control plane does not keep etcd's certificates where kubeadm does (k3s and RKE2 "
    "keep theirs elsewhere)";

}  // namespace

Result<std::unique_ptr<ControlPlaneEtcd>> ControlPlaneEtcd::open(const ClusterOptions& options,
                                                                 Settings settings, RunPlan plan,
                                                                 Duration duration, cluster::PodSettings pods,
                                                                 Clock& clock,
                                                                 engine::CancellationToken& cancel) {
  kube::LoadOptions load;
  load.kubeconfig = options.kubeconfig;
  load.context = options.context;
  Result<kube::RestConfig> config = kube::load_rest_config(load);
  if (!config) {
    return std::unexpected(config.error());
  }
  cluster::RunnerOptions runner_options;
  runner_options.run_id = options.run_id;
  runner_options.phase = "etcd";
  runner_options.image = options.image;
  runner_options.pods = control_plane_pod_settings(std::move(pods));
  // Pod Security admission reads the namespace's labels: host network and a hostPath need "privileged".
  runner_options.namespace_labels = cluster::privileged_pod_security_labels();
  Result<std::unique_ptr<cluster::PodRunner>> runner =
      cluster::PodRunner::open(*config, runner_options, clock, cancel);
  if (!runner) {
    return std::unexpected(runner.error());
  }
  return std::unique_ptr<ControlPlaneEtcd>(
      new ControlPlaneEtcd(std::move(*runner), std::move(settings), std::move(plan), duration, clock));
}

ControlPlaneEtcd::ControlPlaneEtcd(std::unique_ptr<cluster::PodRunner> runner, Settings settings,
                                   RunPlan plan, Duration duration, Clock& clock)
    : runner_(std::move(runner)),
      settings_(std::move(settings)),
      plan_(std::move(plan)),
      duration_(duration),
      clock_(clock) {}

ControlPlaneEtcd::~ControlPlaneEtcd() {
  close();
}

const std::string& ControlPlaneEtcd::ns() const {
  return runner_->ns();
}

void ControlPlaneEtcd::close() noexcept {
  if (runner_) {
    runner_->close();
  }
}

engine::PhaseRun ControlPlaneEtcd::skipped(std::string reason) {
  engine::PhaseRun run;
  run.skipped = std::move(reason);
  kube::ApiResult<std::string> text = runner_->api().get_text("/metrics", settings_.metrics_timeout);
  if (!text) {
    run.notes.push_back(fmt::format("the API server's view of etcd is not available either: GET /metrics: {}",
                                    text.error().error.message));
    return run;
  }
  Result<prom::Exposition> page = prom::parse_text(*text);
  Result<ApiserverEtcdView> view =
      page ? apiserver_etcd_view(*page) : Result<ApiserverEtcdView>(std::unexpected(page.error()));
  if (!view) {
    run.notes.push_back(
        fmt::format("the API server's view of etcd is not available either: {}", view.error().message));
    return run;
  }
  run.notes = apiserver_etcd_notes(*view);
  return run;
}

Result<engine::PhaseRun> ControlPlaneEtcd::run(engine::PhaseContext& context) {
  Result<std::vector<cluster::Node>> nodes = runner_->schedulable_nodes();
  if (!nodes) {
    return std::unexpected(nodes.error());
  }
  if (nodes->empty()) {
    return skipped(fmt::format(
        "no schedulable control-plane node (label {} or {}) is visible, so etcd cannot be reached from one "
        "(a managed control plane keeps etcd to itself)",
        kControlPlaneLabel, kLegacyMasterLabel));
  }
  const cluster::AgentPodSpec spec = agent_pod(settings_, plan_, duration_);
  if (Result<void> created = runner_->create_pod(spec); !created) {
    return fail(created.error().kind,
                fmt::format("{} (the etcd agent pod needs the privileged Pod Security level: hostNetwork, a "
                            "read-only hostPath {}, root)",
                            created.error().message, kKubeadmPkiDir));
  }
  Result<cluster::PodInfo> running = runner_->wait_running(spec.name);
  if (!running) {
    // The kubelet's hostPath type check: the node has no kubeadm PKI folder, so there is nothing to measure
    // with, which is not the cluster failing.
    if (running.error().kind == ErrorKind::timeout) {
      if (const cluster::PodRunner::PodEvent event = runner_->last_event(spec.name);
          event.reason == "FailedMount") {
        Result<cluster::PodInfo> stuck = runner_->pod(spec.name);
        return skipped(fmt::format("{} cannot be mounted on control-plane node {}: {}: {}", kKubeadmPkiDir,
                                   stuck ? stuck->node : std::string("?"), kNotKubeadm, event.message));
      }
    }
    return std::unexpected(running.error());
  }
  context.progress.message(
      Phase::etcd, fmt::format("{}/{} on control-plane node {}: kubeproof agent {}", ns(), spec.name,
                               running->node, fmt::join(spec.args.begin(), spec.args.begin() + 3, " ")));
  const Duration budget = duration_ + settings_.request_timeout + kAgentSlack;
  Result<cluster::PodInfo> finished = runner_->wait_finished(spec.name, clock_.now() + budget);
  if (!finished) {
    return std::unexpected(finished.error());
  }
  // Cancelled: the deletion's SIGTERM, and the agent reports what it measured.
  const bool running_still = finished->phase != "Succeeded" && finished->phase != "Failed";
  Result<cluster::json> line = running_still ? runner_->stop_for_result(spec.name, kAgentLineKind)
                                             : runner_->result_line(spec.name, kAgentLineKind);
  if (!line) {
    if (context.cancel.requested()) {
      return engine::PhaseRun{};
    }
    return std::unexpected(line.error());
  }
  Result<engine::PhaseRun> run = parse_agent_line(*line);
  if (!run) {
    if (run.error().kind == ErrorKind::unavailable) {
      return skipped(fmt::format("etcd is not reachable from control-plane node {}: {}", running->node,
                                 run.error().message));
    }
    // The folder is there but not kubeadm's files in it ("etcd cacert: cannot read ...").
    if (run.error().kind == ErrorKind::input &&
        run.error().message.find(kKubeadmPkiDir) != std::string::npos) {
      return skipped(fmt::format("etcd's client certificate is not on control-plane node {}: {}: {}",
                                 running->node, kNotKubeadm, run.error().message));
    }
    return fail(
        run.error().kind == ErrorKind::protocol ? ErrorKind::io : run.error().kind,
        fmt::format("etcd agent pod {}/{} on {}: {}", ns(), spec.name, running->node, run.error().message));
  }
  for (Measurement& m : run->measurements) {
    m.source = fmt::format("kubeproof agent etcd pod on control-plane node {}: {}", running->node, m.source);
  }
  run->notes.insert(run->notes.begin(), plan_.notes.begin(), plan_.notes.end());
  return run;
}

}  // namespace kp::drivers::etcd
