#include "drivers/dns/driver.hpp"

#include <fmt/format.h>

#include "drivers/dns/dns_phase.hpp"
#include "lab/lab.hpp"
#include "lab/unbound_service.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::dns {
namespace {

class DnsDriver final : public engine::Driver {
 public:
  explicit DnsDriver(std::filesystem::path lab_dir) : lab_dir_(std::move(lab_dir)) {}

  Phase phase() const override { return Phase::dns; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path =
        (context.phase.path.empty() ? std::string("dns") : context.phase.path) + ".settings";
    Result<Settings> settings =
        parse_settings(context.phase.settings, file, path, context.plan.source.parent_path());
    if (!settings) {
      return std::unexpected(settings.error());
    }
    const std::string where = fmt::format("{}: {}", file, path);
    if (Result<void> valid = dns::validate(*settings, where); !valid) {
      return valid;
    }
    if (context.plan.target == config::Target::cluster && settings->server.empty()) {
      return fail(
          ErrorKind::input,
          fmt::format("{}.server: required for --target cluster: the cluster DNS service address reachable "
                      "from here (kubectl -n kube-system get svc kube-dns), e.g. 10.96.0.10, and "
                      "metrics_url for CoreDNS's cache statistics, e.g. http://<coredns pod>:9153/metrics",
                      where));
    }
    // The schedule now, so a missing capacity.dns_qps is an input error before anything runs.
    Result<RunShape> shape = shape_run(*settings, context.plan.capacity, context.phase.load,
                                       context.phase.duration, context.plan.type, file);
    if (!shape) {
      return std::unexpected(shape.error());
    }
    settings_ = std::move(*settings);
    shape_ = std::move(*shape);
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    ServerAddress server;
    std::unique_ptr<CacheStatsSource> stats;
    std::string control = settings_.unbound_control;
    if (settings_.server.empty()) {
      // --target local: the lab's caching unbound. Not started -> unavailable -> the phase is SKIPPED.
      Result<std::map<std::string, std::string>> lab = lab::endpoints(lab_dir_, lab::kUnboundService);
      if (!lab) {
        return std::unexpected(lab.error());
      }
      auto dns = lab->find("dns");
      if (dns == lab->end()) {
        return fail(
            ErrorKind::unavailable,
            fmt::format("the lab's {} has no dns endpoint (state dir \"{}\"); restart it with `kubeproof "
                        "lab down && kubeproof lab up`",
                        lab::kUnboundService, lab_dir_.string()));
      }
      Result<ServerAddress> address = parse_server(dns->second);
      if (!address) {
        return std::unexpected(address.error());
      }
      server = *address;
      if (auto lab_control = lab->find("control");
          control.empty() && settings_.metrics_url.empty() && lab_control != lab->end()) {
        control = lab_control->second;
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
    if (!phase_) {
      return fail(ErrorKind::internal, "dns driver: run() before a successful prepare()");
    }
    return phase_->run(context.cancel);
  }

  void teardown(engine::PhaseContext& /*context*/) noexcept override { phase_.reset(); }

 private:
  std::filesystem::path lab_dir_;
  Settings settings_;
  RunShape shape_;
  std::unique_ptr<DnsPhase> phase_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir) {
  return std::make_unique<DnsDriver>(std::move(lab_dir));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir) {
  return [lab_dir](const config::Plan& plan) { return make_driver(plan, lab_dir); };
}

}  // namespace kp::drivers::dns
