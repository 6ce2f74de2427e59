#include "report/report_reader.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>

#include "report/report_file.hpp"
#include "report/report_text.hpp"

namespace kp::report {
namespace {

using Json = nlohmann::ordered_json;

// A field that is missing or of the wrong kind: thrown inside this file only, turned into an Error at
// read_report's edge.
struct BadField {
  std::string path;
  std::string problem;
};

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}

std::string element(const std::string& path, std::size_t index) {
  return fmt::format("{}[{}]", path, index);
}

const Json& at(const Json& object, std::string_view key, const std::string& path) {
  if (!object.is_object()) {
    throw BadField{path, "must be an object"};
  }
  auto found = object.find(key);
  if (found == object.end()) {
    throw BadField{child(path, key), "missing"};
  }
  return *found;
}

const Json& array_at(const Json& object, std::string_view key, const std::string& path) {
  const Json& value = at(object, key, path);
  if (!value.is_array()) {
    throw BadField{child(path, key), fmt::format("must be an array, got {}", value.dump())};
  }
  return value;
}

std::string text(const Json& object, std::string_view key, const std::string& path) {
  const Json& value = at(object, key, path);
  if (!value.is_string()) {
    throw BadField{child(path, key), fmt::format("must be a string, got {}", value.dump())};
  }
  return value.get<std::string>();
}

// A string or null (null: "").
std::string text_or_empty(const Json& object, std::string_view key, const std::string& path) {
  const Json& value = at(object, key, path);
  if (value.is_null()) {
    return {};
  }
  if (!value.is_string()) {
    throw BadField{child(path, key), fmt::format("must be a string or null, got {}", value.dump())};
  }
  return value.get<std::string>();
}

std::optional<double> optional_number(const Json& object, std::string_view key, const std::string& path) {
  const Json& value = at(object, key, path);
  if (value.is_null()) {
    return std::nullopt;
  }
  if (!value.is_number()) {
    throw BadField{child(path, key), fmt::format("must be a number or null, got {}", value.dump())};
  }
  return value.get<double>();
}

// The writer turns a non-finite number into null; NaN turns back into null.
double number_or_nan(const Json& object, std::string_view key, const std::string& path) {
  return optional_number(object, key, path).value_or(std::numeric_limits<double>::quiet_NaN());
}

double number(const Json& object, std::string_view key, const std::string& path) {
  std::optional<double> value = optional_number(object, key, path);
  if (!value) {
    throw BadField{child(path, key), "must be a number, got null"};
  }
  return *value;
}

std::uint64_t count(const Json& object, std::string_view key, const std::string& path) {
  const Json& value = at(object, key, path);
  if (!value.is_number_unsigned() && !(value.is_number_integer() && value.get<long long>() >= 0)) {
    throw BadField{child(path, key), fmt::format("must be a non-negative integer, got {}", value.dump())};
  }
  return value.get<std::uint64_t>();
}

bool flag(const Json& object, std::string_view key, const std::string& path) {
  const Json& value = at(object, key, path);
  if (!value.is_boolean()) {
    throw BadField{child(path, key), fmt::format("must be true or false, got {}", value.dump())};
  }
  return value.get<bool>();
}

std::vector<std::string> texts(const Json& object, std::string_view key, const std::string& path) {
  std::vector<std::string> out;
  const Json& values = array_at(object, key, path);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!values[i].is_string()) {
      throw BadField{element(child(path, key), i), fmt::format("must be a string, got {}", values[i].dump())};
    }
    out.push_back(values[i].get<std::string>());
  }
  return out;
}

// One of an enum's names, as its to_string writes it.
template <typename Enum, std::size_t N>
Enum named(const Json& object, std::string_view key, const std::string& path, const std::array<Enum, N>& all,
           std::string_view what) {
  const std::string name = text(object, key, path);
  for (Enum value : all) {
    if (to_string(value) == name) {
      return value;
    }
  }
  throw BadField{child(path, key), fmt::format("unknown {} \"{}\"", what, name)};
}

using config::to_string;
using eval::to_string;
using kp::to_string;

