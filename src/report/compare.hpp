#pragma once

// `kubeproof compare A B`: two runs' report.json side by side. Per metric both values and the change in %,
// whether the change is more than noise (from the two recorded histograms, report/compare_significance.hpp),
// and the verdict changes per row, per phase and overall. B is the run under judgement, A the baseline: a row
// got worse when B moved the metric's bad way (latency up, rate down) by more than the tolerance and the
// change is not ruled out as noise. `compare` exits 1 when any row got worse (a CI gate), else 0.

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "eval/verdict.hpp"
#include "report/compare_significance.hpp"
#include "report/run_report.hpp"

namespace kp::report {

struct CompareOptions {
  double tolerance_percent = 5.0;  // a move the bad way beyond this is "worse"
  BootstrapOptions bootstrap;
};

enum class SignificanceState {
  significant,      // the confidence interval of the quantile difference excludes 0
  not_significant,  // it includes 0: the change is within the runs' noise
  cannot_judge,     // no histogram on one side (a single value, e.g. a rate), or not a percentile
};
std::string_view to_string(SignificanceState state);  // "significant", "not significant", "cannot judge"

struct Significance {
  SignificanceState state = SignificanceState::cannot_judge;
  std::optional<QuantileDifference> test;  // when judged: the bootstrap's figures (ns)
  std::string reason;                      // when it cannot judge: why
};

enum class Change {
  worse,           // moved the bad way beyond the tolerance, not ruled out as noise
  better,          // moved the good way beyond the tolerance, not ruled out as noise
  unchanged,       // within the tolerance, or not significant
  not_comparable,  // a value on one side only
};
std::string_view to_string(Change change);  // "worse", "better", "unchanged", "not comparable"

struct CompareRow {
  std::string key;  // a criteria row's name ("etcd.write.p99 [Control Plane]") or an informational metric id
  std::string metric;  // the metric id
  Phase phase = Phase::etcd;
  bool criteria_row = false;  // false: an informational measurement (no verdict)
  bool higher_is_better = false;
  std::string unit;         // display unit
  std::optional<double> a;  // base unit
  std::optional<double> b;
  std::optional<double> change_percent;    // (b - a) / |a| * 100; absent when a is 0 or a value is missing
  std::optional<eval::Verdict> verdict_a;  // criteria rows only
  std::optional<eval::Verdict> verdict_b;
  Significance significance;
  Change change = Change::not_comparable;
};

struct VerdictChange {
  std::string name;  // a phase, or "overall"
  eval::Verdict a = eval::Verdict::not_measured;
  eval::Verdict b = eval::Verdict::not_measured;
  bool changed() const { return a != b; }
};

struct RunSummary {
  std::string file;  // report.json as given
  std::string command;
  std::string profile;
  std::string started;  // ISO UTC or ""
  std::string verdict_text;
};

struct Comparison {
  RunSummary a;
  RunSummary b;
  CompareOptions options;
  // Flow order: A's rows and informational metrics, then B's others; without the rows neither run measured
  // whose verdict did not change.
  std::vector<CompareRow> rows;
  std::vector<VerdictChange> phases;  // the phases both runs have, in flow order
  VerdictChange overall;
  std::vector<std::string> worse;  // keys of the rows that got worse
  int exit_code() const { return worse.empty() ? 0 : 1; }
};

// Input error (exit 2) when no metric was measured in both runs. `a_file`/`b_file` name the runs in output.
Result<Comparison> compare_runs(const RunReport& a, const RunReport& b, const std::string& a_file,
                                const std::string& b_file, const CompareOptions& options);

std::string render_compare_table(const Comparison& comparison);     // for a terminal
std::string render_compare_json(const Comparison& comparison);      // schema "kubeproof.compare", version 1
std::string render_compare_markdown(const Comparison& comparison);  // for a pull request or a ticket

}  // namespace kp::report
