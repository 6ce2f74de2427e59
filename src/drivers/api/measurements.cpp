#include "drivers/api/measurements.hpp"

#include <fmt/format.h>

namespace kp::drivers::api {
namespace {

constexpr std::string_view kLatencyRows[] = {"api.mutating.p99", "api.readonly.p99", "api.list.p99"};

double seconds_of(std::int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

std::string duration_text(double seconds) {
  return format_quantity(Quantity::duration, seconds);
}

std::string qps_text(double qps) {
  return fmt::format("{:.4g}", qps);
}

std::optional<double> p99_of(const Histogram& histogram) {
  if (histogram.count() == 0) {
    return std::nullopt;
  }
  return seconds_of(histogram.value_at_percentile(99.0));
}

}  // namespace

std::string throttling_text(const LoadStats& stats) {
  if (stats.throttled == 0) {
    return {};
  }
  std::string by;
  for (const auto& [key, count] : stats.throttled_by) {
    by +=
        fmt::format("{}{}: {}", by.empty() ? "" : "; ", key.empty() ? "not named by the server" : key, count);
  }
  return fmt::format(
      "{} 429 answers (API Priority and Fairness) on {} requests, each retried after its Retry-After, the "
      "wait "
      "counted in the latency from the intended send time ({})",
      stats.throttled_answers, stats.throttled, by);
}

engine::PhaseRun measure(const MeasureInput& input) {
  const LoadStats& total = input.stats;
  engine::PhaseRun result;
  const std::string common =
      input.notes.empty() ? std::string() : "; " + fmt::format("{}", fmt::join(input.notes, "; "));
  auto latency = [&](std::string metric, const Histogram& client, const ClassSli* server_sli,
                     std::string what) {
    if (client.count() == 0 && (server_sli == nullptr || !server_sli->p99)) {
      return;
    }
    Measurement m;
    m.metric = std::move(metric);
    m.value = p99_of(client).value_or(0);
    m.histogram = client;
    const std::string client_text = fmt::format("client-side P99 {} over {} {} from the intended send time",
                                                duration_text(m.value), client.count(), what);
    if (server_sli != nullptr && server_sli->p99) {
      m.value = *server_sli->p99;
      m.source = "server /metrics";
      m.note = fmt::format(
          "server-side P99 {} ({} bucket of apiserver_request_duration_seconds, worst series {}, {:g} "
          "requests); {}{}",
          duration_text(*server_sli->p99), bucket_text(*server_sli), server_sli->worst, server_sli->count,
          client_text, common);
    } else {
      m.source = "client";
      m.note = fmt::format("{} (server /metrics not used){}", client_text, common);
    }
    result.measurements.push_back(std::move(m));
  };
  const std::optional<ServerSlis>& server = input.server;
  latency("api.mutating.p99", total.mutating, server ? &server->mutating : nullptr,
          "creates/patches/deletes");
  latency("api.readonly.p99", total.readonly, server ? &server->readonly : nullptr, "GETs");
  latency("api.list.p99", total.list, server ? &server->list : nullptr, "LISTs");

  const double busy = std::chrono::duration<double>(total.busy).count();
  const std::string throttling = throttling_text(total);
  if (total.requests() > 0 && busy > 0) {
    Measurement qps;
    qps.metric = "api.qps";
    qps.value = static_cast<double>(total.ok) / busy;
    // Open loop: the value can only show the rate we asked for (eval must not read a light run as the API
    // server's capacity).
    qps.offered = total.offered_rate();
    qps.source = "client";
    const std::string pace = input.qps > 0 ? fmt::format("paced at {:g}/s (burst {})", input.qps, input.burst)
                                           : std::string("closed loop (rate max)");
    qps.note = fmt::format("{} successful requests in {:.1f}s of job time, {}", total.ok, busy, pace);
    if (qps.offered && qps.value < load::kMinOwnShare * *qps.offered) {
      // The server's shortfall: the generator kept its schedule (validity below says so), the API server
      // did not answer at that rate.
      std::string slowest;
      if (const std::optional<double> p99 =
              server && server->mutating.p99 ? server->mutating.p99 : p99_of(total.mutating)) {
        slowest = fmt::format("; mutating P99 {}", duration_text(*p99));
      }
      qps.note = fmt::format("the API server sustained {} of {} QPS{}; {}", qps_text(qps.value),
                             qps_text(*qps.offered), slowest, qps.note);
    }
    if (total.queued_for_server > 0) {
      qps.note +=
          fmt::format("; {} requests queued for a connection (every in-flight slot held by the server)",
                      total.queued_for_server);
    }
    result.measurements.push_back(std::move(qps));

    Measurement errors;
    errors.metric = "api.error_rate";
    errors.value = static_cast<double>(total.failed) / static_cast<double>(total.requests());
    errors.source = "client";
    std::string breakdown;
    for (const auto& [key, count] : total.failures) {
      breakdown += fmt::format("{}{}: {}", breakdown.empty() ? "" : ", ", key, count);
    }
    errors.note = total.failed == 0 ? fmt::format("0 of {} requests failed", total.requests())
                                    : fmt::format("{} of {} requests failed ({}); first: {}", total.failed,
                                                  total.requests(), breakdown, total.first_errors.front());
    if (!throttling.empty()) {
      errors.note += "; " + throttling;
    }
    result.measurements.push_back(std::move(errors));
  }
  if (!throttling.empty()) {
    result.notes.push_back(throttling);
  }

  // The one validity rule, from the generator's own account.
  const load::Validity validity =
      load::judge_validity(total.account(input.criteria.judged("api.qps")),
                           input.criteria.tightest_latency_target(Phase::api, kLatencyRows));
  result.notes.push_back(validity.statement);
  result.invalid_reasons = validity.invalid_reasons;
  if (validity.lateness) {
    result.lateness.push_back(*validity.lateness);
  }

  const PodStartupResult& startup = input.startup;
  if (startup.pods > 0) {
    Measurement m;
    m.metric = "api.pod_startup.p99";
    m.value = p99_of(startup.startup).value_or(0);
    m.histogram = startup.startup;
    m.source = "client watch";
    std::string stages;
    for (std::size_t i = 0; i < 4; ++i) {
      const Histogram& h = startup.stages[i];
      if (h.count() > 0) {
        stages += fmt::format("{}{} P50 {} P90 {} P99 {}", stages.empty() ? "" : "; ", kPodStageNames[i],
                              duration_text(seconds_of(h.value_at_percentile(50))),
                              duration_text(seconds_of(h.value_at_percentile(90))),
                              duration_text(seconds_of(h.value_at_percentile(99))));
      }
    }
    m.note = fmt::format(
        "{} pods, {} Ready, {} never started within {} (counted at the timeout{}); created -> {}; "
        "condition timestamps disagree by > 2 s for {}",
        startup.pods, startup.started, startup.never_started, format_duration(input.pod_startup_timeout),
        startup.unscheduled > 0
            ? fmt::format(", {} never scheduled: no scheduler or nodes?", startup.unscheduled)
            : "",
        stages.empty() ? "no stage observed" : stages, startup.condition_mismatches);
    if (startup.started == 0) {
      result.invalid_reasons.push_back(fmt::format(
          "none of {} pods became Ready within {}{}", startup.pods,
          format_duration(input.pod_startup_timeout),
          startup.unscheduled == startup.pods ? " (none was scheduled: no scheduler or nodes?)" : ""));
    }
    result.measurements.push_back(std::move(m));
  }
  return result;
}

load::StepRecord step_record(const LoadStats& stats, double offered_qps, const load::CriteriaView& criteria,
                             bool cancelled) {
  load::StepRecord step;
  const double busy = std::chrono::duration<double>(stats.busy).count();
  step.offered = offered_qps;
  step.achieved = busy > 0 ? static_cast<double>(stats.ok) / busy : 0;
  if (stats.mutating.count() > 0) {
    step.p50 = seconds_of(stats.mutating.value_at_percentile(50));
    step.p99 = seconds_of(stats.mutating.value_at_percentile(99));
  }
  step.completed = stats.requests();
  step.errors = stats.failed;
  step.duration = stats.busy;
  step.cancelled = cancelled;
  if (cancelled) {
    return step;
  }
  load::BreakLimits limits{.p99_critical = criteria.critical("api.mutating.p99"),
                           .error_critical = criteria.critical("api.error_rate")};
  step.broke = load::step_break_reason(step, limits, "QPS");
  // GETs have their own, tighter Critical level: one limit per latency row.
  const std::optional<double> readonly_critical = criteria.critical("api.readonly.p99");
  if (const std::optional<double> readonly = p99_of(stats.readonly);
      readonly && readonly_critical && *readonly > *readonly_critical) {
    step.broke += fmt::format("{}read-only P99 {} > critical {}", step.broke.empty() ? "" : ", ",
                              duration_text(*readonly), duration_text(*readonly_critical));
  }
  return step;
}

}  // namespace kp::drivers::api
