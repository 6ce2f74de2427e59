#pragma once

// Pieces every writer in this folder shares, so the console, Markdown, JSON, JUnit and Prometheus outputs say
// the same thing in the same words. Internal to src/report.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/criteria.hpp"
#include "core/clock.hpp"
#include "core/measurement.hpp"
#include "core/units.hpp"
#include "eval/evaluation.hpp"
#include "report/run_report.hpp"

namespace kp::report::detail {

// The quantity of a metric id; ids outside the catalog (criteria validation rules them out) count as plain
// counts.
Quantity quantity_of(std::string_view metric);

// Short name of a quantity's base unit as the JSON report states it: "s", "1/s", "ratio", "bit/s", "count",
// "B".
std::string_view base_unit(Quantity quantity);

// The row's display unit, falling back to the catalog's.
std::string display_unit_of(const config::CriteriaRow& row);

// A measured value for people: "12.0ms", "5.00Gbps".
std::string format_value(std::string_view metric, double value, std::string_view display_unit = {});

// A threshold written the way the seed writes it: "25ms", "1s", "10k QPS", "5Gbps", "200MB/s", "0.1%"
// (compact, no padding zeros, the natural scale for durations).
std::string format_threshold(std::string_view metric, double value, std::string_view display_unit);

// A threshold with its direction: "< 25ms", "<= 1s"; empty when the level is absent.
std::string format_level(const config::CriteriaRow& row, std::optional<double> level);

std::string_view status_name(eval::PhaseStatus status);  // "completed", "skipped", "cancelled", "error"

bool is_set(WallTime time);
std::string iso_utc(WallTime time);      // "2026-11-27T23:05:12Z"; empty when unset
std::string compact_utc(WallTime time);  // "20261127T230512Z"
double seconds_between(WallTime from, WallTime to);

// "storage_tier=ssd, cluster_size=small, pod_images=cached"
std::string tiers_text(const config::TierSelection& tiers);

// The loud sentence every report carries when durations were shortened; empty when duration_scale == 1.
std::string duration_scale_note(const RunMeta& meta);
// The sentence reports carry when phases above a failed one ran anyway; empty otherwise.
std::string continue_on_fail_note(const RunMeta& meta);

// Names a row uniquely within a run: the metric id plus the seed's table ("api.mutating.p99 [Kubernetes
// SLO]"), because one metric can be judged by rows of two tables.
std::string row_name(const config::CriteriaRow& row);

// The measurements a phase produced (empty when the report has no input for it).
const std::vector<Measurement>& measurements_of(const RunReport& report, Phase phase);
const eval::PhaseInput* input_of(const RunReport& report, Phase phase);

// Replaces each byte that is not part of a well-formed UTF-8 sequence with U+FFFD, so text from a driver or a
// service can always go into XML or JSON.
std::string valid_utf8(std::string_view text);

// Where escaped text goes in XML or HTML: attributes need line breaks and tabs as references (a parser
// normalises literal ones to spaces); element content keeps them literally, readable in CI logs.
enum class MarkupPlace { attribute, content };
// Escapes text for XML and HTML alike (the apostrophe as &#39;, which both read). Malformed UTF-8 becomes
// U+FFFD and control characters XML 1.0 forbids are dropped: a driver's stray byte must not make a report
// unparseable.
std::string markup_escape(std::string_view text, MarkupPlace place);

// Number of code points in UTF-8 text: column width for alignment ("µs" is one column, two bytes).
std::size_t display_width(std::string_view text);

}  // namespace kp::report::detail
