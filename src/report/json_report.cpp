// The JSON report, schema version 3 (docs/report-schema.md). Key order is fixed (ordered_json) so two reports
// diff cleanly. Every value is given in the metric's base unit and, beside it, as text for people.

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "config/load_profile.hpp"
#include "config/metric_catalog.hpp"
#include "eval/verdict.hpp"
#include "report/report_text.hpp"
#include "report/run_report.hpp"
#include "report/stress_text.hpp"

namespace kp::report {
namespace {

using Json = nlohmann::ordered_json;

Json optional_number(std::optional<double> value) {
  // NaN and infinities are not JSON numbers; a reader gets null rather than an invalid document.
  if (!value || !std::isfinite(*value)) {
    return nullptr;
  }
  return *value;
}

Json optional_text(const std::string& text) {
  if (text.empty()) {
    return nullptr;
  }
  return text;
}

Json time_json(WallTime time) {
  return optional_text(detail::iso_utc(time));
}

Json meta_json(const RunMeta& meta) {
  Json tiers = Json::object();
  for (const auto& [group, name] : meta.tiers.chosen) {
    tiers[group] = name;
  }
  Json json = Json::object();
  json["tool_version"] = meta.tool_version;
  json["command"] = meta.command;
  json["profile"] = meta.profile;
  json["plan"] = optional_text(meta.plan_name);
  json["target"] = meta.target;
  json["criteria_file"] = optional_text(meta.criteria_file.string());
  json["measurements_file"] = optional_text(meta.measurements_file.string());
  json["tiers"] = tiers;
  json["duration_scale"] = meta.duration_scale;
  json["duration_scale_note"] = optional_text(detail::duration_scale_note(meta));
  json["continue_on_fail"] = meta.continue_on_fail;
  json["started"] = time_json(meta.started);
  json["finished"] = time_json(meta.finished);
  json["duration_seconds"] = detail::seconds_between(meta.started, meta.finished);
  return json;
}

// The measurement behind a row (the last one of its metric, as the evaluation uses), for its source and note.
const Measurement* measurement_for(const RunReport& report, Phase phase, std::string_view metric) {
  const Measurement* found = nullptr;
  for (const Measurement& measurement : detail::measurements_of(report, phase)) {
    if (measurement.metric == metric) {
      found = &measurement;
    }
  }
  return found;
}

Json row_json(const eval::RowResult& result, const Measurement* measurement) {
  const config::CriteriaRow& row = result.row;
  Quantity quantity = detail::quantity_of(row.metric);
  std::string unit = detail::display_unit_of(row);
  Json json = Json::object();
  json["metric"] = row.metric;
  json["name"] = detail::row_name(row);
  json["table"] = row.table;
  json["component"] = row.component;
  json["label"] = row.label;
  json["comparison"] = std::string(config::to_string(row.comparison));
  json["quantity"] = std::string(to_string(quantity));
  json["base_unit"] = std::string(detail::base_unit(quantity));
  json["unit"] = unit;
  json["target"] = optional_number(row.target);
  json["target_text"] = optional_text(detail::format_level(row, row.target));
  json["critical"] = optional_number(row.critical);
  json["critical_text"] = optional_text(detail::format_level(row, row.critical));
  json["measured"] = optional_number(result.measured);
  json["measured_text"] =
      result.measured ? Json(detail::format_value(row.metric, *result.measured, unit)) : Json(nullptr);
  // The rate an open-loop run offered: a capacity row cannot be shown beyond it.
  json["offered"] = optional_number(result.offered);
  json["offered_text"] =
      result.offered ? Json(detail::format_value(row.metric, *result.offered, unit)) : Json(nullptr);
  json["verdict"] = std::string(eval::to_string(result.verdict));
  json["reason"] = result.reason;
  json["source"] = measurement == nullptr ? Json(nullptr) : optional_text(measurement->source);
  json["note"] = measurement == nullptr ? Json(nullptr) : optional_text(measurement->note);
  json["reference"] = optional_text(row.reference);
  if (row.tier) {
    json["tier"] = Json{{"group", row.tier->group}, {"name", row.tier->name}};
  } else {
    json["tier"] = nullptr;
  }
  return json;
}

Json measurement_json(const Measurement& measurement) {
  Quantity quantity = detail::quantity_of(measurement.metric);
  Json json = Json::object();
  json["metric"] = measurement.metric;
  json["quantity"] = std::string(to_string(quantity));
  json["base_unit"] = std::string(detail::base_unit(quantity));
  json["value"] = optional_number(measurement.value);
  json["value_text"] = detail::format_value(measurement.metric, measurement.value);
  json["offered"] = optional_number(measurement.offered);
  json["source"] = optional_text(measurement.source);
  json["note"] = optional_text(measurement.note);
  return json;
}

// The distribution behind a percentile: a summary people can read plus the lossless histogram a tool can
// merge.
Json histogram_json(const Histogram& histogram) {
  Json summary = Json::object();
  summary["count"] = histogram.count();
  summary["min"] = histogram.min();
  summary["max"] = histogram.max();
  summary["mean"] = optional_number(histogram.mean());
  summary["stddev"] = optional_number(histogram.stddev());
  summary["p50"] = histogram.value_at_percentile(50.0);
  summary["p90"] = histogram.value_at_percentile(90.0);
  summary["p99"] = histogram.value_at_percentile(99.0);
  summary["p99_9"] = histogram.value_at_percentile(99.9);
  Json json = Json::object();
  json["unit"] = "ns";
  json["summary"] = summary;
  json["data"] = Json(histogram.to_json());
  return json;
}

// One stress search: every step as measured and the breaking point. Levels, offered and achieved are in the
// series' unit per second (or a count for streams and iodepth); latencies in seconds.
Json stress_json(const load::StressResult& series) {
  Json steps = Json::array();
  for (const load::StepRecord& step : series.steps) {
    Json json = Json::object();
    json["level"] = optional_number(step.level);
    json["level_text"] = load::level_text(step.level, series.unit);
    json["factor"] = optional_number(step.factor);
    json["bisection"] = step.bisection;
    // Closed loop offers no rate: null, not 0.
    json["offered"] = step.offered > 0 ? optional_number(step.offered) : Json(nullptr);
    json["achieved"] = optional_number(step.achieved);
    json["p50"] = optional_number(step.p50);
    json["p99"] = optional_number(step.p99);
    json["completed"] = step.completed;
    json["errors"] = step.errors;
    json["duration"] = std::chrono::duration<double>(step.duration).count();
    json["cancelled"] = step.cancelled;
    json["broke"] = optional_text(step.broke);
    steps.push_back(std::move(json));
  }
  Json json = Json::object();
  json["series"] = series.series;
  json["metric"] = series.metric;
  json["unit"] = series.unit;
  // What `achieved` counts when it is not the level's unit: "bps" for streams, "IOPS" for queue depths.
  json["achieved_unit"] = series.achieved_unit.empty() ? series.unit : series.achieved_unit;
  json["steps"] = steps;
  json["breaking_level"] = optional_number(series.breaking_level);
  json["breaking_level_text"] =
      series.breaking_level ? Json(load::level_text(*series.breaking_level, series.unit)) : Json(nullptr);
  json["last_held"] = optional_number(series.last_held);
  json["last_held_text"] =
      series.last_held ? Json(load::level_text(*series.last_held, series.unit)) : Json(nullptr);
  json["breaking_point_text"] = detail::breaking_point_text(series);
  json["note"] = optional_text(series.note);
  return json;
}

// The per-second series of a phase's load generators (report/timeline.hpp), and the rate its steady schedule
// offered: that of the phase's first measurement with an offered rate (its capacity metric). A stress ramp
// has no one offered rate (null): each step's is in "stress".
Json timeseries_json(const RunReport& report, const eval::PhaseEvaluation& evaluated) {
  const Phase phase = evaluated.phase;
  Json offered = nullptr;
  Json offered_metric = nullptr;
  for (const Measurement& measurement : detail::measurements_of(report, phase)) {
    if (evaluated.stress.empty() && measurement.offered.has_value() && std::isfinite(*measurement.offered)) {
      offered = *measurement.offered;
      offered_metric = measurement.metric;
      break;
    }
  }
  Json series = Json::array();
  if (auto found = report.timelines.find(phase); found != report.timelines.end()) {
    for (const SeriesTimeline& timeline : found->second) {
      Json points = Json::array();
      for (const TimelinePoint& point : timeline.points) {
        points.push_back(Json{{"second", point.second},
                              {"achieved", point.achieved},
                              {"errors", point.errors},
                              {"p50", optional_number(point.p50)},
                              {"p99", optional_number(point.p99)}});
      }
      series.push_back(Json{{"series", timeline.series}, {"points", points}});
    }
  }
  Json offered_points = Json::array();
  if (auto found = report.offered_timelines.find(phase); found != report.offered_timelines.end()) {
    for (const OfferedPoint& point : found->second) {
      offered_points.push_back(Json{{"second", point.second}, {"offered", optional_number(point.offered)}});
    }
  }
  Json throughput = Json::array();
  if (auto found = report.throughput_timelines.find(phase); found != report.throughput_timelines.end()) {
    for (const ThroughputTimeline& timeline : found->second) {
      Json points = Json::array();
      for (const ThroughputPoint& point : timeline.points) {
        points.push_back(
            Json{{"second", point.second}, {"bits_per_second", optional_number(point.bits_per_second)}});
      }
      throughput.push_back(Json{{"series", timeline.series}, {"points", points}});
    }
  }
  Json json = Json::object();
  json["offered"] = offered;
  json["offered_metric"] = offered_metric;
  json["series"] = series;
  // Both additive in schema 3: absent where there is nothing to say, so a report of an older build reads back
  // and writes out the same.
  if (!offered_points.empty()) {
    json["offered_points"] = offered_points;
  }
  if (!throughput.empty()) {
    json["throughput"] = throughput;
  }
  return json;
}

Json phase_json(const RunReport& report, const eval::PhaseEvaluation& phase) {
  Json json = Json::object();
  json["phase"] = std::string(to_string(phase.phase));
  json["name"] = std::string(display_name(phase.phase));
  json["order"] = static_cast<int>(phase.phase) + 1;
  json["status"] = std::string(detail::status_name(phase.status));
  json["verdict"] = std::string(eval::to_string(phase.verdict));
  json["reason"] = optional_text(phase.reason);
  json["ran_after_failure"] =
      phase.ran_after_failure ? Json(std::string(to_string(*phase.ran_after_failure))) : Json(nullptr);
  Json notes = Json::array();
  for (const std::string& note : phase.notes) {
    notes.push_back(note);
  }
  json["notes"] = notes;

  auto timing = report.timings.find(phase.phase);
  if (timing != report.timings.end() && detail::is_set(timing->second.started)) {
    json["started"] = time_json(timing->second.started);
    json["finished"] = time_json(timing->second.finished);
    json["duration_seconds"] = detail::seconds_between(timing->second.started, timing->second.finished);
  } else {
    json["started"] = nullptr;
    json["finished"] = nullptr;
    json["duration_seconds"] = nullptr;
  }

  const eval::PhaseInput* input = detail::input_of(report, phase.phase);
  Json invalid = Json::array();
  if (input != nullptr) {
    for (const std::string& reason : input->invalid_reasons) {
      invalid.push_back(reason);
    }
  }
  json["invalid_reasons"] = invalid;

  Json rows = Json::array();
  for (const eval::RowResult& row : phase.rows) {
    rows.push_back(row_json(row, measurement_for(report, phase.phase, row.row.metric)));
  }
  json["rows"] = rows;

  Json informational = Json::array();
  for (const Measurement& measurement : phase.informational) {
    informational.push_back(measurement_json(measurement));
  }
  json["informational"] = informational;

  Json stress = Json::array();
  for (const load::StressResult& series : phase.stress) {
    stress.push_back(stress_json(series));
  }
  json["stress"] = stress;

  Json histograms = Json::object();
  for (const Measurement& measurement : detail::measurements_of(report, phase.phase)) {
    if (measurement.histogram && !histograms.contains(measurement.metric)) {
      histograms[measurement.metric] = histogram_json(*measurement.histogram);
    }
  }
  json["histograms"] = histograms;
  json["timeseries"] = timeseries_json(report, phase);
  return json;
}

double record_seconds(Duration duration) {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(duration).count()) /
         1000.0;
}

Json soak_json(const SoakRecord& soak) {
  Json resumes = Json::array();
  for (const SoakResume& resume : soak.resumes) {
    resumes.push_back(Json{{"at", time_json(resume.at)}, {"after_seconds", record_seconds(resume.after)}});
  }
  Json phases = Json::array();
  for (const SoakPhaseRounds& phase : soak.phases) {
    phases.push_back(Json{{"phase", std::string(to_string(phase.phase))},
                          {"runs", phase.runs},
                          {"shown_round", phase.shown_round}});
  }
  Json hours = Json::array();
  for (const SoakHour& hour : soak.hours) {
    const auto text = [](double seconds) {
      return format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)));
    };
    hours.push_back(Json{{"hour", hour.hour},
                         {"metric", hour.metric},
                         {"count", hour.count},
                         {"p50", hour.p50},
                         {"p50_text", text(hour.p50)},
                         {"p99", hour.p99},
                         {"p99_text", text(hour.p99)},
                         {"max", hour.max},
                         {"load_factors", hour.load_factors},
                         {"histogram", Json::parse(hour.histogram)}});
  }
  Json watches = Json::array();
  for (const SoakWatchState& watch : soak.watches) {
    watches.push_back(Json{{"source", watch.source},
                           {"covered_seconds", record_seconds(watch.covered)},
                           {"unwatched", watch.unwatched}});
  }
  Json events = Json::array();
  for (const WatchEvent& event : soak.events) {
    events.push_back(Json{
        {"at", time_json(event.at)}, {"source", event.source}, {"kind", event.kind}, {"text", event.text}});
  }
  Json profile = nullptr;
  if (!soak.load_profile.empty()) {
    Json factors = Json::array();
    for (const SoakFactor& change : soak.factors) {
      factors.push_back(Json{{"round", change.round},
                             {"at_seconds", record_seconds(change.at)},
                             {"factor", change.factor},
                             {"factor_text", config::factor_text(change.factor)}});
    }
    profile = Json{{"text", soak.load_profile}, {"factors", factors}};
  }
  return Json{{"planned_seconds", record_seconds(soak.planned)},
              {"elapsed_seconds", record_seconds(soak.elapsed)},
              {"checkpoint_seconds", record_seconds(soak.checkpoint)},
              {"rounds", soak.rounds},
              {"etcd_watched_seconds", record_seconds(soak.etcd_watched)},
              {"finished", soak.finished},
              {"plan_file", soak.plan_file},
              {"plan_digest", soak.plan_digest},
              {"resumes", resumes},
              {"phases", phases},
              {"hours", hours},
              {"watches", watches},
              {"events", events},
              {"events_dropped", soak.events_dropped},
              {"load_profile", profile}};
}

}  // namespace

