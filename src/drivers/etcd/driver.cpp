#include "drivers/etcd/driver.hpp"

#include <fmt/format.h>

#include "drivers/etcd/etcd_phase.hpp"
#include "lab/lab.hpp"

namespace kp::drivers::etcd {
namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    std::size_t end = std::min(text.find(',', begin), text.size());
    if (end > begin) {
      items.push_back(text.substr(begin, end - begin));
    }
    begin = end + 1;
  }
  return items;
}

}  // namespace

Result<Endpoint> resolve_endpoint(const Settings& settings, const std::filesystem::path& lab_dir) {
  Endpoint endpoint{.endpoints = settings.endpoints,
                    .metrics_url = settings.metrics_url,
                    .tls = settings.tls,
                    .member_metrics_urls = {}};
  if (endpoint.endpoints.empty()) {
    // --target local: the lab's etcd. Not started -> unavailable -> the phase is SKIPPED with the reason.
    Result<std::map<std::string, std::string>> lab = lab::endpoints(lab_dir, "etcd");
    if (!lab) {
      return std::unexpected(lab.error());
    }
    Result<std::string> client = lab::endpoint(lab_dir, "etcd", "client");
    if (!client) {
      return std::unexpected(client.error());
    }
    // A lab of several members (`lab up --etcd-members 3`) lists them all on its first member.
    auto listed = [&](std::string_view key, std::string fallback) {
      auto found = lab->find(std::string(key));
      return split_list(found != lab->end() && !found->second.empty() ? found->second : fallback);
    };
    endpoint.endpoints = listed("cluster_clients", *client);
    auto metrics = lab->find("metrics");
    if (endpoint.metrics_url.empty() && metrics != lab->end()) {
      endpoint.metrics_url = metrics->second;
      endpoint.member_metrics_urls = listed("cluster_metrics", metrics->second);
    }
  } else if (endpoint.metrics_url.empty()) {
    endpoint.metrics_url = default_metrics_url(endpoint.endpoints, endpoint.tls);
    endpoint.member_metrics_urls = default_member_metrics_urls(endpoint.endpoints, endpoint.tls);
  }
  return endpoint;
}

namespace {

class EtcdDriver final : public engine::Driver {
 public:
  EtcdDriver(std::filesystem::path lab_dir, ClusterOptions cluster)
      : lab_dir_(std::move(lab_dir)), cluster_options_(std::move(cluster)) {}

  Phase phase() const override { return Phase::etcd; }

  Result<void> validate(const engine::PhaseContext& context) override {
    std::string file = context.plan.source.string();
    std::string path = config::settings_path(context.phase);
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    std::string where = fmt::format("{}: {}", file, path);
    if (Result<void> valid = validate_settings(*settings, where); !valid) {
      return valid;
    }
    const bool pod =
        context.plan.target == config::Target::cluster && settings->from == Source::control_plane_pod;
    if (pod) {
      Result<cluster::PodSettings> pods = cluster::read_pod_settings(config::YamlField(
          settings->pods, file, settings->pods_path.empty() ? path + ".pods" : settings->pods_path));
      if (!pods) {
        return std::unexpected(pods.error());
      }
      pod_settings_ = std::move(*pods);
    } else if (context.plan.target == config::Target::cluster && settings->endpoints.empty()) {
      return fail(
          ErrorKind::input,
          fmt::format("{}.endpoints: required for --target cluster (etcd is reached directly, not through "
                      "the Kubernetes API), e.g. [https://10.0.0.10:2379] with cacert, cert and key from "
                      "/etc/kubernetes/pki/etcd/; or from: control-plane-pod (an agent pod on a "
                      "control-plane node)",
                      where));
    }
    // The rate and the stress ramp are worked out now, so a missing capacity.etcd_ops is an input error
    // before anything runs.
    Result<RunPlan> run_plan =
        plan_run(*settings, PlanInput{.type = context.plan.type,
                                      .capacity = context.plan.capacity.etcd_ops,
                                      .load = context.phase.load,
                                      .duration = context.phase.duration,
                                      .where = config::phase_location(context.plan, context.phase)});
    if (!run_plan) {
      return std::unexpected(run_plan.error());
    }
    if (pod && !run_plan->stress.empty()) {
      return fail(ErrorKind::input,
                  fmt::format("{}.from: control-plane-pod runs smoke and load plans (a fixed rate, or max); "
                              "the stress search runs from: client, got a stress plan",
                              where));
    }
    settings_ = std::move(*settings);
    plan_ = std::move(*run_plan);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    if (context.plan.target == config::Target::cluster && settings_.from == Source::control_plane_pod) {
      Result<std::unique_ptr<ControlPlaneEtcd>> opened =
          ControlPlaneEtcd::open(cluster_options_, settings_, plan_, context.phase.duration, pod_settings_,
                                 context.clock, context.cancel);
      if (!opened) {
        return std::unexpected(opened.error());
      }
      control_plane_ = std::move(*opened);
      context.progress.message(
          Phase::etcd, fmt::format("namespace {}: image {} ({}), an agent pod on a control-plane node",
                                   control_plane_->ns(), cluster_options_.image.reference,
                                   cluster_options_.image.pull_policy));
      return {};
    }
    Result<Endpoint> endpoint = resolve_endpoint(settings_, lab_dir_);
    if (!endpoint) {
      return std::unexpected(endpoint.error());
    }
    engine::ProgressSink& sink = context.progress;
    phase_ = std::make_unique<EtcdPhase>(
        settings_, plan_, context.clock, [&sink](std::string_view text) { sink.message(Phase::etcd, text); },
        context.criteria);
    phase_->set_live_sink(sink.live_sink());
    return phase_->prepare(*endpoint);
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (control_plane_) {
      return control_plane_->run(context);
    }
    if (!phase_) {
      return fail(ErrorKind::internal, "etcd driver: run() before a successful prepare()");
    }
    return phase_->run(context.cancel);
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override {
    if (phase_) {
      phase_->teardown();
    }
    phase_.reset();
    if (control_plane_) {
      control_plane_->close();  // the namespace, and with it the pod, on every exit path
      control_plane_.reset();
    }
  }

 private:
  static Result<void> validate_settings(const Settings& settings, std::string_view where) {
    return etcd::validate(settings, where);
  }

  std::filesystem::path lab_dir_;
  ClusterOptions cluster_options_;
  cluster::PodSettings pod_settings_;
  std::unique_ptr<ControlPlaneEtcd> control_plane_;
  Settings settings_;
  RunPlan plan_;
  std::unique_ptr<EtcdPhase> phase_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  return std::make_unique<EtcdDriver>(std::move(lab_dir), ClusterOptions{});
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  return [lab_dir](const config::Plan& plan) { return make_driver(plan, lab_dir); };
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir, ClusterOptions cluster) {
  return [lab_dir, cluster](const config::Plan& /*plan*/) -> std::unique_ptr<engine::Driver> {
    return std::make_unique<EtcdDriver>(lab_dir, cluster);
  };
}

bool runs_control_plane_pod(const config::Plan& plan, const config::PhasePlan& phase) {
  if (plan.target != config::Target::cluster || phase.phase != Phase::etcd || !phase.enabled) {
    return false;
  }
  Result<Settings> settings =
      parse_settings(phase.settings, plan.source.string(), config::settings_path(phase));
  return settings && settings->from == Source::control_plane_pod;
}

}  // namespace kp::drivers::etcd
