// report.html: one self-contained page (Chart.js and the page's script inlined) rendered from report.json's
// document, so `kubeproof report DIR --format html` regenerates exactly what a run wrote. The C++ side builds
// a small view model (tables' texts, chart series, the HDR percentile curves computed from the lossless
// histograms) and embeds it as JSON; the page's script (html_page.cpp) draws it with textContent only, so no
// string from outside (plan names, notes, server messages) is ever parsed as HTML. A soak adds its hour table
// and a chart of each metric's P50/P99 hour by hour (with the load profile's factor), so a slow drift shows.

#include <fmt/format.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/load_profile.hpp"
#include "core/histogram.hpp"
#include "core/units.hpp"
#include "report/chart_js.hpp"
#include "report/html_page.hpp"
#include "report/report_text.hpp"
#include "report/run_report.hpp"

namespace kp::report {
namespace {

using Json = nlohmann::ordered_json;

std::string text_of(const Json& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || found->is_null()) {
    return {};
  }
  return found->is_string() ? found->get<std::string>() : found->dump();
}

// A chart coordinate copied through as report.json holds it: value(key, 0) would convert with get<int>(),
// undefined for a float like 1e300 in a hand-edited file. Anything but a number reads as `fallback`.
Json number_or(const Json& object, std::string_view key, Json fallback) {
  auto found = object.find(key);
  return found != object.end() && found->is_number() ? *found : fallback;
}

// Percentiles of the HDR-style plot: a point only where the histogram holds enough values to state it.
constexpr double kPercentiles[] = {0, 50, 75, 90, 95, 99, 99.9, 99.99, 99.999, 99.9999};

Json latency_curve(const std::string& metric, const Json& histogram) {
  Result<Histogram> parsed = Histogram::from_json(histogram.value("data", Json::object()));
  if (!parsed || parsed->count() == 0) {
    return nullptr;
  }
  Json points = Json::array();
  const double count = static_cast<double>(parsed->count());
  for (double percentile : kPercentiles) {
    if (percentile > 0 && (1.0 - percentile / 100.0) * count < 1.0) {
      break;
    }
    points.push_back(Json{{"percentile", percentile},
                          {"ms", static_cast<double>(parsed->value_at_percentile(percentile)) / 1e6}});
  }
  points.push_back(Json{{"percentile", 100.0}, {"ms", static_cast<double>(parsed->max()) / 1e6}});
  return Json{{"metric", metric}, {"count", parsed->count()}, {"points", points}};
}

Json row_view(const Json& row) {
  std::string measured = text_of(row, "measured_text");
  if (!text_of(row, "offered_text").empty()) {
    measured += measured.empty() ? "" : " ";
    measured += "(offered " + text_of(row, "offered_text") + ")";
  }
  return Json{{"metric", text_of(row, "name")},        {"measured", measured},
              {"target", text_of(row, "target_text")}, {"critical", text_of(row, "critical_text")},
              {"verdict", text_of(row, "verdict")},    {"reason", text_of(row, "reason")}};
}

Json phase_view(const Json& phase) {
  Json view = Json::object();
  view["phase"] = text_of(phase, "phase");
  view["name"] = text_of(phase, "name");
  view["verdict"] = text_of(phase, "verdict");
  view["reason"] = text_of(phase, "reason");
  view["notes"] = phase.value("notes", Json::array());
  view["invalid_reasons"] = phase.value("invalid_reasons", Json::array());
  Json rows = Json::array();
  for (const Json& row : phase.value("rows", Json::array())) {
    rows.push_back(row_view(row));
  }
  view["rows"] = rows;

  const Json timeseries = phase.value("timeseries", Json::object());
  Json rate = Json::object();
  rate["offered"] = timeseries.value("offered", Json(nullptr));
  rate["offered_metric"] = timeseries.value("offered_metric", Json(nullptr));
  Json series = Json::array();
  Json percentiles = Json::array();
  for (const Json& one : timeseries.value("series", Json::array())) {
    Json achieved = Json::array();
    Json errors = Json::array();
    Json p50 = Json::array();
    Json p99 = Json::array();
    for (const Json& point : one.value("points", Json::array())) {
      const Json second = number_or(point, "second", 0);
      achieved.push_back(Json{{"x", second}, {"y", point.value("achieved", 0.0)}});
      errors.push_back(Json{{"x", second}, {"y", number_or(point, "errors", 0)}});
      // Seconds without a completion have no percentile: left out, not drawn as 0.
      for (auto [key, into] : {std::pair<const char*, Json*>{"p50", &p50}, {"p99", &p99}}) {
        if (const Json value = point.value(key, Json(nullptr)); value.is_number()) {
          into->push_back(Json{{"x", second}, {"y", value.get<double>() * 1e3}});
        }
      }
    }
    series.push_back(Json{{"name", text_of(one, "series")}, {"achieved", achieved}, {"errors", errors}});
    if (!p99.empty() || !p50.empty()) {
      percentiles.push_back(Json{{"name", text_of(one, "series")}, {"p50_ms", p50}, {"p99_ms", p99}});
    }
  }
  rate["series"] = series;
  // The offered rate of each second (null where none applied), when the run recorded it.
  Json offered_points = Json::array();
  for (const Json& point : timeseries.value("offered_points", Json::array())) {
    offered_points.push_back(
        Json{{"x", number_or(point, "second", 0)}, {"y", point.value("offered", Json(nullptr))}});
  }
  rate["offered_points"] = offered_points;
  view["percentiles"] = percentiles;
  Json throughput = Json::array();
  for (const Json& one : timeseries.value("throughput", Json::array())) {
    Json points = Json::array();
    for (const Json& point : one.value("points", Json::array())) {
      const Json bits = point.value("bits_per_second", Json(nullptr));
      points.push_back(Json{{"x", number_or(point, "second", 0)},
                            {"y", bits.is_number() ? Json(bits.get<double>() / 1e6) : Json(nullptr)}});
    }
    throughput.push_back(Json{{"name", text_of(one, "series")}, {"mbps", points}});
  }
  view["throughput"] = throughput;
  view["rate"] = rate;

  Json latency = Json::array();
  const Json histograms = phase.value("histograms", Json::object());  // items() of a temporary would dangle
  for (const auto& [metric, histogram] : histograms.items()) {
    if (Json curve = latency_curve(metric, histogram); !curve.is_null()) {
      latency.push_back(std::move(curve));
    }
  }
  view["latency"] = latency;

  Json stress = Json::array();
  for (const Json& search : phase.value("stress", Json::array())) {
    Json steps = Json::array();
    for (const Json& step : search.value("steps", Json::array())) {
      steps.push_back(Json{
          {"level", step.value("level", Json(nullptr))},
          {"level_text", text_of(step, "level_text")},
          {"offered", step.value("offered", Json(nullptr))},
          {"achieved", step.value("achieved", Json(nullptr))},
          {"p99_ms", step.value("p99", Json(nullptr)).is_number() ? Json(step.at("p99").get<double>() * 1e3)
                                                                  : Json(nullptr)},
          {"bisection", step.value("bisection", false)},
          {"broke", text_of(step, "broke")}});
    }
    stress.push_back(Json{{"series", text_of(search, "series")},
                          {"metric", text_of(search, "metric")},
                          {"unit", text_of(search, "unit")},
                          {"achieved_unit", text_of(search, "achieved_unit")},
                          {"steps", steps},
                          {"breaking_level", search.value("breaking_level", Json(nullptr))},
                          {"breaking_point_text", text_of(search, "breaking_point_text")},
                          {"note", text_of(search, "note")}});
  }
  view["stress"] = stress;
  return view;
}

double number_at(const Json& object, std::string_view key) {
  auto found = object.find(key);
  return found != object.end() && found->is_number() ? found->get<double>() : 0.0;
}

std::string seconds_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
    return "?";
  }
  return format_duration(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)));
}

