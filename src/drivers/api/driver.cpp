#include "drivers/api/driver.hpp"

#include <fmt/format.h>

#include "drivers/api/api_phase.hpp"
#include "drivers/api/permissions.hpp"
#include "kube/kubeconfig.hpp"
#include "lab/lab.hpp"

namespace kp::drivers::api {
namespace {

// The cluster in precedence order: --kubeconfig/--context, the phase's settings, then (for --target local)
// the lab's kube-apiserver, else kubectl's rules. Reads files only: no request is made.
Result<kube::RestConfig> resolve_rest_config(const config::Plan& plan, const DriverOptions& options,
                                             const Settings& settings) {
  kube::LoadOptions load;
  if (plan.target == config::Target::local && !options.kubeconfig && !settings.kubeconfig) {
    // The SKIPPED reason people read most: one sentence. A lab that is up but has none is the common case
    // (`lab up` starts one only where the binary is), so "start the lab" would be the wrong advice.
    if (Result<std::optional<lab::ServiceRecord>> record =
            lab::read_record(options.lab_dir, "kube-apiserver");
        record && !record->has_value()) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("no kube-apiserver in the local lab (state dir \"{}\"): `kubeproof lab up` starts "
                      "one when KUBEBUILDER_ASSETS or PATH has the kube-apiserver binary",
                      options.lab_dir.string()));
    }
    // Recorded but not running, or without a kubeconfig: the lab's own one-sentence reason.
    Result<std::string> kubeconfig = lab::endpoint(options.lab_dir, "kube-apiserver", "kubeconfig");
    if (!kubeconfig) {
      return std::unexpected(kubeconfig.error());
    }
    load.kubeconfig = *kubeconfig;
  } else if (options.kubeconfig) {
    load.kubeconfig = *options.kubeconfig;
  } else if (settings.kubeconfig) {
    load.kubeconfig = *settings.kubeconfig;
  }
  if (options.context) {
    load.context = options.context;
  } else if (settings.context) {
    load.context = settings.context;
  }
  return kube::load_rest_config(load);
}

Result<Settings> settings_of(const config::Plan& plan, const config::PhasePlan& phase) {
  return parse_settings(phase.settings, plan.source.string(), config::settings_path(phase));
}

// The kernel's schedule for the phase: capacity.api_qps x load (or the explicit rate), the stress ramp.
Result<Shape> shape_of(const config::Plan& plan, const config::PhasePlan& phase, const Settings& settings) {
  return shape_run(settings, plan.capacity, phase.load, phase.duration, plan.type,
                   config::phase_location(plan, phase));
}

class ApiDriver final : public engine::Driver {
 public:
  explicit ApiDriver(DriverOptions options) : options_(std::move(options)) {}

  Phase phase() const override { return Phase::api; }

  Result<void> validate(const engine::PhaseContext& context) override {
    Result<Settings> settings = settings_of(context.plan, context.phase);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    Result<Shape> shape = shape_of(context.plan, context.phase, *settings);
    if (!shape) {
      return std::unexpected(shape.error());
    }
    settings_ = std::move(*settings);
    shape_ = std::move(*shape);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    Result<kube::RestConfig> config = rest_config(context.plan);
    if (!config) {
      return std::unexpected(config.error());
    }
    engine::ProgressSink& sink = context.progress;
    phase_ = std::make_unique<ApiPhase>(
        settings_, shape_, context.phase.duration, context.clock,
        [&sink](std::string_view text) { sink.message(Phase::api, text); },
        options_.run_id.value_or(new_run_id()));
    phase_->set_live_sink(sink.live_sink());
    phase_->set_criteria(context.criteria);
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
    return resolve_rest_config(plan, options_, settings_);
  }

  DriverOptions options_;
  Settings settings_;
  Shape shape_;
  std::unique_ptr<ApiPhase> phase_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, DriverOptions options) {
  return std::make_unique<ApiDriver>(std::move(options));
}

Result<std::vector<std::string>> describe_plan(const config::Plan& plan, const DriverOptions& options) {
  const config::PhasePlan* api = nullptr;
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase == Phase::api && phase.enabled) {
      api = &phase;
    }
  }
  if (api == nullptr) {
    return std::vector<std::string>{};
  }
  Result<Settings> settings = settings_of(plan, *api);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  Result<kube::RestConfig> config = resolve_rest_config(plan, options, *settings);
  if (!config) {
    return std::unexpected(config.error());
  }
  Result<Shape> shape = shape_of(plan, *api, *settings);
  if (!shape) {
    return std::unexpected(shape.error());
  }
  std::vector<std::string> lines = shape->notes;
  // Only describe() is called: the phase never connects.
  ApiPhase phase(
      std::move(*settings), std::move(*shape), api->duration, real_clock(), [](std::string_view) {},
      options.run_id.value_or(new_run_id()));
  std::vector<std::string> described = phase.describe(*config);
  lines.insert(lines.begin(), described.begin(), described.end());
  return lines;
}

Result<std::vector<kube::Permission>> plan_permissions(const config::Plan& plan) {
  for (const config::PhasePlan& phase : plan.phases) {
    if (phase.phase == Phase::api && phase.enabled) {
      Result<Settings> settings = settings_of(plan, phase);
      if (!settings) {
        return std::unexpected(settings.error());
      }
      return required_permissions(*settings);
    }
  }
  return required_permissions(Settings{});
}

engine::DriverFactory driver_factory(DriverOptions options) {
  return [options](const config::Plan& plan) { return make_driver(plan, options); };
}

}  // namespace kp::drivers::api
