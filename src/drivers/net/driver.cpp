#include "drivers/net/driver.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "drivers/net/phase_plan.hpp"
#include "drivers/net/settings.hpp"
#include "drivers/net/stress.hpp"
#include "lab/netns.hpp"
#include "load/criteria_view.hpp"
#include "load/validity.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::net {
namespace {

constexpr Duration kServerReady = std::chrono::seconds(10);
constexpr Duration kServerStopGrace = std::chrono::seconds(3);

std::string us(const Histogram& histogram, double percentile) {
  return fmt::format("{:.1f} us", double(histogram.value_at_percentile(percentile)) / 1e3);
}

Measurement to_measurement(const PlannedTest& test, const ClientResult& r, const lab::NetnsRecord& lab,
                           std::optional<double> expected_bps) {
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
    if (expected_bps && *expected_bps > 0) {
      m.note += fmt::format("; {:.0f} % of the {} capacity.pod_network x load asks for",
                            100 * r.throughput_bps / *expected_bps,
                            format_quantity(Quantity::bandwidth, *expected_bps));
    }
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

Measurement breaking_point(const load::StressResult& result, const std::string& source) {
  Measurement m;
  m.metric = result.metric;
  m.value = result.breaking_level.value_or(0);
  m.source = source;
  m.note = result.note;
  return m;
}

class NetDriver final : public engine::Driver {
 public:
  NetDriver(std::filesystem::path lab_dir, AgentCommand agent)
      : lab_dir_(std::move(lab_dir)), agent_(std::move(agent)) {}

  Phase phase() const override { return Phase::network; }

  Result<void> validate(const engine::PhaseContext& context) override {
    const std::string file = context.plan.source.string();
    const std::string path = config::settings_path(context.phase);  // the one way to a phase's settings
    Result<Settings> settings = parse_settings(context.phase.settings, file, path);
    if (!settings) {
      return std::unexpected(settings.error());
    }
    settings_ = *settings;
    Result<NetPhasePlan> plan = plan_phase(settings_, context.plan, context.phase, lab::NetnsLayout{});
    if (!plan) {
      return std::unexpected(plan.error());
    }
    // The specs must pass the agent's own checks, or the error would only surface mid-run.
    std::vector<TestSpec> specs;
    for (const PlannedTest& test : plan->tests) {
      specs.push_back(test.spec);
    }
    if (plan->stress()) {
      specs.push_back(plan->stream);
      specs.push_back(plan->probe);
    }
    for (const TestSpec& spec : specs) {
      if (Result<void> ok = net::validate(spec, FieldStyle::key); !ok) {
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
    Result<LabServer> server = start(context, lab_->layout.server_port, settings_.server_cpu);
    if (!server) {
      return std::unexpected(server.error());
    }
    server_.emplace(std::move(*server));
    if (context.plan.type == config::TestType::stress) {
      // The TCP_RR beside each stream step needs a server of its own: a server serves one test at a time.
      Result<LabServer> probe = start(context, probe_port(), std::nullopt);
      if (!probe) {
        return std::unexpected(probe.error());
      }
      probe_server_.emplace(std::move(*probe));
    }
    return {};
  }

  Result<engine::PhaseRun> run(engine::PhaseContext& context) override {
    if (!lab_ || !server_) {
      return fail(ErrorKind::internal, "network driver: run() before a successful prepare()");
    }
    Result<NetPhasePlan> plan = plan_phase(settings_, context.plan, context.phase, lab_->layout);
    if (!plan) {
      return std::unexpected(plan.error());
    }
    const load::CriteriaView criteria(context.criteria);
    const std::optional<double> tightest = criteria.tightest_latency_target(Phase::network);
    engine::PhaseRun run;
    run.notes = plan->notes;
    std::optional<double> closed_loop_rate;
    for (const PlannedTest& test : plan->tests) {
      if (context.cancel.requested()) {
        break;
      }
      Result<ClientResult> result = run_test(context, test, run);
      if (!result) {
        continue;
      }
      if (!is_stream(test.spec.scenario)) {
        // The one validity rule: only the client's own lateness (not a wait for the server) can void it.
        const load::Validity validity = load::judge_validity(account_of(*result), tightest);
        run.notes.push_back(fmt::format("{}: {}", test.metric, validity.statement));
        for (const std::string& reason : validity.invalid_reasons) {
          run.invalid_reasons.push_back(fmt::format("{}: {}", test.metric, reason));
        }
        if (validity.lateness) {
          run.lateness.push_back(
              load::LatenessFinding{.reason = fmt::format("{}: {}", test.metric, validity.lateness->reason),
                                    .p99 = validity.lateness->p99});
        }
        if (test.metric == "net.pod_to_pod.latency.p99" && !test.spec.rate && result->complete) {
          closed_loop_rate = result->transaction_rate;
        }
      }
      if (measured(*result)) {
        run.measurements.push_back(to_measurement(test, *result, *lab_, plan->expected_bps));
      }
    }
    if (plan->stress() && !context.cancel.requested()) {
      run_stress(context, *plan, closed_loop_rate, criteria, run);
    }
    return run;
  }

  void teardown(engine::PhaseContext& context) noexcept override {
    for (std::optional<LabServer>* server : {&server_, &probe_server_}) {
      if (*server) {
        const AgentExit exit = (*server)->process.stop(context.clock, kServerStopGrace);
        if (exit.timed_out) {
          context.progress.message(Phase::network, "net-server did not stop on SIGTERM; killed");
        }
      }
      server->reset();
    }
  }

 private:
  std::uint16_t probe_port() const { return static_cast<std::uint16_t>(lab_->layout.server_port + 1); }
  std::string probe_endpoint() const { return fmt::format("{}:{}", lab_->layout.server_ip, probe_port()); }

  Result<LabServer> start(engine::PhaseContext& context, std::uint16_t port, std::optional<int> cpu) {
    const std::string listen = fmt::format("0.0.0.0:{}", port);
    Result<LabServer> server = start_lab_server(agent_, lab_->layout.server_ns, listen, Duration::zero(), cpu,
                                                context.clock, kServerReady);
    if (server) {
      context.progress.message(Phase::network,
                               fmt::format("net-server in {} listening on {}:{} ({})", lab_->layout.server_ns,
                                           lab_->layout.server_ip, port, server->listening));
    }
    return server;
  }

  static bool measured(const ClientResult& r) {
    return r.measured > Duration::zero() &&
           (is_stream(r.spec.scenario) ? r.throughput_bps > 0 : r.transactions > 0);
  }

  // One steady test; its failure is an INVALID reason (one test that could not run does not hide the others).
  Result<ClientResult> run_test(engine::PhaseContext& context, const PlannedTest& test,
                                engine::PhaseRun& run) {
    context.progress.message(Phase::network,
                             fmt::format("{}: {} from {} to {}", test.metric, describe(test.spec),
                                         lab_->layout.client_ns, test.target));
    Result<ClientResult> result =
        run_lab_client(agent_, lab_->layout.client_ns, test.target, test.spec, settings_.connect_timeout,
                       settings_.client_cpu, context.clock, context.cancel);
    if (!result) {
      run.invalid_reasons.push_back(fmt::format("{}: not measured: {}", test.metric, result.error().message));
      context.progress.message(Phase::network, run.invalid_reasons.back());
      return result;
    }
    context.progress.message(Phase::network, fmt::format("{}: {}", test.metric, summary(*result)));
    if (!result->complete && !result->cancelled) {
      run.invalid_reasons.push_back(fmt::format("{}: {}", test.metric, result->error));
    }
    return result;
  }

  void run_stress(engine::PhaseContext& context, const NetPhasePlan& plan,
                  std::optional<double> closed_loop_rate, const load::CriteriaView& criteria,
                  engine::PhaseRun& run) {
    const std::optional<double> p99_critical = criteria.critical("net.pod_to_pod.latency.p99");
    const std::string source = fmt::format("kubeproof agent net-client in {} -> {} (pod to pod)",
                                           lab_->layout.client_ns, lab_->layout.server_endpoint());
    auto cancelled = [&] { return context.cancel.requested(); };
    auto progress = [&](std::string_view unit) {
      return [&context, unit](const load::StepRecord& step) {
        context.progress.message(Phase::network, "stress: " + describe_step(step, unit));
      };
    };

    // Streams: TCP_STREAM and, beside it on the second server, the TCP_RR whose P99 can break the step.
    RunStreamStep stream_step = [&](int streams, bool /*bisection*/) {
      TestSpec stream = plan.stream;
      stream.streams = streams;
      const std::function<Result<ClientResult>(load::WorkerContext&)> body =
          [&](load::WorkerContext& worker) -> Result<ClientResult> {
        if (worker.index() == 0) {
          return run_lab_client(agent_, lab_->layout.client_ns, lab_->layout.server_endpoint(), stream,
                                settings_.connect_timeout, settings_.client_cpu, context.clock,
                                context.cancel);
        }
        return run_lab_client(agent_, lab_->layout.client_ns, probe_endpoint(), plan.probe,
                              settings_.connect_timeout, std::nullopt, context.clock, context.cancel);
      };
      load::PoolOptions pool;
      pool.count = 2;
      Result<std::pair<std::vector<Result<ClientResult>>, TimePoint>> ran =
          load::run_workers<Result<ClientResult>>(pool, context.clock, body);
      if (!ran) {
        return StreamStepResult{std::unexpected(ran.error()), std::unexpected(ran.error())};
      }
      return StreamStepResult{std::move(ran->first[0]), std::move(ran->first[1])};
    };
    StreamSearch streams = search_streams(plan.stream_steps, plan.bisect, p99_critical, stream_step,
                                          cancelled, progress("streams"));
    if (streams.best) {
      const PlannedTest test{"net.pod_to_pod.throughput", lab_->layout.server_endpoint(), "pod to pod",
                             streams.best->spec};
      Measurement m = to_measurement(test, *streams.best, *lab_, plan.expected_bps);
      m.note = "stress: the most any stream step carried; " + m.note;
      run.measurements.push_back(std::move(m));
    }
    if (streams.result.breaking_level) {
      run.measurements.push_back(breaking_point(streams.result, source));
    }
    run.stress.push_back(streams.result);
    if (context.cancel.requested()) {
      return;
    }

    // The RR rate: the ramp over the explicit rate, or over half the closed-loop rate measured above.
    const bool measured_base = !settings_.rate.is_fixed();
    const std::optional<double> base =
        settings_.rate.is_fixed() ? std::optional<double>(settings_.rate.rate.per_second) : closed_loop_rate;
    if (!base || !(*base > 0)) {
      run.notes.push_back(
          "stress: no TCP_RR rate search: the closed-loop TCP_RR that gives its base rate did not complete");
      return;
    }
    Result<load::Schedule> schedule = rr_stress_schedule(settings_, plan, Rate{*base}, measured_base);
    if (!schedule) {
      run.notes.push_back(fmt::format("stress: no TCP_RR rate search: {}", schedule.error().message));
      return;
    }
    for (const std::string& note : schedule->notes) {
      run.notes.push_back("TCP_RR " + note);
    }
    std::vector<double> ramp;
    for (const load::Step& step : schedule->steps) {
      ramp.push_back(step.rate ? step.rate->per_second : 0);
    }
    std::vector<std::pair<double, ClientResult>> results;
    RunRateStep rate_step = [&](Rate rate, bool bisection) -> Result<ClientResult> {
      TestSpec rr = plan.rr_step;
      rr.rate = rate;
      rr.duration = bisection ? schedule->bisect_step_duration : schedule->steps.front().duration;
      Result<ClientResult> ran =
          run_lab_client(agent_, lab_->layout.client_ns, lab_->layout.server_endpoint(), rr,
                         settings_.connect_timeout, settings_.client_cpu, context.clock, context.cancel);
      if (ran) {
        results.emplace_back(rate.per_second, *ran);
      }
      return ran;
    };
    load::StressResult rate =
        search_rate(ramp, schedule->bisect, schedule->base.value_or(Rate{*base}).per_second, p99_critical,
                    rate_step, cancelled, progress("/s"));
    if (rate.breaking_level) {
      run.measurements.push_back(breaking_point(rate, source));
      // Whether the step that broke was the client's doing or the server's: its own account says.
      for (const auto& [level, result] : results) {
        if (level == *rate.breaking_level) {
          const load::Validity validity =
              load::judge_validity(account_of(result), criteria.tightest_latency_target(Phase::network));
          run.notes.push_back(
              fmt::format("net.pod_to_pod.breaking_rate: the step that broke: {}{}", validity.statement,
                          validity.valid() ? std::string() : "; " + validity.invalid_reasons.front()));
        }
      }
    }
    run.stress.push_back(std::move(rate));
  }

  std::filesystem::path lab_dir_;
  AgentCommand agent_;
  Settings settings_;
  std::optional<lab::NetnsRecord> lab_;
  std::optional<LabServer> server_;
  std::optional<LabServer> probe_server_;
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