std::string render_json(const RunReport& report) {
  const eval::Evaluation& evaluation = report.evaluation;
  Json json = Json::object();
  json["schema"] = "kubeproof.report";
  json["schema_version"] = kReportSchemaVersion;
  json["meta"] = meta_json(report.meta);
  Json not_judged = Json::array();
  for (const std::string& metric : evaluation.not_judged) {
    not_judged.push_back(metric);
  }
  json["overall"] = Json{{"verdict", std::string(eval::to_string(evaluation.overall))},
                         {"verdict_text", eval::verdict_text(evaluation)},
                         {"reason", evaluation.overall_reason},
                         {"exit_code", eval::exit_code_for(evaluation.overall)},
                         {"not_judged", not_judged}};
  Json phases = Json::array();
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    phases.push_back(phase_json(report, phase));
  }
  json["phases"] = phases;
  Json checklist = Json::array();
  for (const eval::ChecklistItem& item : evaluation.checklist) {
    Json metrics = Json::array();
    for (const std::string& metric : item.metrics) {
      metrics.push_back(metric);
    }
    checklist.push_back(Json{{"item", item.text},
                             {"state", std::string(eval::to_string(item.state))},
                             {"evidence", item.evidence},
                             {"metrics", metrics}});
  }
  json["checklist"] = checklist;
  json["soak"] = report.soak ? soak_json(*report.soak) : Json(nullptr);
  // Invalid UTF-8 in a driver's note must not make the whole report unwritable: replace, don't throw.
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace kp::report
