#include "report/compare.hpp"

#include <fmt/format.h>
#include <cmath>
#include <limits>

#include "config/metric_direction.hpp"
#include "report/report_text.hpp"

namespace kp::report {
namespace {

// One metric of one run as compare sees it.
struct Entry {
  std::string key;
  std::string metric;
  Phase phase = Phase::etcd;
  bool criteria_row = false;
  bool higher_is_better = false;
  std::string unit;
  std::optional<double> value;
  std::optional<eval::Verdict> verdict;
  const Histogram* histogram = nullptr;
};

std::optional<double> finite(std::optional<double> value) {
  if (value && std::isfinite(*value)) {
    return value;
  }
  return std::nullopt;
}

const Histogram* histogram_of(const RunReport& report, Phase phase, std::string_view metric) {
  for (const Measurement& measurement : detail::measurements_of(report, phase)) {
    if (measurement.metric == metric && measurement.histogram) {
      return &*measurement.histogram;
    }
  }
  return nullptr;
}

std::vector<Entry> entries_of(const RunReport& report) {
  std::vector<Entry> entries;
  for (const eval::PhaseEvaluation& phase : report.evaluation.phases) {
    for (const eval::RowResult& result : phase.rows) {
      Entry entry;
      entry.key = detail::row_name(result.row);
      entry.metric = result.row.metric;
      entry.phase = phase.phase;
      entry.criteria_row = true;
      entry.higher_is_better = result.row.comparison == config::Comparison::greater ||
                               result.row.comparison == config::Comparison::greater_equal;
      entry.unit = detail::display_unit_of(result.row);
      entry.value = finite(result.measured);
      entry.verdict = result.verdict;
      entry.histogram = histogram_of(report, phase.phase, entry.metric);
      entries.push_back(std::move(entry));
    }
    for (const Measurement& measurement : phase.informational) {
      Entry entry;
      entry.key = measurement.metric;
      entry.metric = measurement.metric;
      entry.phase = phase.phase;
      entry.higher_is_better = config::higher_is_better(measurement.metric);
      entry.value = finite(measurement.value);
      entry.histogram = histogram_of(report, phase.phase, entry.metric);
      entries.push_back(std::move(entry));
    }
  }
  return entries;
}

const Entry* find_entry(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& entry : entries) {
    if (entry.key == key) {
      return &entry;
    }
  }
  return nullptr;
}

Significance judge(const Entry* a, const Entry* b, const BootstrapOptions& options) {
  Significance out;
  const bool in_a = a != nullptr && a->histogram != nullptr;
  const bool in_b = b != nullptr && b->histogram != nullptr;
  if (!in_a && !in_b) {
    out.reason = "single values, no histogram: cannot judge significance";
    return out;
  }
  if (!in_a || !in_b) {
    out.reason = fmt::format("no histogram in {}: cannot judge significance", in_a ? "B" : "A");
    return out;
  }
  const std::string& metric = (a != nullptr ? a : b)->metric;
  std::optional<double> percentile = percentile_of_metric(metric);
  if (!percentile) {
    out.reason = fmt::format("{} is not a percentile: cannot judge significance", metric);
    return out;
  }
  out.test = bootstrap_quantile_difference(*a->histogram, *b->histogram, *percentile, options, metric);
  if (!out.test) {
    out.reason = "an empty histogram: cannot judge significance";
    return out;
  }
  out.state = out.test->significant ? SignificanceState::significant : SignificanceState::not_significant;
  return out;
}

CompareRow compare_entry(const Entry* a, const Entry* b, const CompareOptions& options) {
  const Entry& any = a != nullptr ? *a : *b;
  CompareRow row;
  row.key = any.key;
  row.metric = any.metric;
  row.phase = any.phase;
  row.criteria_row = any.criteria_row;
  row.higher_is_better = any.higher_is_better;
  row.unit = any.unit;
  if (a != nullptr) {
    row.a = a->value;
    row.verdict_a = a->verdict;
  }
  if (b != nullptr) {
    row.b = b->value;
    row.verdict_b = b->verdict;
  }
  row.significance = judge(a, b, options.bootstrap);
  if (!row.a || !row.b) {
    row.change = Change::not_comparable;
    return row;
  }
  double magnitude = 0;  // percent
  if (*row.a != 0) {
    row.change_percent = (*row.b - *row.a) / std::fabs(*row.a) * 100;
    magnitude = std::fabs(*row.change_percent);
  } else if (*row.b == 0) {
    row.change_percent = 0.0;
  } else {
    // From 0 to anything is beyond any tolerance (an error rate that was 0 and no longer is).
    magnitude = std::numeric_limits<double>::infinity();
  }
  const bool moved_bad_way = row.higher_is_better ? *row.b < *row.a : *row.b > *row.a;
  const bool noise = row.significance.state == SignificanceState::not_significant;
  if (magnitude > options.tolerance_percent && !noise) {
    row.change = moved_bad_way ? Change::worse : Change::better;
  } else {
    row.change = Change::unchanged;
  }
  return row;
}

RunSummary summary_of(const RunReport& report, const std::string& file) {
  RunSummary summary;
  summary.file = file;
  summary.command = report.meta.command;
  summary.profile = report.meta.profile;
  summary.started = detail::iso_utc(report.meta.started);
  summary.verdict_text = eval::verdict_text(report.evaluation);
  return summary;
}

}  // namespace

