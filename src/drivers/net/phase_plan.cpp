#include "drivers/net/phase_plan.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kp::drivers::net {
namespace {

std::string percent(double fraction) {
  return fmt::format("{:g} %", fraction * 100);
}

std::string bandwidth_text(double bps) {
  return format_quantity(Quantity::bandwidth, bps);
}

}  // namespace

Result<NetPhasePlan> plan_phase(const Settings& settings, const config::Plan& plan,
                                const config::PhasePlan& phase, const lab::NetnsLayout& layout) {
  NetPhasePlan out;
  out.type = plan.type;
  const bool stress = plan.type == config::TestType::stress;
  const int series = stress ? 4 : 3;
  const Duration each =
      settings.duration ? *settings.duration : std::max<Duration>(phase.duration / series, kMinStepDuration);

  // TCP_STREAM against capacity.pod_network x load.
  const std::string where = config::phase_location(plan, phase);
  if (plan.capacity.pod_network) {
    const double capacity = plan.capacity.pod_network->bits_per_second;
    if (!(capacity > 0) || !std::isfinite(capacity)) {
      return fail(ErrorKind::input, fmt::format("{}: capacity.pod_network: must be > 0, got \"{}\"", where,
                                                bandwidth_text(capacity)));
    }
    out.expected_bps = capacity * phase.load;
    out.notes.push_back(fmt::format(
        "TCP_STREAM: closed loop (streams write as fast as the path takes it; throughput is the most it "
        "carries), judged against {} = capacity.pod_network {} x load {}",
        bandwidth_text(*out.expected_bps), bandwidth_text(capacity), percent(phase.load)));
  } else {
    out.notes.push_back(
        "TCP_STREAM: closed loop; the plan states no capacity.pod_network, so throughput is judged against "
        "the criteria only");
  }

  TestSpec stream;
  stream.scenario = Scenario::tcp_stream;
  stream.streams = settings.streams;
  stream.duration = each;
  stream.warmup = settings.warmup;
  stream.message_size = settings.message_size;
  stream.response_timeout = settings.response_timeout;

  // TCP_RR at its rate setting: explicit, or max (closed loop). The resolver states which in its notes.
  Result<load::Schedule> rr_schedule = load::resolve_schedule(load::ScheduleInput{
      .rate = settings.rate,
      .capacity = load::CapacityRef{.field = "capacity.pod_network", .per_second = std::nullopt},
      .load = phase.load,
      .type = config::TestType::load,  // the latency tests run steady in every test type
      .duration = each,
      .stress = settings.stress,
      .where = where,
      .owner = "the network phase"});
  if (!rr_schedule) {
    return std::unexpected(rr_schedule.error());
  }
  for (const std::string& note : rr_schedule->notes) {
    out.notes.push_back("TCP_RR: " + note);
  }
  TestSpec rr;
  rr.scenario = Scenario::tcp_rr;
  rr.streams = 1;
  rr.duration = each;
  rr.warmup = settings.warmup;
  rr.request_size = settings.request_size;
  rr.response_size = settings.response_size;
  rr.rate = rr_schedule->rate();
  rr.arrival = settings.arrival;
  rr.response_timeout = settings.response_timeout;

  if (!stress) {
    out.tests.push_back({"net.pod_to_pod.throughput", layout.server_endpoint(), "pod to pod", stream});
  }
  out.tests.push_back({"net.pod_to_pod.latency.p99", layout.server_endpoint(), "pod to pod", rr});
  out.tests.push_back(
      {"net.pod_to_service.latency.p99", layout.service_endpoint(),
       fmt::format("pod to service: DNAT {} -> {}", layout.service_endpoint(), layout.server_endpoint()),
       rr});
  if (!stress) {
    return out;
  }

  out.stream_steps = settings.stress_streams;
  out.bisect = settings.stress.bisect;
  const auto slots = static_cast<std::int64_t>(out.stream_steps.size()) + out.bisect;
  out.stream_step = std::max<Duration>(each / std::max<std::int64_t>(1, slots), kMinStepDuration);
  out.stream = stream;
  out.stream.duration = out.stream_step;
  out.probe = rr;
  out.probe.rate = kProbeRate;
  out.probe.duration = out.stream_step;
  out.rr_step = rr;
  out.rr_series = each;
  std::string steps;
  for (int n : out.stream_steps) {
    steps += (steps.empty() ? "" : ", ") + std::to_string(n);
  }
  out.notes.push_back(fmt::format(
      "stress: TCP_STREAM over {} parallel streams, {} each, then up to {} bisection steps; a step breaks "
      "when "
      "throughput grows less than {} over the last step held, or the TCP_RR measured alongside it (open "
      "loop at {}/s) has P99 beyond net.pod_to_pod.latency.p99's critical level",
      steps, format_duration(out.stream_step), out.bisect, percent(kMinStreamGrowth), kProbeRate.per_second));
  return out;
}

Result<load::Schedule> rr_stress_schedule(const Settings& settings, const NetPhasePlan& plan, Rate base,
                                          bool measured) {
  // One connection in open loop breaks below its closed-loop rate (that rate is back to back, with no slack
  // left for arrival jitter), so a measured base starts the ramp at half of it: the ramp then spans the
  // range where the break lies, and the bisection resolves it.
  const double per_second = measured ? base.per_second * kMeasuredBaseShare : base.per_second;
  load::ScheduleInput input{
      .rate = load::RateSetting::from_capacity(),
      .capacity =
          load::CapacityRef{.field = measured ? "half the closed-loop TCP_RR rate" : "the TCP_RR rate",
                            .per_second = per_second},
      .load = 1.0,
      .type = config::TestType::stress,
      .duration = plan.rr_series,
      .stress = settings.stress,
      .where = "",
      .owner = "the network phase's TCP_RR"};
  Result<load::Schedule> schedule = load::resolve_schedule(input);
  if (!schedule) {
    return schedule;
  }
  for (load::Step& step : schedule->steps) {
    step.duration = std::max(step.duration, kMinStepDuration);
  }
  schedule->bisect_step_duration = std::max(schedule->bisect_step_duration, kMinStepDuration);
  return schedule;
}

}  // namespace kp::drivers::net
