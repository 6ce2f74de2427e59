#include "drivers/net/phase_flow.hpp"

#include <fmt/format.h>

#include "drivers/net/result_series.hpp"
#include "drivers/net/stress.hpp"
#include "load/criteria_view.hpp"
#include "load/validity.hpp"

namespace kp::drivers::net {
namespace {

std::string us(const Histogram& histogram, double percentile) {
  return fmt::format("{:.1f} us", double(histogram.value_at_percentile(percentile)) / 1e3);
}

bool is_catalog_test(const std::string& metric) {
  return metric.starts_with("net.pod_to_pod.") || metric.starts_with("net.pod_to_service.");
}

Measurement to_measurement(const PlannedTest& test, const ClientResult& r, const FlowPath& path,
                           std::optional<double> expected_bps) {
  Measurement m;
  m.metric = test.metric;
  m.source = fmt::format("kubeproof agent net-client {} -> {} ({})", path.client, test.target, test.path);
  std::string cpu = fmt::format("client CPU {:.2f}", r.client_cpu.utilization());
  if (r.server_cpu) {
    cpu += fmt::format(", server CPU {:.2f}", r.server_cpu->utilization());
  }
  if (is_stream(r.spec.scenario)) {
    m.value = r.throughput_bps;
    m.note = fmt::format("{}: {} goodput; {} retransmits; {}; {}", describe(r.spec), r.throughput_source,
                         r.retransmits, cpu, path.medium);
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
    if (r.timeouts > 0) {
      m.note += fmt::format("; {} requests without an answer within {}", r.timeouts,
                            format_duration(r.spec.response_timeout));
    }
    if (path.qualifier) {
      m.note += fmt::format("; {}", path.medium);
    }
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

bool measured(const ClientResult& r) {
  return r.measured > Duration::zero() &&
         (is_stream(r.spec.scenario) ? r.throughput_bps > 0 : r.transactions > 0);
}

class PathRun {
 public:
  PathRun(engine::PhaseContext& context, const Settings& settings, const NetPhasePlan& plan,
          const FlowPath& path, const RunClients& run_clients, engine::PhaseRun& run)
      : context_(context),
        settings_(settings),
        plan_(plan),
        path_(path),
        run_clients_(run_clients),
        run_(run),
        criteria_(context.criteria) {}

  void run() {
    const std::optional<double> tightest = criteria_.tightest_latency_target(Phase::network);
    std::vector<PlannedTest> tests;
    for (PlannedTest test : plan_.tests) {
      const bool service = test.metric == "net.pod_to_service.latency.p99";
      if (service && path_.service.empty()) {
        continue;  // a host-network baseline has no Service in front of it
      }
      test.target = service ? path_.service : path_.server;
      if (service) {
        test.path = path_.service_path;
      }
      tests.push_back(std::move(test));
    }
    if (path_.qualifier) {
      std::vector<PlannedTest> extra = extra_tests(plan_, *path_.qualifier, path_.server);
      tests.insert(tests.end(), extra.begin(), extra.end());
    }
    for (const PlannedTest& test : tests) {
      if (context_.cancel.requested()) {
        break;
      }
      const bool judged = path_.judged && is_catalog_test(test.metric);
      const std::string label = path_.qualifier && is_catalog_test(test.metric)
                                    ? qualified_metric(test.metric, *path_.qualifier)
                                    : test.metric;
      const ServerRole role =
          test.metric == "net.pod_to_service.latency.p99" ? ServerRole::service : ServerRole::server;
      Result<ClientResult> result = run_test(test, role, label, judged);
      if (!result) {
        continue;
      }
      if (!is_stream(test.spec.scenario)) {
        // The one validity rule: only the client's own lateness (not a wait for the server) can void it.
        const load::Validity validity = load::judge_validity(account_of(*result), tightest);
        run_.notes.push_back(fmt::format("{}: {}", label, validity.statement));
        for (const std::string& reason : validity.invalid_reasons) {
          reason_or_note(judged, fmt::format("{}: {}", label, reason));
        }
        if (validity.lateness && judged) {
          run_.lateness.push_back(
              load::LatenessFinding{.reason = fmt::format("{}: {}", label, validity.lateness->reason),
                                    .p99 = validity.lateness->p99});
        }
        if (test.metric == "net.pod_to_pod.latency.p99" && !test.spec.rate && result->complete) {
          closed_loop_rate_ = result->transaction_rate;
        }
      }
      if (measured(*result)) {
        Measurement m = to_measurement(test, *result, path_, plan_.expected_bps);
        if (path_.qualifier && is_catalog_test(test.metric)) {
          Measurement own = m;
          own.metric = label;
          if (judged) {
            m.note += fmt::format("; the judged row is from the {} placement", *path_.qualifier);
            run_.measurements.push_back(std::move(m));
          }
          run_.measurements.push_back(std::move(own));
        } else {
          run_.measurements.push_back(std::move(m));
        }
      }
    }
    if (plan_.stress() && path_.stress && !context_.cancel.requested()) {
      run_stress();
    }
  }

 private:
  // A problem with a judged row makes the phase INVALID; with an informational one it is stated.
  void reason_or_note(bool judged, std::string text) {
    if (judged) {
      run_.invalid_reasons.push_back(std::move(text));
    } else {
      run_.notes.push_back(std::move(text));
    }
  }

  // The result's per-second series to the report's timeline (result_series.hpp), as it arrives.
  void hand_over(const Result<ClientResult>& result, std::string_view name) {
    if (result) {
      hand_over_series(
          context_.progress.live_sink(),
          finished_series(*result, fmt::format("{} {}", to_string(result->spec.scenario), name)));
    }
  }

  Result<ClientResult> run_one(ServerRole role, const std::string& target, const TestSpec& spec,
                               std::optional<int> cpu) {
    std::vector<Result<ClientResult>> results = run_clients_({ClientJob{role, target, spec, cpu}});
    if (results.empty()) {
      return fail(ErrorKind::internal, "network: the client runner returned no result");
    }
    return std::move(results.front());
  }

  // One steady test; its failure is a reason (one test that could not run does not hide the others).
  Result<ClientResult> run_test(const PlannedTest& test, ServerRole role, const std::string& label,
                                bool judged) {
    context_.progress.message(Phase::network, fmt::format("{}: {} from {} to {}", label, describe(test.spec),
                                                          path_.client, test.target));
    Result<ClientResult> result = run_one(role, test.target, test.spec, settings_.client_cpu);
    hand_over(result, label);
    if (!result) {
      reason_or_note(judged, fmt::format("{}: not measured: {}", label, result.error().message));
      context_.progress.message(Phase::network, judged ? run_.invalid_reasons.back() : run_.notes.back());
      return result;
    }
    context_.progress.message(Phase::network, fmt::format("{}: {}", label, summary(*result)));
    if (!result->complete && !result->cancelled) {
      reason_or_note(judged, fmt::format("{}: {}", label, result->error));
    }
    return result;
  }

  void run_stress() {
    const std::optional<double> p99_critical = criteria_.critical("net.pod_to_pod.latency.p99");
    const std::string source =
        fmt::format("kubeproof agent net-client {} -> {} (pod to pod)", path_.client, path_.server);
    auto cancelled = [&] { return context_.cancel.requested(); };
    auto progress = [&](std::string_view unit) {
      return [this, unit](const load::StepRecord& step) {
        context_.progress.message(Phase::network, "stress: " + describe_step(step, unit));
      };
    };

    // Streams: TCP_STREAM and, beside it on the second server, the TCP_RR whose P99 can break the step.
    RunStreamStep stream_step = [&](int streams, bool /*bisection*/) {
      TestSpec stream = plan_.stream;
      stream.streams = streams;
      std::vector<Result<ClientResult>> results =
          run_clients_({ClientJob{ServerRole::server, path_.server, stream, settings_.client_cpu},
                        ClientJob{ServerRole::probe, path_.probe, plan_.probe, std::nullopt}});
      if (results.size() != 2) {
        const Error error{ErrorKind::internal, "network: the client runner lost a result"};
        return StreamStepResult{std::unexpected(error), std::unexpected(error)};
      }
      hand_over(results[0], "stress streams");
      hand_over(results[1], "stress probe");
      return StreamStepResult{std::move(results[0]), std::move(results[1])};
    };
    StreamSearch streams = search_streams(plan_.stream_steps, plan_.bisect, p99_critical, stream_step,
                                          cancelled, progress("streams"));
    if (streams.best) {
      const PlannedTest test{"net.pod_to_pod.throughput", path_.server, "pod to pod", streams.best->spec};
      Measurement m = to_measurement(test, *streams.best, path_, plan_.expected_bps);
      m.note = "stress: the most any stream step carried; " + m.note;
      run_.measurements.push_back(std::move(m));
    }
    if (streams.result.breaking_level) {
      run_.measurements.push_back(breaking_point(streams.result, source));
    }
    run_.stress.push_back(streams.result);
    if (context_.cancel.requested()) {
      return;
    }

    // The RR rate: the ramp over the explicit rate, or over half the closed-loop rate measured above.
    const bool measured_base = !settings_.rate.is_fixed();
    const std::optional<double> base =
        settings_.rate.is_fixed() ? std::optional<double>(settings_.rate.rate.per_second) : closed_loop_rate_;
    if (!base || !(*base > 0)) {
      run_.notes.push_back(
          "stress: no TCP_RR rate search: the closed-loop TCP_RR that gives its base rate did not complete");
      return;
    }
    Result<load::Schedule> schedule = rr_stress_schedule(settings_, plan_, Rate{*base}, measured_base);
    if (!schedule) {
      run_.notes.push_back(fmt::format("stress: no TCP_RR rate search: {}", schedule.error().message));
      return;
    }
    for (const std::string& note : schedule->notes) {
      run_.notes.push_back("TCP_RR " + note);
    }
    std::vector<double> ramp;
    for (const load::Step& step : schedule->steps) {
      ramp.push_back(step.rate ? step.rate->per_second : 0);
    }
    std::vector<std::pair<double, ClientResult>> results;
    RunRateStep rate_step = [&](Rate rate, bool bisection) -> Result<ClientResult> {
      TestSpec rr = plan_.rr_step;
      rr.rate = rate;
      rr.duration = bisection ? schedule->bisect_step_duration : schedule->steps.front().duration;
      Result<ClientResult> ran = run_one(ServerRole::server, path_.server, rr, settings_.client_cpu);
      hand_over(ran, "stress rate");
      if (ran) {
        results.emplace_back(rate.per_second, *ran);
      }
      return ran;
    };
    load::StressResult rate =
        search_rate(ramp, schedule->bisect, schedule->base.value_or(Rate{*base}).per_second, p99_critical,
                    rate_step, cancelled, progress("/s"));
    if (rate.breaking_level) {
      run_.measurements.push_back(breaking_point(rate, source));
      // Whether the step that broke was the client's doing or the server's: its own account says.
      for (const auto& [level, result] : results) {
        if (level == *rate.breaking_level) {
          const load::Validity validity =
              load::judge_validity(account_of(result), criteria_.tightest_latency_target(Phase::network));
          run_.notes.push_back(
              fmt::format("net.pod_to_pod.breaking_rate: the step that broke: {}{}", validity.statement,
                          validity.valid() ? std::string() : "; " + validity.invalid_reasons.front()));
        }
      }
    }
    run_.stress.push_back(std::move(rate));
  }

  engine::PhaseContext& context_;
  const Settings& settings_;
  const NetPhasePlan& plan_;
  const FlowPath& path_;
  const RunClients& run_clients_;
  engine::PhaseRun& run_;
  const load::CriteriaView criteria_;
  std::optional<double> closed_loop_rate_;
};

}  // namespace

std::string qualified_metric(std::string_view metric, std::string_view qualifier) {
  if (metric == "net.pod_to_pod.throughput") {
    return fmt::format("net.{}.throughput", qualifier);
  }
  if (metric == "net.pod_to_pod.latency.p99") {
    return fmt::format("net.{}.latency.p99", qualifier);
  }
  if (metric == "net.pod_to_service.latency.p99") {
    return fmt::format("net.{}.service_latency.p99", qualifier);
  }
  return std::string(metric);
}

std::vector<PlannedTest> extra_tests(const NetPhasePlan& plan, std::string_view qualifier,
                                     const std::string& server) {
  const PlannedTest* rr = nullptr;
  for (const PlannedTest& test : plan.tests) {
    if (test.metric == "net.pod_to_pod.latency.p99") {
      rr = &test;
    }
  }
  if (rr == nullptr) {
    return {};
  }
  std::vector<PlannedTest> out;
  TestSpec udp = rr->spec;
  udp.scenario = Scenario::udp_rr;
  out.push_back({fmt::format("net.{}.udp_rr.p99", qualifier), server, "pod to pod", udp});
  TestSpec crr = rr->spec;
  crr.scenario = Scenario::tcp_crr;
  out.push_back({fmt::format("net.{}.tcp_crr.p99", qualifier), server, "pod to pod", crr});
  return out;
}

void run_path(engine::PhaseContext& context, const Settings& settings, const NetPhasePlan& plan,
              const FlowPath& path, const RunClients& run_clients, engine::PhaseRun& run) {
  PathRun(context, settings, plan, path, run_clients, run).run();
}

}  // namespace kp::drivers::net