// Milliseconds for the chart, null for anything but a finite number (never drawn as 0).
Json ms_or_null(const Json& object, std::string_view key) {
  auto found = object.find(key);
  if (found == object.end() || !found->is_number() || !std::isfinite(found->get<double>())) {
    return nullptr;
  }
  return found->get<double>() * 1e3;
}

// A soak (report.json's `soak`, docs/soak.md): its summary, the hour table (metric, hour, count, P50, P99,
// max, and the load factor with a load profile) ordered by metric then hour so a drift reads down a column,
// each metric's P50 and P99 hour by hour for the chart, and the profile's factor over the soak.
Json soak_view(const Json& soak) {
  Json view = Json::object();
  const double rounds = number_at(soak, "rounds");
  view["summary"] = fmt::format(
      "{} of {} in {:g} round{}; etcd (its leader watch) ran {}; a checkpoint every {}",
      seconds_text(number_at(soak, "elapsed_seconds")), seconds_text(number_at(soak, "planned_seconds")),
      rounds, rounds == 1 ? "" : "s", seconds_text(number_at(soak, "etcd_watched_seconds")),
      seconds_text(number_at(soak, "checkpoint_seconds")));
  const Json profile = soak.value("load_profile", Json(nullptr));
  view["load_profile"] = profile.is_object() ? text_of(profile, "text") : "";

  const Json all_hours = soak.value("hours", Json::array());  // pointed into below: not a temporary
  std::vector<const Json*> hours;
  for (const Json& hour : all_hours) {
    if (hour.is_object()) {
      hours.push_back(&hour);
    }
  }
  std::ranges::stable_sort(hours, [](const Json* a, const Json* b) {
    const std::string metric_a = text_of(*a, "metric");
    const std::string metric_b = text_of(*b, "metric");
    return metric_a != metric_b ? metric_a < metric_b : number_at(*a, "hour") < number_at(*b, "hour");
  });
  Json rows = Json::array();
  Json series = Json::array();
  for (const Json* hour : hours) {
    const std::string metric = text_of(*hour, "metric");
    const double index = number_at(*hour, "hour");
    std::string factors;
    for (const Json& factor : hour->value("load_factors", Json::array())) {
      if (factor.is_number()) {
        factors += (factors.empty() ? "" : ", ") + config::factor_text(factor.get<double>());
      }
    }
    rows.push_back(Json{{"metric", metric},
                        {"hour", fmt::format("{:g}-{:g}h", index, index + 1)},
                        {"count", text_of(*hour, "count")},
                        {"p50", seconds_text(number_at(*hour, "p50"))},
                        {"p99", seconds_text(number_at(*hour, "p99"))},
                        {"max", seconds_text(number_at(*hour, "max"))},
                        {"load_factor", factors.empty() ? "-" : factors}});
    if (series.empty() || series.back()["metric"] != metric) {
      series.push_back(Json{{"metric", metric}, {"p50_ms", Json::array()}, {"p99_ms", Json::array()}});
    }
    for (auto [key, into] : {std::pair<const char*, const char*>{"p50", "p50_ms"}, {"p99", "p99_ms"}}) {
      if (Json ms = ms_or_null(*hour, key); !ms.is_null()) {
        series.back()[into].push_back(Json{{"x", index}, {"y", ms}});
      }
    }
  }
  view["rows"] = rows;
  view["series"] = series;

  // The factor from each change on, in percent, held to the end of the soak so far: a stepped line.
  Json factors = Json::array();
  if (profile.is_object()) {
    double last = -1;
    for (const Json& change : profile.value("factors", Json::array())) {
      if (change.is_object() && change.value("factor", Json()).is_number()) {
        last = number_at(change, "factor") * 100.0;
        factors.push_back(Json{{"x", number_at(change, "at_seconds") / 3600.0}, {"y", last}});
      }
    }
    if (last >= 0) {
      factors.push_back(Json{{"x", number_at(soak, "elapsed_seconds") / 3600.0}, {"y", last}});
    }
  }
  view["factors"] = factors;
  return view;
}