std::string_view to_string(SignificanceState state) {
  switch (state) {
    case SignificanceState::significant:
      return "significant";
    case SignificanceState::not_significant:
      return "not significant";
    case SignificanceState::cannot_judge:
      return "cannot judge";
  }
  return "cannot judge";
}

std::string_view to_string(Change change) {
  switch (change) {
    case Change::worse:
      return "worse";
    case Change::better:
      return "better";
    case Change::unchanged:
      return "unchanged";
    case Change::not_comparable:
      return "not comparable";
  }
  return "not comparable";
}

Result<Comparison> compare_runs(const RunReport& a, const RunReport& b, const std::string& a_file,
                                const std::string& b_file, const CompareOptions& options) {
  const std::vector<Entry> in_a = entries_of(a);
  const std::vector<Entry> in_b = entries_of(b);
  Comparison comparison;
  comparison.a = summary_of(a, a_file);
  comparison.b = summary_of(b, b_file);
  comparison.options = options;
  // A row neither run measured, with the same verdict on both sides, says nothing: it is left out.
  auto add = [&comparison, &options](const Entry* from_a, const Entry* from_b) {
    CompareRow row = compare_entry(from_a, from_b, options);
    if (row.a || row.b || row.verdict_a != row.verdict_b) {
      comparison.rows.push_back(std::move(row));
    }
  };
  for (const Entry& entry : in_a) {
    add(&entry, find_entry(in_b, entry.key));
  }
  for (const Entry& entry : in_b) {
    if (find_entry(in_a, entry.key) == nullptr) {
      add(nullptr, &entry);
    }
  }
  std::size_t in_both = 0;
  for (const CompareRow& row : comparison.rows) {
    in_both += row.a && row.b ? 1 : 0;
    if (row.change == Change::worse) {
      comparison.worse.push_back(row.key);
    }
  }
  if (in_both == 0) {
    return fail(
        ErrorKind::input,
        fmt::format("{} and {}: no metric was measured in both runs, nothing to compare", a_file, b_file));
  }
  for (const eval::PhaseEvaluation& phase_a : a.evaluation.phases) {
    for (const eval::PhaseEvaluation& phase_b : b.evaluation.phases) {
      if (phase_a.phase == phase_b.phase) {
        comparison.phases.push_back(
            VerdictChange{std::string(to_string(phase_a.phase)), phase_a.verdict, phase_b.verdict});
      }
    }
  }
  comparison.overall = VerdictChange{"overall", a.evaluation.overall, b.evaluation.overall};
  return comparison;
}

}  // namespace kp::report