constexpr std::array kVerdicts = {eval::Verdict::pass,        eval::Verdict::conditional_pass,
                                  eval::Verdict::not_judged,  eval::Verdict::not_measured,
                                  eval::Verdict::incomplete,  eval::Verdict::skipped,
                                  eval::Verdict::invalid,     eval::Verdict::aborted,
                                  eval::Verdict::in_progress, eval::Verdict::fail};
constexpr std::array kStatuses = {eval::PhaseStatus::completed, eval::PhaseStatus::skipped,
                                  eval::PhaseStatus::cancelled, eval::PhaseStatus::error,
                                  eval::PhaseStatus::in_progress};
constexpr std::array kStates = {eval::ChecklistState::met, eval::ChecklistState::not_met,
                                eval::ChecklistState::not_verified};
constexpr std::array kComparisons = {config::Comparison::less, config::Comparison::less_equal,
                                     config::Comparison::greater, config::Comparison::greater_equal};

// The longest duration read back: its nanoseconds (about 292 years' worth) must fit an int64 for llround.
constexpr double kLongestSeconds = 9.2e9;

// A stored number of seconds no longer than kLongestSeconds, and not below 0 unless `may_be_negative`.
double bounded_seconds(const Json& object, std::string_view key, const std::string& path, double seconds,
                       bool may_be_negative) {
  if (!(std::fabs(seconds) < kLongestSeconds) || (seconds < 0 && !may_be_negative)) {
    throw BadField{child(path, key), fmt::format("must be between {} and 9.2e9 seconds, got {}",
                                                 may_be_negative ? "-9.2e9" : "0", object.at(key).dump())};
  }
  return seconds;
}

// 1677-09-22T00:00:00Z and 2262-04-11T00:00:00Z.
constexpr std::int64_t kEarliestSeconds = -9'223'286'400;
constexpr std::int64_t kLatestSeconds = 9'223'286'400;

// "2026-11-27T23:05:12Z" -> whole seconds since the epoch; null -> nullopt.
std::optional<std::int64_t> utc_seconds(const Json& object, std::string_view key, const std::string& path) {
  const std::string value = text_or_empty(object, key, path);
  if (value.empty()) {
    return std::nullopt;
  }
  std::tm parts{};
  char zone = 0;
  int consumed = 0;
  if (std::sscanf(value.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &parts.tm_year, &parts.tm_mon, &parts.tm_mday,
                  &parts.tm_hour, &parts.tm_min, &parts.tm_sec, &zone, &consumed) != 7 ||
      zone != 'Z' || static_cast<std::size_t>(consumed) != value.size()) {
    throw BadField{child(path, key),
                   fmt::format("not a UTC time like 2026-11-27T23:05:12Z, got \"{}\"", value)};
  }
  parts.tm_year -= 1900;
  parts.tm_mon -= 1;
  const auto seconds = static_cast<std::int64_t>(::timegm(&parts));
  // WallTime counts nanoseconds in an int64: about 1677-09-21 to 2262-04-11. A day inside those ends leaves
  // room for the sub-second fraction and the duration that timing() adds.
  if (seconds < kEarliestSeconds || seconds > kLatestSeconds) {
    throw BadField{
        child(path, key),
        fmt::format("must be between 1677-09-22T00:00:00Z and 2262-04-11T00:00:00Z, got \"{}\"", value)};
  }
  return seconds;
}

