#include "drivers/dns/driver.hpp"

#include <fmt/format.h>

#include "cluster/pod_runner.hpp"
#include "drivers/dns/cluster_runner.hpp"
#include "drivers/dns/dns_phase.hpp"
#include "kube/kubeconfig.hpp"
#include "lab/lab.hpp"
#include "lab/unbound_service.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::dns {
namespace {

class DnsDriver final : public engine::Driver {
 public:
  explicit DnsDriver(DriverOptions options) : options_(std::move(options)), lab_dir_(options_.lab_dir) {}

  Phase phase() const override { return Phase::dns; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path = config::settings_path(context.phase);
    Result<Settings> settings =
        parse_settings(context.phase.settings, file, path, context.plan.source.parent_path());
    if (!settings) {
      return std::unexpected(settings.error());
    }
    const std::string where = fmt::format("{}: {}", file, path);
    if (Result<void> valid = dns::validate(*settings, where); !valid) {
      return valid;
    }
    if (context.plan.target == config::Target::cluster) {
      // The agents' resolv.conf names the server and the runner reads CoreDNS: these do not apply.
      for (auto [key, given] : {std::pair{"server", !settings->server.empty()},
                                std::pair{"metrics_url", !settings->metrics_url.empty()},
                                std::pair{"unbound_control", !settings->unbound_control.empty()}}) {
        if (given) {
          return fail(ErrorKind::input,
                      fmt::format("{}.{}: does not apply to --target cluster: the agent pods ask the server "
                                  "their resolv.conf names, and the cache counters come from the CoreDNS "
                                  "pods through the API server",
                                  where, key));
        }
      }
      Result<cluster::PodSettings> pods =
          cluster::read_pod_settings(config::YamlField(settings->pods, file, path + ".pods"));
      if (!pods) {
        return std::unexpected(pods.error());
      }
      pod_settings_ = *pods;
      settings->pod_resolver = true;  // every agent walks its own search list
      if (options_.agents) {
        settings->agents = *options_.agents;
      }
    }
    // The schedule now, so a missing capacity.dns_qps is an input error before anything runs.
    Result<RunShape> shape =
        shape_run(*settings, context.plan.capacity, context.phase.load, context.phase.duration,
                  context.plan.type, config::phase_location(context.plan, context.phase));
    if (!shape) {
      return std::unexpected(shape.error());
    }
    settings_ = std::move(*settings);
    shape_ = std::move(*shape);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    if (context.plan.target == config::Target::cluster) {
      // The agent pods hand over live counts through their logs (cluster_runner.hpp).
      shape_.load.live = context.progress.live_sink();
      return prepare_cluster(context);
    }
    ServerAddress server;
    std::unique_ptr<CacheStatsSource> stats;
    std::string control = settings_.unbound_control;
    if (settings_.server.empty()) {
      // --target local: the lab's caching unbound. Not started -> unavailable -> the phase is SKIPPED.
      Result<std::string> dns = lab::endpoint(lab_dir_, lab::kUnboundService, "dns");
      if (!dns) {
        return std::unexpected(dns.error());
      }
      Result<ServerAddress> address = parse_server(*dns);
      if (!address) {
        return std::unexpected(address.error());
      }
      server = *address;
      if (Result<std::string> lab_control = lab::endpoint(lab_dir_, lab::kUnboundService, "control");
          control.empty() && settings_.metrics_url.empty() && lab_control) {
        control = *lab_control;
      }
    } else {
      Result<ServerAddress> address = parse_server(settings_.server);
      if (!address) {
        return std::unexpected(address.error());
      }
      server = *address;
    }
    if (!settings_.metrics_url.empty()) {
      stats = coredns_stats_source(settings_.metrics_url, settings_.stats_timeout);
    } else if (!control.empty()) {
      Result<ServerAddress> address = parse_server(control);
      if (!address) {
        return std::unexpected(address.error());
      }
      stats = unbound_stats_source(*address, settings_.stats_timeout, context.clock);
    }
    RunShape shape = shape_;
    shape.load.live = context.progress.live_sink();
    engine::ProgressSink& sink = context.progress;
    phase_ = std::make_unique<DnsPhase>(
        settings_, std::move(shape), context.clock,
        [&sink](std::string_view text) { sink.message(Phase::dns, text); },
        judging_from(load::CriteriaView(context.criteria)));
    return phase_->prepare(std::move(server), std::move(stats));
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (cluster_) {
      return cluster_->run();
    }
    if (!phase_) {
      return fail(ErrorKind::internal, "dns driver: run() before a successful prepare()");
    }
    return phase_->run(context.cancel);
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override {
    phase_.reset();
    if (cluster_) {
      cluster_->close();  // deletes the namespace and everything in it, on every exit path
      cluster_.reset();
    }
  }

 private:
  Result<void> prepare_cluster(engine::PhaseContext& context) {
    kube::LoadOptions load;
    load.kubeconfig = options_.kubeconfig;
    load.context = options_.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      return std::unexpected(config.error());
    }
    cluster::RunnerOptions runner_options;
    runner_options.run_id = options_.run_id;
    runner_options.phase = "dns";
    runner_options.image = options_.image;
    runner_options.pods = pod_settings_;
    Result<std::unique_ptr<cluster::PodRunner>> runner =
        cluster::PodRunner::open(*config, runner_options, context.clock, context.cancel);
    if (!runner) {
      return std::unexpected(runner.error());
    }
    engine::ProgressSink& sink = context.progress;
    sink.message(Phase::dns, fmt::format("namespace {}: {} agent pod{}, image {} ({})", (*runner)->ns(),
                                         settings_.agents, settings_.agents == 1 ? "" : "s",
                                         runner_options.image.reference, runner_options.image.pull_policy));
    cluster_ = std::make_unique<ClusterDns>(
        std::move(*runner), settings_, shape_, judging_from(load::CriteriaView(context.criteria)),
        settings_.agents, context.clock, context.cancel,
        [&sink](std::string_view text) { sink.message(Phase::dns, text); });
    return cluster_->prepare();
  }

  DriverOptions options_;
  std::filesystem::path lab_dir_;
  cluster::PodSettings pod_settings_;
  std::unique_ptr<ClusterDns> cluster_;
  Settings settings_;
  RunShape shape_;
  std::unique_ptr<DnsPhase> phase_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, DriverOptions options) {
  return std::make_unique<DnsDriver>(std::move(options));
}

engine::DriverFactory driver_factory(DriverOptions options) {
  return [options](const config::Plan& plan) { return make_driver(plan, options); };
}

}  // namespace kp::drivers::dns
