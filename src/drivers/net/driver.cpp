#include "drivers/net/driver.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "drivers/net/settings.hpp"
#include "lab/netns.hpp"

namespace kp::drivers::net {
namespace {

constexpr Duration kServerReady = std::chrono::seconds(10);
constexpr Duration kServerStopGrace = std::chrono::seconds(3);

struct PlannedTest {
  std::string metric;
  std::string target;  // host:port the client connects to
  std::string path;    // for people: "pod to pod", "pod to service (DNAT 10.237.1.10:80)"
  TestSpec spec;
};

std::string us(const Histogram& histogram, double percentile) {
  return fmt::format("{:.1f} us", double(histogram.value_at_percentile(percentile)) / 1e3);
}

Measurement to_measurement(const PlannedTest& test, const ClientResult& r, const lab::NetnsRecord& lab) {
  Measurement m;
  m.metric = test.metric;
  m.source = fmt::format("kubeproof agent net-client in {} -> {} ({})", lab.layout.client_ns, test.target,
                         test.path);
  std::string cpu = fmt::format("client CPU {:.2f}", r.client_cpu.utilization());
  if (r.server_cpu) {
    cpu += fmt::format(", server CPU {:.2f}", r.server_cpu->utilization());
  }
  if (is_stream(r.spec.scenario)) {
    m.value = r.throughput_bps;
    m.note = fmt::format("{}: {} goodput; {} retransmits; {}; lab veth between network namespaces",
                         describe(r.spec), r.throughput_source, r.retransmits, cpu);
  } else {
    m.value = double(r.latency.corrected.value_at_percentile(99)) / 1e9;
    m.histogram = r.latency.corrected;
    m.note = fmt::format("{}: round trip P50 {}, P90 {}, P99 {}, P99.9 {}; {:.0f} transactions/s; {}",
                         describe(r.spec), us(r.latency.corrected, 50), us(r.latency.corrected, 90),
                         us(r.latency.corrected, 99), us(r.latency.corrected, 99.9), r.transaction_rate, cpu);
  }
  if (!r.complete) {
    m.note += fmt::format("; incomplete: {}", r.error);
  }
  return m;
}

class NetDriver final : public engine::Driver {
 public:
  NetDriver(std::filesystem::path lab_dir, AgentCommand agent)
      : lab_dir_(std::move(lab_dir)), agent_(std::move(agent)) {}

  Phase phase() const override { return Phase::network; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path =
        (context.phase.path.empty() ? std::string("network") : context.phase.path) + ".settings";
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    settings_ = *settings;
    // The specs must pass the agent's own checks, or the error would only surface mid-run.
    for (const PlannedTest& test : plan_tests(context.phase.duration, lab::NetnsLayout{})) {
      if (Result<void> ok = net::validate(test.spec, FieldStyle::key); !ok) {
        return fail(ErrorKind::input, fmt::format("{}: {}.{}", file, path, ok.error().message));
      }
    }
    return {};
  }