// Times whose whole seconds print as the stored `started`/`finished` and whose difference is the stored
// `duration_seconds` to the nanosecond: the writer keeps sub-second times only in that difference.
engine::PhaseTiming timing(const Json& object, const std::string& path) {
  engine::PhaseTiming out;
  std::optional<std::int64_t> started = utc_seconds(object, "started", path);
  std::optional<std::int64_t> finished = utc_seconds(object, "finished", path);
  const std::optional<double> length_seconds = optional_number(object, "duration_seconds", path);
  using std::chrono::nanoseconds;
  using std::chrono::seconds;
  if (started) {
    out.started = WallTime(std::chrono::duration_cast<WallTime::duration>(seconds(*started)));
  }
  if (finished) {
    out.finished = WallTime(std::chrono::duration_cast<WallTime::duration>(seconds(*finished)));
  }
  if (started && finished && length_seconds && std::isfinite(*length_seconds)) {
    bounded_seconds(object, "duration_seconds", path, *length_seconds, true);
    // The writer's difference is within a second of finished - started (each is cut to whole seconds), and
    // may be negative when the wall clock stepped back. Beyond two seconds it is not that difference, and
    // nanoseconds of it (or started + it) could overflow.
    if (std::fabs(static_cast<double>(*finished - *started) - *length_seconds) >= 2.0) {
      throw BadField{child(path, "duration_seconds"),
                     fmt::format("must be the time from started to finished ({} s), got {}",
                                 *finished - *started, object.at("duration_seconds").dump())};
    }
    const auto length = nanoseconds(std::llround(*length_seconds * 1e9));
    const nanoseconds whole = seconds(*finished - *started);
    // The start's fraction of a second: the smallest that keeps started + length within finished's second.
    const nanoseconds fraction = std::clamp(whole - length, nanoseconds(0), nanoseconds(999'999'999));
    out.started += std::chrono::duration_cast<WallTime::duration>(fraction);
    out.finished = out.started + std::chrono::duration_cast<WallTime::duration>(length);
  }
  return out;
}

config::CriteriaRow criteria_row(const Json& json, const std::string& path) {
  config::CriteriaRow row;
  row.metric = text(json, "metric", path);
  row.table = text(json, "table", path);
  row.component = text(json, "component", path);
  row.label = text(json, "label", path);
  row.comparison = named(json, "comparison", path, kComparisons, "comparison");
  row.target = optional_number(json, "target", path);
  row.critical = optional_number(json, "critical", path);
  row.unit = text(json, "unit", path);
  row.reference = text_or_empty(json, "reference", path);
  const Json& tier = at(json, "tier", path);
  if (!tier.is_null()) {
    row.tier =
        config::TierRef{text(tier, "group", child(path, "tier")), text(tier, "name", child(path, "tier"))};
  }
  return row;
}

Measurement informational(const Json& json, const std::string& path) {
  Measurement measurement;
  measurement.metric = text(json, "metric", path);
  measurement.value = number_or_nan(json, "value", path);
  measurement.offered = optional_number(json, "offered", path);
  measurement.source = text_or_empty(json, "source", path);
  measurement.note = text_or_empty(json, "note", path);
  return measurement;
}

load::StressResult stress(const Json& json, const std::string& path) {
  load::StressResult out;
  out.series = text(json, "series", path);
  out.metric = text(json, "metric", path);
  out.unit = text(json, "unit", path);
  out.achieved_unit = text(json, "achieved_unit", path);
  const Json& steps = array_at(json, "steps", path);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const std::string at_step = element(child(path, "steps"), i);
    const Json& value = steps[i];
    load::StepRecord step;
    step.level = number_or_nan(value, "level", at_step);
    step.factor = number_or_nan(value, "factor", at_step);
    step.bisection = flag(value, "bisection", at_step);
    step.offered = optional_number(value, "offered", at_step).value_or(0.0);
    step.achieved = number_or_nan(value, "achieved", at_step);
    step.p50 = optional_number(value, "p50", at_step);
    step.p99 = optional_number(value, "p99", at_step);
    step.completed = count(value, "completed", at_step);
    step.errors = count(value, "errors", at_step);
    step.duration = Duration(std::llround(
        bounded_seconds(value, "duration", at_step, number(value, "duration", at_step), false) * 1e9));
    step.cancelled = flag(value, "cancelled", at_step);
    step.broke = text_or_empty(value, "broke", at_step);
    out.steps.push_back(std::move(step));
  }
  out.breaking_level = optional_number(json, "breaking_level", path);
  out.last_held = optional_number(json, "last_held", path);
  out.note = text_or_empty(json, "note", path);
  return out;
}

// A point's "second" (an integer: seconds since the phase's start).
std::int64_t second_of(const Json& point, const std::string& at_point) {
  const Json& second = at(point, "second", at_point);
  if (!second.is_number_integer()) {
    throw BadField{child(at_point, "second"), fmt::format("must be an integer, got {}", second.dump())};
  }
  return second.get<std::int64_t>();
}

