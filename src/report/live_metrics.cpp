#include "report/live_metrics.hpp"

#include <fmt/format.h>
#include <chrono>
#include <set>

#include "report/prometheus_text.hpp"
#include "report/report_text.hpp"

namespace kp::report {
namespace {

using detail::Exposition;

double unix_seconds(WallTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

}  // namespace

LiveMetrics::LiveMetrics(LiveRunInfo info) : info_(std::move(info)) {}

void LiveMetrics::add(const LiveDelta& delta) {
  std::lock_guard lock(mutex_);
  Totals& totals = totals_[{delta.phase, std::string(delta.series)}];
  totals.ok += delta.ok;
  totals.errors += delta.errors;
  for (std::size_t i = 0; i < kLiveBuckets; ++i) {
    totals.buckets[i] += delta.buckets[i];
  }
  totals.latency_sum_ns += delta.latency_sum_ns;
  totals.bytes += delta.bytes;
}

void LiveMetrics::phase_started(Phase phase, WallTime at) {
  std::lock_guard lock(mutex_);
  phases_[phase].started = at;
}

void LiveMetrics::phase_finished(Phase phase, const std::vector<Measurement>& measurements,
                                 eval::Verdict verdict, WallTime at) {
  std::lock_guard lock(mutex_);
  PhaseState& state = phases_[phase];
  state.finished = at;
  state.verdict = verdict;
  state.measurements = measurements;
}

void LiveMetrics::run_finished(eval::Verdict overall) {
  std::lock_guard lock(mutex_);
  overall_ = overall;
}

std::vector<std::string_view> LiveMetrics::families() {
  return {"kubeproof_live_run_info",
          "kubeproof_live_phase_running",
          "kubeproof_live_phase_start_time_seconds",
          "kubeproof_live_phase_end_time_seconds",
          "kubeproof_live_completions_total",
          "kubeproof_live_latency_seconds",
          "kubeproof_live_bytes_total",
          "kubeproof_metric",
          "kubeproof_phase_verdict",
          "kubeproof_verdict"};
}

std::string LiveMetrics::render() const {
  std::lock_guard lock(mutex_);
  Exposition out;
  out.family("kubeproof_live_run_info", "The run being measured; 1 while the exporter is up.");
  out.sample("kubeproof_live_run_info",
             {{"run_id", info_.run_id}, {"plan", info_.plan}, {"type", info_.type}, {"target", info_.target}},
             1);

  out.family("kubeproof_live_phase_running", "1 while the phase runs (prepare to teardown), else 0.");
  for (Phase phase : kFlowOrder) {
    const auto it = phases_.find(phase);
    const bool running = it != phases_.end() && it->second.started && !it->second.finished;
    out.sample("kubeproof_live_phase_running", {{"phase", to_string(phase)}}, running ? 1 : 0);
  }
  out.family("kubeproof_live_phase_start_time_seconds", "When the phase started, Unix time.");
  for (const auto& [phase, state] : phases_) {
    if (state.started) {
      out.sample("kubeproof_live_phase_start_time_seconds", {{"phase", to_string(phase)}},
                 unix_seconds(*state.started));
    }
  }
  out.family("kubeproof_live_phase_end_time_seconds", "When the phase finished, Unix time.");
  for (const auto& [phase, state] : phases_) {
    if (state.finished) {
      out.sample("kubeproof_live_phase_end_time_seconds", {{"phase", to_string(phase)}},
                 unix_seconds(*state.finished));
    }
  }

  out.family(
      "kubeproof_live_completions_total",
      "Operations the load generators completed, by outcome (ok or error); handed over once per second "
      "per worker thread.",
      "counter");
  for (const auto& [key, totals] : totals_) {
    const std::string_view phase = to_string(key.first);
    out.sample("kubeproof_live_completions_total",
               {{"phase", phase}, {"series", key.second}, {"outcome", "ok"}}, static_cast<double>(totals.ok));
    out.sample("kubeproof_live_completions_total",
               {{"phase", phase}, {"series", key.second}, {"outcome", "error"}},
               static_cast<double>(totals.errors));
  }
  out.family("kubeproof_live_latency_seconds",
             "Latency of the successful operations (open loop: from the intended send time), coarse buckets "
             "for watching; verdicts use the exact histograms.",
             "histogram");
  for (const auto& [key, totals] : totals_) {
    const std::string_view phase = to_string(key.first);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLiveBuckets; ++i) {
      cumulative += totals.buckets[i];
      const std::string le =
          i < kLiveBucketBounds.size() ? detail::prometheus_sample_value(kLiveBucketBounds[i]) : "+Inf";
      out.sample("kubeproof_live_latency_seconds_bucket", {{"phase", phase}, {"series", key.second}},
                 {"le", le}, static_cast<double>(cumulative));
    }
    out.sample("kubeproof_live_latency_seconds_sum", {{"phase", phase}, {"series", key.second}},
               static_cast<double>(totals.latency_sum_ns) / 1e9);
    out.sample("kubeproof_live_latency_seconds_count", {{"phase", phase}, {"series", key.second}},
               static_cast<double>(totals.ok));
  }

  out.family("kubeproof_live_bytes_total",
             "Payload bytes the network phase's stream tests moved (sent by the client), handed over once a "
             "second; rate() of it is the throughput while the test runs.",
             "counter");
  for (const auto& [key, totals] : totals_) {
    if (key.first == Phase::network) {
      out.sample("kubeproof_live_bytes_total", {{"phase", to_string(key.first)}, {"series", key.second}},
                 static_cast<double>(totals.bytes));
    }
  }

  out.family(
      "kubeproof_metric",
      "Measured value of a kubeproof metric in its base unit (s, 1/s, ratio, bit/s, count, B), once its "
      "phase finished.");
  std::set<std::string> seen;  // across phases, as metrics.prom
  for (const auto& [phase, state] : phases_) {
    detail::measurement_samples(out, "kubeproof_metric", phase, state.measurements, false, seen);
  }
  out.family("kubeproof_phase_verdict", "Verdict of a phase: 1 on the series whose verdict label holds.");
  for (const auto& [phase, state] : phases_) {
    if (state.verdict) {
      out.sample("kubeproof_phase_verdict",
                 {{"phase", to_string(phase)}, {"verdict", eval::to_string(*state.verdict)}}, 1);
    }
  }
  out.family("kubeproof_verdict",
             "Overall verdict of the run, once it is known: 1 on the series whose label holds.");
  if (overall_) {
    // The labels metrics.prom gives it, so one query finds both.
    out.sample("kubeproof_verdict",
               {{"verdict", eval::to_string(*overall_)}, {"profile", info_.type}, {"command", "run"}}, 1);
  }
  return out.take();
}

}  // namespace kp::report
