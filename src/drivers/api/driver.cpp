#include "drivers/api/driver.hpp"

#include <fmt/format.h>

#include "drivers/api/api_phase.hpp"
#include "kube/kubeconfig.hpp"
#include "lab/lab.hpp"

namespace kp::drivers::api {
namespace {

class ApiDriver final : public engine::Driver {
 public:
  explicit ApiDriver(DriverOptions options) : options_(std::move(options)) {}

  Phase phase() const override { return Phase::api; }

  Result<void> validate(const engine::PhaseContext& context) override {
    std::string path = (context.phase.path.empty() ? std::string("api") : context.phase.path) + ".settings";
    Result<Settings> settings = parse_settings(context.phase.settings, context.plan.source.string(), path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    settings_ = std::move(*settings);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    Result<kube::RestConfig> config = rest_config(context.plan);
    if (!config) {
      return std::unexpected(config.error());
    }
    Shape shape = shape_run(settings_, context.plan.capacity, context.phase.load, context.phase.duration);
    engine::ProgressSink& sink = context.progress;
    phase_ = std::make_unique<ApiPhase>(
        settings_, std::move(shape), context.phase.duration, context.clock,
        [&sink](std::string_view text) { sink.message(Phase::api, text); },
        options_.run_id.value_or(new_run_id()));
    for (const std::string& line : phase_->describe(*config)) {
      sink.message(Phase::api, line);
    }
    return phase_->prepare(*config);
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (!phase_) {
      return fail(ErrorKind::internal, "api driver: run() before a successful prepare()");
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
  Result<kube::RestConfig> rest_config(const config::Plan& plan) const {
    kube::LoadOptions load;
    if (plan.target == config::Target::local && !options_.kubeconfig && !settings_.kubeconfig) {
      Result<std::map<std::string, std::string>> lab = lab::endpoints(options_.lab_dir, "kube-apiserver");
      if (!lab) {
        return fail(ErrorKind::unavailable,
                    fmt::format("no kube-apiserver in the lab ({}); `kubeproof lab up` starts one when "
                                "KUBEBUILDER_ASSETS or PATH has kube-apiserver",
                                lab.error().message));
      }
      auto kubeconfig = lab->find("kubeconfig");
      if (kubeconfig == lab->end()) {
        return fail(ErrorKind::unavailable, "the lab's kube-apiserver records no kubeconfig endpoint");
      }
      load.kubeconfig = kubeconfig->second;
    } else if (options_.kubeconfig) {
      load.kubeconfig = *options_.kubeconfig;
    } else if (settings_.kubeconfig) {
      load.kubeconfig = *settings_.kubeconfig;
    }
    if (options_.context) {
      load.context = options_.context;
    } else if (settings_.context) {
      load.context = settings_.context;
    }
    return kube::load_rest_config(load);
  }

  DriverOptions options_;
  Settings settings_;
  std::unique_ptr<ApiPhase> phase_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, DriverOptions options) {
  return std::make_unique<ApiDriver>(std::move(options));
}

engine::DriverFactory driver_factory(DriverOptions options) {
  return [options](const config::Plan& plan) { return make_driver(plan, options); };
}

}  // namespace kp::drivers::api