std::vector<SeriesTimeline> timelines(const Json& json, const std::string& path) {
  std::vector<SeriesTimeline> out;
  const Json& series = array_at(json, "series", path);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::string at_series = element(child(path, "series"), i);
    SeriesTimeline timeline;
    timeline.series = text(series[i], "series", at_series);
    const Json& points = array_at(series[i], "points", at_series);
    for (std::size_t j = 0; j < points.size(); ++j) {
      const std::string at_point = element(child(at_series, "points"), j);
      TimelinePoint point;
      point.second = second_of(points[j], at_point);
      point.achieved = number_or_nan(points[j], "achieved", at_point);
      point.errors = count(points[j], "errors", at_point);
      point.p50 = optional_number(points[j], "p50", at_point);
      point.p99 = optional_number(points[j], "p99", at_point);
      timeline.points.push_back(point);
    }
    out.push_back(std::move(timeline));
  }
  return out;
}

// timeseries.offered_points (absent in reports that announced no rate).
std::vector<OfferedPoint> offered_points(const Json& json, const std::string& path) {
  std::vector<OfferedPoint> out;
  if (!json.contains("offered_points")) {
    return out;
  }
  const Json& points = array_at(json, "offered_points", path);
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::string at_point = element(child(path, "offered_points"), i);
    OfferedPoint point;
    point.second = second_of(points[i], at_point);
    point.offered = optional_number(points[i], "offered", at_point);
    out.push_back(point);
  }
  return out;
}

// timeseries.throughput (absent in reports without a stream or an fio job series).
std::vector<ThroughputTimeline> throughput(const Json& json, const std::string& path) {
  std::vector<ThroughputTimeline> out;
  if (!json.contains("throughput")) {
    return out;
  }
  const Json& series = array_at(json, "throughput", path);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const std::string at_series = element(child(path, "throughput"), i);
    ThroughputTimeline timeline;
    timeline.series = text(series[i], "series", at_series);
    const Json& points = array_at(series[i], "points", at_series);
    for (std::size_t j = 0; j < points.size(); ++j) {
      const std::string at_point = element(child(at_series, "points"), j);
      ThroughputPoint point;
      point.second = second_of(points[j], at_point);
      point.bits_per_second = number_or_nan(points[j], "bits_per_second", at_point);
      timeline.points.push_back(point);
    }
    out.push_back(std::move(timeline));
  }
  return out;
}

// The measurement behind `metric` in the phase's input, created on first use.
Measurement& measurement_of(std::vector<Measurement>& measurements, const std::string& metric) {
  for (Measurement& measurement : measurements) {
    if (measurement.metric == metric) {
      return measurement;
    }
  }
  Measurement& added = measurements.emplace_back();
  added.metric = metric;
  added.value = std::numeric_limits<double>::quiet_NaN();
  return added;
}

