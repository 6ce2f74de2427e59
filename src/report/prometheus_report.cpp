// Prometheus text exposition (format 0.0.4) of a run's final values: measured values in base units, each
// criteria row's levels and verdict, phase and overall verdicts. Drop metrics.prom into a node_exporter
// textfile directory or push it to a Pushgateway to chart runs over time.

#include <fmt/format.h>
#include <set>

#include "eval/verdict.hpp"
#include "report/prometheus_text.hpp"
#include "report/report_text.hpp"
#include "report/run_report.hpp"

namespace kp::report {

using detail::Exposition;

std::string render_prometheus(const RunReport& report) {
  const eval::Evaluation& evaluation = report.evaluation;
  Exposition out;

  out.family("kubeproof_metric",
             "Measured value of a kubeproof metric in its base unit (s, 1/s, ratio, bit/s, count, B).");
  // A phase that reported a metric twice keeps its first value.
  std::set<std::string> seen;
  for (const eval::PhaseInput& input : report.inputs) {
    detail::measurement_samples(out, "kubeproof_metric", input.phase, input.measurements, false, seen);
  }

  out.family("kubeproof_metric_offered",
             "Rate an open-loop run offered for a rate metric, in its base unit; the measured rate cannot "
             "exceed it.");
  seen.clear();
  for (const eval::PhaseInput& input : report.inputs) {
    detail::measurement_samples(out, "kubeproof_metric_offered", input.phase, input.measurements, true, seen);
  }

  // The breaking point itself is a measurement (kubeproof_metric{id="dns.breaking_rate"}); the level below it
  // that held is only in the search, and is what a capacity plan can count on.
  out.family(
      "kubeproof_stress_last_held",
      "Highest stress step that held, per breaking-point metric, in the series' unit (per second, or a "
      "count of streams or iodepth).");
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    for (const load::StressResult& series : phase.stress) {
      if (series.last_held) {
        out.sample("kubeproof_stress_last_held",
                   {{"id", series.metric}, {"phase", to_string(phase.phase)}, {"series", series.series}},
                   *series.last_held);
      }
    }
  }

  out.family("kubeproof_criterion_target", "Target level of a criteria row, in the metric's base unit.");
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    for (const eval::RowResult& result : phase.rows) {
      if (result.row.target) {
        out.sample("kubeproof_criterion_target",
                   {{"id", result.row.metric},
                    {"table", result.row.table},
                    {"comparison", config::to_string(result.row.comparison)}},
                   *result.row.target);
      }
    }
  }
  out.family("kubeproof_criterion_critical", "Critical level of a criteria row, in the metric's base unit.");
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    for (const eval::RowResult& result : phase.rows) {
      if (result.row.critical) {
        out.sample("kubeproof_criterion_critical",
                   {{"id", result.row.metric},
                    {"table", result.row.table},
                    {"comparison", config::to_string(result.row.comparison)}},
                   *result.row.critical);
      }
    }
  }
  out.family("kubeproof_criterion_verdict",
             "Verdict of a criteria row: 1 on the series whose verdict label holds.");
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    for (const eval::RowResult& result : phase.rows) {
      out.sample("kubeproof_criterion_verdict",
                 {{"id", result.row.metric},
                  {"table", result.row.table},
                  {"verdict", eval::to_string(result.verdict)}},
                 1);
    }
  }
  out.family("kubeproof_phase_verdict", "Verdict of a phase: 1 on the series whose verdict label holds.");
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    out.sample("kubeproof_phase_verdict",
               {{"phase", to_string(phase.phase)}, {"verdict", eval::to_string(phase.verdict)}}, 1);
  }
  out.family("kubeproof_verdict", "Overall verdict of the run: 1 on the series whose verdict label holds.");
  out.sample("kubeproof_verdict",
             {{"verdict", eval::to_string(evaluation.overall)},
              {"profile", report.meta.profile},
              {"command", report.meta.command}},
             1);
  out.family("kubeproof_exit_code",
             "Exit code of the run: 0 PASS, 1 FAIL, 3 CONDITIONAL PASS, 4 invalid/aborted.");
  out.sample("kubeproof_exit_code", {}, eval::exit_code_for(evaluation.overall));
  out.family("kubeproof_duration_scale",
             "Factor applied to every planned duration; not 1 means a shortened run.");
  out.sample("kubeproof_duration_scale", {}, report.meta.duration_scale);
  return out.take();
}

}  // namespace kp::report
