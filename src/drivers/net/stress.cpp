#include "drivers/net/stress.hpp"

#include <fmt/format.h>

#include "drivers/net/phase_plan.hpp"

namespace kp::drivers::net {
namespace {

std::optional<double> p99_of(const ClientResult& result) {
  if (result.latency.corrected.count() == 0) {
    return std::nullopt;
  }
  return double(result.latency.corrected.value_at_percentile(99)) / 1e9;
}

std::string bandwidth_text(double bps) {
  return format_quantity(Quantity::bandwidth, bps);
}

// Adds `reason` to a step's break reasons.
void add_reason(load::StepRecord& step, const std::string& reason) {
  step.broke += (step.broke.empty() ? "" : ", ") + reason;
}

load::StepRecord stream_record(const StreamStepResult& ran, const load::BreakingPointSearch& search,
                               const load::BreakLimits& limits) {
  load::StepRecord step;
  if (!ran.stream) {
    step.broke = fmt::format("not measured: {}", ran.stream.error().message);
    return step;
  }
  const ClientResult& stream = *ran.stream;
  step.cancelled = stream.cancelled;
  step.duration = stream.measured;
  step.achieved = stream.throughput_bps;
  step.completed = 1;  // the stream step itself; the probe's transactions are counted below
  if (ran.probe) {
    step.p50 = ran.probe->latency.corrected.count() > 0
                   ? std::optional<double>(double(ran.probe->latency.corrected.value_at_percentile(50)) / 1e9)
                   : std::nullopt;
    step.p99 = p99_of(*ran.probe);
    step.completed = ran.probe->transactions + ran.probe->timeouts;
    step.errors = ran.probe->timeouts;
    step.cancelled = step.cancelled || ran.probe->cancelled;
  }
  if (step.cancelled) {
    return step;
  }
  step.broke = load::step_break_reason(step, limits, "streams");
  if (!stream.complete) {
    add_reason(step, fmt::format("streams: {}", stream.error));
  }
  if (!ran.probe) {
    // Without the RR beside it, the latency half of the rule cannot be checked: say so, and judge growth.
    add_reason(step, fmt::format("TCP_RR alongside not measured: {}", ran.probe.error().message));
  } else if (!ran.probe->complete) {
    add_reason(step, fmt::format("TCP_RR alongside: {}", ran.probe->error));
  }
  if (const load::StepRecord* held = search.last_held_step(); held != nullptr && held->achieved > 0) {
    const double growth = stream.throughput_bps / held->achieved - 1;
    if (growth < kMinStreamGrowth) {
      add_reason(step, fmt::format("throughput {} grew {:.1f} % over {} at {:g} streams (less than {:g} %): "
                                   "no more capacity",
                                   bandwidth_text(stream.throughput_bps), growth * 100,
                                   bandwidth_text(held->achieved), held->level, kMinStreamGrowth * 100));
    }
  }
  return step;
}

load::StepRecord rate_record(const Result<ClientResult>& ran, double rate, const load::BreakLimits& limits) {
  load::StepRecord step;
  step.offered = rate;
  if (!ran) {
    step.broke = fmt::format("not measured: {}", ran.error().message);
    return step;
  }
  step.cancelled = ran->cancelled;
  step.duration = ran->measured;
  step.achieved = ran->transaction_rate;
  step.p99 = p99_of(*ran);
  if (ran->latency.corrected.count() > 0) {
    step.p50 = double(ran->latency.corrected.value_at_percentile(50)) / 1e9;
  }
  step.completed = ran->transactions + ran->timeouts;
  step.errors = ran->timeouts;
  if (step.cancelled) {
    return step;
  }
  step.broke = load::step_break_reason(step, limits, "/s");
  if (!ran->complete) {
    // A TCP response later than the response timeout ends the test: the server did not keep up.
    add_reason(step, ran->error);
  }
  return step;
}

}  // namespace

StreamSearch search_streams(const std::vector<int>& steps, int bisect, std::optional<double> p99_critical,
                            const RunStreamStep& run, const Cancelled& cancelled,
                            const StepProgress& progress) {
  std::vector<double> ramp(steps.begin(), steps.end());
  load::BreakingPointSearch search(std::move(ramp), bisect, 0, /*integral=*/true);
  const load::BreakLimits limits{.p99_critical = p99_critical, .error_critical = std::nullopt};
  StreamSearch out;
  while (std::optional<double> level = search.next_level()) {
    if (cancelled()) {
      break;
    }
    const int streams = static_cast<int>(*level);
    StreamStepResult ran = run(streams, search.next_is_bisection());
    load::StepRecord step = stream_record(ran, search, limits);
    if (ran.stream && !step.cancelled && ran.stream->throughput_bps > out.best_bps) {
      out.best_bps = ran.stream->throughput_bps;
      out.best = *ran.stream;
    }
    search.record(step);
    if (progress) {
      progress(search.steps().back());
    }
  }
  out.result = load::summarize(search, "streams", "net.pod_to_pod.breaking_streams", "streams");
  out.result.achieved_unit = "bps";
  return out;
}

load::StressResult search_rate(const std::vector<double>& ramp, int bisect, double base,
                               std::optional<double> p99_critical, const RunRateStep& run,
                               const Cancelled& cancelled, const StepProgress& progress) {
  load::BreakingPointSearch search(ramp, bisect, base);
  const load::BreakLimits limits{.p99_critical = p99_critical, .error_critical = std::nullopt};
  while (std::optional<double> level = search.next_level()) {
    if (cancelled()) {
      break;
    }
    Result<ClientResult> ran = run(Rate{*level}, search.next_is_bisection());
    search.record(rate_record(ran, *level, limits));
    if (progress) {
      progress(search.steps().back());
    }
  }
  return load::summarize(search, "requests", "net.pod_to_pod.breaking_rate", "/s");
}

load::GeneratorAccount account_of(const ClientResult& result) {
  load::GeneratorAccount account;
  account.what = "transactions";
  account.window = result.measured;
  account.rate_judged = false;
  account.throttling = result.throttling;
  if (!result.spec.rate || !result.sends) {
    account.open_loop = false;
    account.sent = result.transactions;
    return account;
  }
  account.open_loop = true;
  account.offered = result.spec.rate->per_second;
  account.due = result.sends->due;
  account.sent = result.sends->sent;
  account.queued_for_server = result.sends->queued_for_server;
  account.unsent_for_server = result.sends->unsent_for_server;
  account.own_lateness = result.sends->own_lateness;
  return account;
}

std::string describe_step(const load::StepRecord& step, std::string_view unit) {
  const std::string level = unit == "streams" ? fmt::format("{:g} streams", step.level)
                                              : format_quantity(Quantity::rate, step.level);
  std::string measured = unit == "streams"
                             ? bandwidth_text(step.achieved)
                             : fmt::format("achieved {}", format_quantity(Quantity::rate, step.achieved));
  if (step.p99) {
    measured += fmt::format(", P99 {}", format_quantity(Quantity::duration, *step.p99));
  }
  const std::string outcome = step.cancelled ? "interrupted" : step.held() ? "held" : "broke: " + step.broke;
  return fmt::format("{}{}: {} ({})", step.bisection ? "bisection " : "", level, measured, outcome);
}

}  // namespace kp::drivers::net