void read_phase(const Json& json, const std::string& path, RunReport& report) {
  eval::PhaseEvaluation phase;
  const std::string name = text(json, "phase", path);
  std::optional<Phase> parsed = parse_phase(name);
  if (!parsed) {
    throw BadField{child(path, "phase"), fmt::format("unknown phase \"{}\"", name)};
  }
  phase.phase = *parsed;
  phase.status = named(json, "status", path, kStatuses, "status");
  phase.verdict = named(json, "verdict", path, kVerdicts, "verdict");
  phase.reason = text_or_empty(json, "reason", path);
  if (std::string after = text_or_empty(json, "ran_after_failure", path); !after.empty()) {
    phase.ran_after_failure = parse_phase(after);
    if (!phase.ran_after_failure) {
      throw BadField{child(path, "ran_after_failure"), fmt::format("unknown phase \"{}\"", after)};
    }
  }
  phase.notes = texts(json, "notes", path);

  engine::PhaseTiming times = timing(json, path);
  if (detail::is_set(times.started)) {
    report.timings[phase.phase] = times;
  }

  eval::PhaseInput input;
  input.phase = phase.phase;
  input.status = phase.status;
  input.reason = phase.reason;
  input.invalid_reasons = texts(json, "invalid_reasons", path);
  input.ran_after_failure = phase.ran_after_failure;

  // The measurements come back in the order the writer needs: the one that gave the timeseries' offered rate
  // first (the writer takes the first with an offered rate).
  const Json& timeseries = at(json, "timeseries", path);
  const std::string offered_metric = text_or_empty(timeseries, "offered_metric", child(path, "timeseries"));
  if (!offered_metric.empty()) {
    measurement_of(input.measurements, offered_metric);
  }

  const Json& rows = array_at(json, "rows", path);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string at_row = element(child(path, "rows"), i);
    eval::RowResult row;
    row.row = criteria_row(rows[i], at_row);
    row.measured = optional_number(rows[i], "measured", at_row);
    row.offered = optional_number(rows[i], "offered", at_row);
    row.verdict = named(rows[i], "verdict", at_row, kVerdicts, "verdict");
    row.reason = text(rows[i], "reason", at_row);
    const std::string source = text_or_empty(rows[i], "source", at_row);
    const std::string note = text_or_empty(rows[i], "note", at_row);
    if (row.measured || row.offered || !source.empty() || !note.empty()) {
      Measurement& measurement = measurement_of(input.measurements, row.row.metric);
      if (row.measured) {
        measurement.value = *row.measured;
      }
      measurement.offered = row.offered;
      measurement.source = source;
      measurement.note = note;
    }
    phase.rows.push_back(std::move(row));
  }

  const Json& extra = array_at(json, "informational", path);
  for (std::size_t i = 0; i < extra.size(); ++i) {
    Measurement measurement = informational(extra[i], element(child(path, "informational"), i));
    measurement_of(input.measurements, measurement.metric) = measurement;
    phase.informational.push_back(std::move(measurement));
  }

  const Json& histograms = at(json, "histograms", path);
  if (!histograms.is_object()) {
    throw BadField{child(path, "histograms"), "must be an object"};
  }
  for (const auto& [metric, value] : histograms.items()) {
    const std::string at_histogram = child(child(path, "histograms"), metric);
    const Json& data = at(value, "data", at_histogram);
    Result<Histogram> histogram = Histogram::from_json(nlohmann::json::parse(data.dump()));
    if (!histogram) {
      throw BadField{child(at_histogram, "data"), histogram.error().message};
    }
    measurement_of(input.measurements, metric).histogram = std::move(*histogram);
  }

  const Json& searches = array_at(json, "stress", path);
  for (std::size_t i = 0; i < searches.size(); ++i) {
    phase.stress.push_back(stress(searches[i], element(child(path, "stress"), i)));
  }
  input.stress = phase.stress;

  std::vector<SeriesTimeline> series = timelines(timeseries, child(path, "timeseries"));
  if (!series.empty()) {
    report.timelines[phase.phase] = std::move(series);
  }
  std::vector<OfferedPoint> offered = offered_points(timeseries, child(path, "timeseries"));
  if (!offered.empty()) {
    report.offered_timelines[phase.phase] = std::move(offered);
  }
  std::vector<ThroughputTimeline> streams = throughput(timeseries, child(path, "timeseries"));
  if (!streams.empty()) {
    report.throughput_timelines[phase.phase] = std::move(streams);
  }
  report.inputs.push_back(std::move(input));
  report.evaluation.phases.push_back(std::move(phase));
}

RunMeta read_meta(const Json& json, const std::string& path) {
  RunMeta meta;
  meta.tool_version = text(json, "tool_version", path);
  meta.command = text(json, "command", path);
  meta.profile = text(json, "profile", path);
  meta.plan_name = text_or_empty(json, "plan", path);
  meta.target = text(json, "target", path);
  meta.criteria_file = text_or_empty(json, "criteria_file", path);
  meta.measurements_file = text_or_empty(json, "measurements_file", path);
  const Json& tiers = at(json, "tiers", path);
  if (!tiers.is_object()) {
    throw BadField{child(path, "tiers"), "must be an object"};
  }
  meta.tiers.chosen.clear();
  for (const auto& [group, name] : tiers.items()) {
    if (!name.is_string()) {
      throw BadField{child(child(path, "tiers"), group),
                     fmt::format("must be a string, got {}", name.dump())};
    }
    meta.tiers.chosen[group] = name.get<std::string>();
  }
  meta.duration_scale = number(json, "duration_scale", path);
  meta.continue_on_fail = flag(json, "continue_on_fail", path);
  engine::PhaseTiming times = timing(json, path);
  meta.started = times.started;
  meta.finished = times.finished;
  return meta;
}

