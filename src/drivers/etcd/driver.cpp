#include "drivers/etcd/driver.hpp"

#include <fmt/format.h>

#include "drivers/etcd/etcd_phase.hpp"
#include "lab/lab.hpp"

namespace kp::drivers::etcd {
namespace {

class EtcdDriver final : public engine::Driver {
 public:
  explicit EtcdDriver(std::filesystem::path lab_dir) : lab_dir_(std::move(lab_dir)) {}

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
    if (context.plan.target == config::Target::cluster && settings->endpoints.empty()) {
      return fail(
          ErrorKind::input,
          fmt::format("{}.endpoints: required for --target cluster (etcd is reached directly, not through "
                      "the Kubernetes API), e.g. [https://10.0.0.10:2379] with cacert, cert and key from "
                      "/etc/kubernetes/pki/etcd/",
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
    settings_ = std::move(*settings);
    plan_ = std::move(*run_plan);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    Endpoint endpoint{
        .endpoints = settings_.endpoints, .metrics_url = settings_.metrics_url, .tls = settings_.tls};
    if (endpoint.endpoints.empty()) {
      // --target local: the lab's etcd. Not started -> unavailable -> the phase is SKIPPED with the reason.
      Result<std::string> client = lab::endpoint(lab_dir_, "etcd", "client");
      if (!client) {
        return std::unexpected(client.error());
      }
      endpoint.endpoints = {*client};
      if (Result<std::string> metrics = lab::endpoint(lab_dir_, "etcd", "metrics");
          endpoint.metrics_url.empty() && metrics) {
        endpoint.metrics_url = *metrics;
      }
    } else if (endpoint.metrics_url.empty()) {
      endpoint.metrics_url = default_metrics_url(endpoint.endpoints, endpoint.tls);
    }
    engine::ProgressSink& sink = context.progress;
    phase_ = std::make_unique<EtcdPhase>(
        settings_, plan_, context.clock, [&sink](std::string_view text) { sink.message(Phase::etcd, text); },
        context.criteria);
    phase_->set_live_sink(sink.live_sink());
    return phase_->prepare(endpoint);
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
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
  }

 private:
  static Result<void> validate_settings(const Settings& settings, std::string_view where) {
    return etcd::validate(settings, where);
  }

  std::filesystem::path lab_dir_;
  Settings settings_;
  RunPlan plan_;
  std::unique_ptr<EtcdPhase> phase_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  return std::make_unique<EtcdDriver>(std::move(lab_dir));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  return [lab_dir](const config::Plan& plan) { return make_driver(plan, lab_dir); };
}

}  // namespace kp::drivers::etcd