// JSON inside <script>: "<", ">" and "&" only ever occur inside JSON strings, where \uXXXX means the same
// character, so "</script>" in a plan name cannot end the element.
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (char c : json) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace

std::string html_escape(std::string_view text) {
  return detail::markup_escape(text, detail::MarkupPlace::attribute);
}

std::string render_html(const nlohmann::ordered_json& report) {
  const Json overall = report.value("overall", Json::object());
  const Json meta = report.value("meta", Json::object());
  Json view = Json::object();
  view["verdict"] = text_of(overall, "verdict");
  view["verdict_text"] = text_of(overall, "verdict_text").empty() ? text_of(overall, "verdict")
                                                                  : text_of(overall, "verdict_text");
  view["exit_code"] = overall.value("exit_code", Json(nullptr));
  view["reason"] = text_of(overall, "reason");
  Json meta_view = Json::array();
  for (const char* key : {"plan", "profile", "target", "command", "criteria_file", "measurements_file",
                          "started", "finished", "duration_seconds", "tool_version"}) {
    if (std::string value = text_of(meta, key); !value.empty()) {
      meta_view.push_back(Json{{"key", key}, {"value", value}});
    }
  }
  view["meta"] = meta_view;
  view["duration_scale_note"] = text_of(meta, "duration_scale_note");
  Json phases = Json::array();
  for (const Json& phase : report.value("phases", Json::array())) {
    phases.push_back(phase_view(phase));
  }
  view["phases"] = phases;
  Json checklist = Json::array();
  for (const Json& item : report.value("checklist", Json::array())) {
    checklist.push_back(Json{{"item", text_of(item, "item")},
                             {"state", text_of(item, "state")},
                             {"evidence", text_of(item, "evidence")}});
  }
  view["checklist"] = checklist;
  const Json soak = report.value("soak", Json(nullptr));
  view["soak"] = soak.is_object() ? soak_view(soak) : Json(nullptr);

  const std::string title =
      "kubeproof " + text_of(meta, "plan") + ": " + view["verdict_text"].get<std::string>();
  std::string out;
  out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<title>" + html_escape(title) + "</title>\n<style>\n";
  out += html_page_css();
  out += "</style>\n</head>\n<body>\n";
  // The verdict in plain HTML too, for a reader without scripts.
  out += "<header><h1 id=\"verdict\" data-verdict=\"" + html_escape(view["verdict"].get<std::string>()) +
         "\">" + html_escape(view["verdict_text"].get<std::string>()) + "</h1><p id=\"reason\">" +
         html_escape(view["reason"].get<std::string>()) + "</p></header>\n<main id=\"report\"></main>\n";
  out += "<script type=\"application/json\" id=\"kp-data\">" +
         script_safe(view.dump(-1, ' ', false, Json::error_handler_t::replace)) + "</script>\n";
  out += "<script>\n";
  out += chart_js();
  out += "\n</script>\n<script>\n";
  out += html_page_script();
  out += "\n</script>\n</body>\n</html>\n";
  return out;
}

std::string render_html(const RunReport& report) {
  return render_html(Json::parse(render_json(report)));
}

}  // namespace kp::report