Duration record_duration(const Json& object, std::string_view key, const std::string& path) {
  const double seconds = bounded_seconds(object, key, path, number(object, key, path), false);
  return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

int small_count(const Json& object, std::string_view key, const std::string& path) {
  const std::uint64_t value = count(object, key, path);
  if (value > 1'000'000'000) {
    throw BadField{child(path, key), fmt::format("must be at most 1e9, got {}", value)};
  }
  return static_cast<int>(value);
}

// A load profile's factor (config/load_profile.hpp): above 0 and at most 1, as a plan allows.
double factor_value(const Json& value, const std::string& path) {
  if (!value.is_number() || !(value.get<double>() > 0 && value.get<double>() <= 1)) {
    throw BadField{path, fmt::format("must be a number above 0 and at most 1, got {}", value.dump())};
  }
  return value.get<double>();
}

// `soak.load_profile` (null: the soak has none). Reports written before load profiles lack the key: none.
void read_load_profile(const Json& json, const std::string& path, SoakRecord& soak) {
  const auto profile = json.find("load_profile");
  if (profile == json.end() || profile->is_null()) {
    return;
  }
  const std::string at_profile = child(path, "load_profile");
  soak.load_profile = text(*profile, "text", at_profile);
  if (soak.load_profile.empty()) {
    throw BadField{child(at_profile, "text"), "must not be empty"};
  }
  const Json& factors = array_at(*profile, "factors", at_profile);
  for (std::size_t i = 0; i < factors.size(); ++i) {
    const std::string at_factor = element(child(at_profile, "factors"), i);
    SoakFactor change;
    change.round = small_count(factors[i], "round", at_factor);
    change.at = record_duration(factors[i], "at_seconds", at_factor);
    change.factor = factor_value(at(factors[i], "factor", at_factor), child(at_factor, "factor"));
    soak.factors.push_back(change);
  }
}

SoakRecord read_soak(const Json& json, const std::string& path) {
  if (!json.is_object()) {
    throw BadField{path, "must be an object or null"};
  }
  SoakRecord soak;
  soak.planned = record_duration(json, "planned_seconds", path);
  soak.elapsed = record_duration(json, "elapsed_seconds", path);
  soak.checkpoint = record_duration(json, "checkpoint_seconds", path);
  soak.rounds = small_count(json, "rounds", path);
  soak.etcd_watched = record_duration(json, "etcd_watched_seconds", path);
  soak.finished = flag(json, "finished", path);
  soak.plan_file = text_or_empty(json, "plan_file", path);
  soak.plan_digest = text_or_empty(json, "plan_digest", path);
  const Json& resumes = array_at(json, "resumes", path);
  for (std::size_t i = 0; i < resumes.size(); ++i) {
    const std::string at_resume = element(child(path, "resumes"), i);
    SoakResume resume;
    if (std::optional<std::int64_t> at = utc_seconds(resumes[i], "at", at_resume)) {
      resume.at = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(*at)));
    }
    resume.after = record_duration(resumes[i], "after_seconds", at_resume);
    soak.resumes.push_back(resume);
  }
  const Json& phases = array_at(json, "phases", path);
  for (std::size_t i = 0; i < phases.size(); ++i) {
    const std::string at_phase = element(child(path, "phases"), i);
    SoakPhaseRounds rounds;
    const std::string name = text(phases[i], "phase", at_phase);
    std::optional<Phase> phase = parse_phase(name);
    if (!phase) {
      throw BadField{child(at_phase, "phase"), fmt::format("unknown phase \"{}\"", name)};
    }
    rounds.phase = *phase;
    rounds.runs = small_count(phases[i], "runs", at_phase);
    rounds.shown_round = small_count(phases[i], "shown_round", at_phase);
    soak.phases.push_back(rounds);
  }
  const Json& hours = array_at(json, "hours", path);
  for (std::size_t i = 0; i < hours.size(); ++i) {
    const std::string at_hour = element(child(path, "hours"), i);
    SoakHour hour;
    hour.hour = small_count(hours[i], "hour", at_hour);
    hour.metric = text(hours[i], "metric", at_hour);
    hour.count = count(hours[i], "count", at_hour);
    hour.p50 = number(hours[i], "p50", at_hour);
    hour.p99 = number(hours[i], "p99", at_hour);
    hour.max = number(hours[i], "max", at_hour);
    const Json& histogram = at(hours[i], "histogram", at_hour);
    // Checked as the phases' histograms are: what a resume merges must be a histogram.
    if (Result<Histogram> valid = Histogram::from_json(nlohmann::json::parse(histogram.dump())); !valid) {
      throw BadField{child(at_hour, "histogram"), valid.error().message};
    }
    hour.histogram = histogram.dump();
    if (hours[i].contains("load_factors")) {  // absent in reports written before load profiles
      const Json& factors = array_at(hours[i], "load_factors", at_hour);
      for (std::size_t f = 0; f < factors.size(); ++f) {
        hour.load_factors.push_back(factor_value(factors[f], element(child(at_hour, "load_factors"), f)));
      }
    }
    soak.hours.push_back(std::move(hour));
  }
  const Json& watches = array_at(json, "watches", path);
  for (std::size_t i = 0; i < watches.size(); ++i) {
    const std::string at_watch = element(child(path, "watches"), i);
    soak.watches.push_back(SoakWatchState{.source = text(watches[i], "source", at_watch),
                                          .covered = record_duration(watches[i], "covered_seconds", at_watch),
                                          .unwatched = text_or_empty(watches[i], "unwatched", at_watch)});
  }
  const Json& events = array_at(json, "events", path);
  if (events.size() > kMaxSoakEvents) {
    throw BadField{child(path, "events"), fmt::format("holds {} events, more than a soak keeps ({})",
                                                      events.size(), kMaxSoakEvents)};
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string at_event = element(child(path, "events"), i);
    WatchEvent event;
    if (std::optional<std::int64_t> at = utc_seconds(events[i], "at", at_event)) {
      event.at = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(*at)));
    }
    event.source = text(events[i], "source", at_event);
    event.kind = text(events[i], "kind", at_event);
    event.text = text(events[i], "text", at_event);
    soak.events.push_back(std::move(event));
  }
  soak.events_dropped = count(json, "events_dropped", path);
  read_load_profile(json, path, soak);
  return soak;
}