  Result<void> prepare(engine::PhaseContext& context) override {
    if (context.plan.target == config::Target::cluster) {
      return fail(
          ErrorKind::unavailable,
          "the network phase on --target cluster needs the in-cluster agent runner (not yet available); "
          "--target local measures the lab's network namespaces");
    }
    if (::geteuid() != 0) {
      return fail(
          ErrorKind::unavailable,
          fmt::format("the network phase needs root to run its agents inside the lab's network namespaces "
                      "(running as uid {}): run as root, after `kubeproof lab up` as root",
                      ::geteuid()));
    }
    Result<lab::NetnsRecord> lab = lab::netns_for_phase(lab_dir_);
    if (!lab) {
      return std::unexpected(lab.error());
    }
    lab_ = *lab;
    const std::string listen = fmt::format("0.0.0.0:{}", lab_->layout.server_port);
    Result<LabServer> server = start_lab_server(agent_, lab_->layout.server_ns, listen, Duration::zero(),
                                                settings_.server_cpu, context.clock, kServerReady);
    if (!server) {
      return std::unexpected(server.error());
    }
    server_.emplace(std::move(*server));
    context.progress.message(Phase::network,
                             fmt::format("net-server in {} listening on {} ({})", lab_->layout.server_ns,
                                         lab_->layout.server_endpoint(), server_->listening));
    return {};
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (!lab_ || !server_) {
      return fail(ErrorKind::internal, "network driver: run() before a successful prepare()");
    }
    engine::PhaseRun run;
    for (const PlannedTest& test : plan_tests(context.phase.duration, lab_->layout)) {
      if (context.cancel.requested()) {
        break;
      }
      context.progress.message(Phase::network,
                               fmt::format("{}: {} from {} to {}", test.metric, describe(test.spec),
                                           lab_->layout.client_ns, test.target));
      Result<ClientResult> result =
          run_lab_client(agent_, lab_->layout.client_ns, test.target, test.spec, settings_.connect_timeout,
                         settings_.client_cpu, context.clock, context.cancel);
      if (!result) {
        // One test that could not run does not hide the others; the phase is INVALID, saying why.
        run.invalid_reasons.push_back(
            fmt::format("{}: not measured: {}", test.metric, result.error().message));
        context.progress.message(Phase::network, run.invalid_reasons.back());
        continue;
      }
      context.progress.message(Phase::network, fmt::format("{}: {}", test.metric, summary(*result)));
      const bool measured =
          result->measured > Duration::zero() &&
          (is_stream(test.spec.scenario) ? result->throughput_bps > 0 : result->transactions > 0);
      if (measured) {
        run.measurements.push_back(to_measurement(test, *result, *lab_));
      }
      if (!result->complete && !result->cancelled) {
        run.invalid_reasons.push_back(fmt::format("{}: {}", test.metric, result->error));
      }
      if (result->pacer && result->pacer->late_fraction() > 0.01) {
        run.invalid_reasons.push_back(
            fmt::format("{}: the client fell behind its schedule ({:.1f} % of requests "
                        "late by more than 1 ms)",
                        test.metric, result->pacer->late_fraction() * 100));
      }
    }
    return run;
  }

  void teardown(engine::PhaseContext& context) noexcept override {
    if (server_) {
      const AgentExit exit = server_->process.stop(context.clock, kServerStopGrace);
      if (exit.timed_out) {
        context.progress.message(Phase::network, "net-server did not stop on SIGTERM; killed");
      }
    }
    server_.reset();
  }

 private:
  std::vector<PlannedTest> plan_tests(Duration phase_duration, const lab::NetnsLayout& layout) const {
    const Duration duration = test_duration(settings_, phase_duration);
    TestSpec stream;
    stream.scenario = Scenario::tcp_stream;
    stream.streams = settings_.streams;
    stream.duration = duration;
    stream.warmup = settings_.warmup;
    stream.message_size = settings_.message_size;
    stream.response_timeout = settings_.response_timeout;
    TestSpec rr;
    rr.scenario = Scenario::tcp_rr;
    rr.streams = 1;
    rr.duration = duration;
    rr.warmup = settings_.warmup;
    rr.request_size = settings_.request_size;
    rr.response_size = settings_.response_size;
    rr.rate = settings_.rate;
    rr.arrival = settings_.arrival;
    rr.response_timeout = settings_.response_timeout;
    return {
        {"net.pod_to_pod.throughput", layout.server_endpoint(), "pod to pod", stream},
        {"net.pod_to_pod.latency.p99", layout.server_endpoint(), "pod to pod", rr},
        {"net.pod_to_service.latency.p99", layout.service_endpoint(),
         fmt::format("pod to service: DNAT {} -> {}", layout.service_endpoint(), layout.server_endpoint()),
         rr},
    };
  }

  std::filesystem::path lab_dir_;
  AgentCommand agent_;
  Settings settings_;
  std::optional<lab::NetnsRecord> lab_;
  std::optional<LabServer> server_;
};

}  // namespace

std::unique_ptr<engine::Driver> make_driver(const config::Plan& /*plan*/, std::filesystem::path lab_dir,
                                            AgentCommand agent) {
  return std::make_unique<NetDriver>(std::move(lab_dir), std::move(agent));
}

engine::DriverFactory driver_factory(std::filesystem::path lab_dir, AgentCommand agent) {
  return [lab_dir, agent](const config::Plan& plan) { return make_driver(plan, lab_dir, agent); };
}

}  // namespace kp::drivers::net