RunReport read_document(const Json& document) {
  RunReport report;
  report.meta = read_meta(at(document, "meta", ""), "meta");
  const Json& overall = at(document, "overall", "");
  report.evaluation.overall = named(overall, "verdict", "overall", kVerdicts, "verdict");
  report.evaluation.overall_reason = text(overall, "reason", "overall");
  report.evaluation.not_judged = texts(overall, "not_judged", "overall");
  const Json& phases = array_at(document, "phases", "");
  for (std::size_t i = 0; i < phases.size(); ++i) {
    read_phase(phases[i], element("phases", i), report);
  }
  const Json& checklist = array_at(document, "checklist", "");
  for (std::size_t i = 0; i < checklist.size(); ++i) {
    const std::string path = element("checklist", i);
    eval::ChecklistItem item;
    item.text = text(checklist[i], "item", path);
    item.state = named(checklist[i], "state", path, kStates, "state");
    item.evidence = text(checklist[i], "evidence", path);
    item.metrics = texts(checklist[i], "metrics", path);
    report.evaluation.checklist.push_back(std::move(item));
  }
  if (const auto soak = document.find("soak"); soak != document.end() && !soak->is_null()) {
    report.soak = read_soak(*soak, "soak");
  }
  return report;
}

}  // namespace

Result<RunReport> read_report(const nlohmann::ordered_json& document, const std::filesystem::path& file) {
  try {
    return read_document(document);
  } catch (const BadField& bad) {
    return fail(ErrorKind::input, fmt::format("{}: {}: {}", file.string(), bad.path, bad.problem));
  } catch (const nlohmann::json::exception& error) {
    // A number out of range for its field, and the like.
    return fail(ErrorKind::input, fmt::format("{}: {}", file.string(), error.what()));
  }
}

std::filesystem::path report_json_path(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error) ? path / "report.json" : path;
}

Result<RunReport> load_report(const std::filesystem::path& path) {
  Result<nlohmann::ordered_json> document = load_report_json(path);
  if (!document) {
    return std::unexpected(document.error());
  }
  return read_report(*document, report_json_path(path));
}

}  // namespace kp::report
