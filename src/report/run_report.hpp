#pragma once

// Everything a report shows about one run (or one `evaluate` of imported measurements). Writers in this
// folder turn it into console text, JSON (docs/report-schema.md), JUnit XML, Markdown and Prometheus text.

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/criteria.hpp"
#include "config/plan.hpp"
#include "core/clock.hpp"
#include "engine/orchestrator.hpp"
#include "eval/evaluation.hpp"
#include "report/soak_record.hpp"
#include "report/timeline.hpp"

namespace kp::report {

// report.json's schema version (docs/report-schema.md); `kubeproof report` reads only this one.
inline constexpr int kReportSchemaVersion = 4;

struct RunMeta {
  std::string tool_version;  // KP_VERSION
  std::string command;       // "run" | "evaluate"
  std::string profile;       // "smoke" | "load" | "stress" | "imported"
  std::string plan_name;
  std::string target;  // "local" | "cluster" | "imported"
  std::filesystem::path criteria_file;
  std::filesystem::path measurements_file;  // evaluate only
  config::TierSelection tiers;
  double duration_scale = 1.0;  // != 1: every duration was shortened; the reports say so
  bool continue_on_fail = false;
  WallTime started{};
  WallTime finished{};
};

struct RunReport {
  RunMeta meta;
  std::vector<eval::PhaseInput> inputs;  // what each phase produced (all measurements, with histograms)
  std::map<Phase, engine::PhaseTiming> timings;
  eval::Evaluation evaluation;
  // Per phase, the per-second series of its load generators (report/timeline.hpp); empty for `evaluate`.
  std::map<Phase, std::vector<SeriesTimeline>> timelines;
  // Per phase, the offered rate of every second as its schedule announced it (a stress ramp's steps too; the
  // open-loop network tests and rate-limited fio jobs over their seconds); empty for `evaluate`.
  std::map<Phase, std::vector<OfferedPoint>> offered_timelines;
  // Per phase, the payload throughput of every second of its streams and fio jobs (network, storage).
  std::map<Phase, std::vector<ThroughputTimeline>> throughput_timelines;
  // A soak's rounds, hours and resumes (docs/soak.md); unset for every other run.
  std::optional<SoakRecord> soak;
};

// Writes `contents` to `path` atomically: a temp file in the same folder, fsync, rename. A failure leaves no
// file at `path` (and no temp file behind).
Result<void> write_file_atomically(const std::filesystem::path& path, std::string_view contents);

std::string render_json(const RunReport& report);   // schema version kReportSchemaVersion
std::string render_junit(const RunReport& report);  // a testsuite per phase, a testcase per criteria row
std::string render_markdown(const RunReport& report);
// report.html (self-contained, Chart.js inlined) from report.json's document, or from a run via render_json.
std::string render_html(const nlohmann::ordered_json& report_json);
std::string render_html(const RunReport& report);
// Text for HTML element content and attribute values.
std::string html_escape(std::string_view text);
struct ConsoleOptions {
  bool color = false;
};
std::string render_console(const RunReport& report, const ConsoleOptions& options);
// Prometheus text exposition of the final values (kubeproof_metric{id="etcd.write.p99",...}), for a textfile
// collector or a push to a Pushgateway.
std::string render_prometheus(const RunReport& report);

// Creates results_root/<UTC timestamp of meta.started>-<profile>/ (with "-2", "-3", ... appended when that
// folder exists) and writes report.json, report.html, junit.xml, summary.md and metrics.prom into it, each
// atomically. Returns the folder.
Result<std::filesystem::path> write_reports(const RunReport& report,
                                            const std::filesystem::path& results_root);
// The two steps of write_reports: the new folder (nothing written in it), and every file written into an
// existing folder, each atomically (a checkpoint rewrites them in place: a reader, or a kill -9, finds each
// file whole, either the last checkpoint's or the one before).
Result<std::filesystem::path> create_report_folder(const RunReport& report,
                                                   const std::filesystem::path& results_root);
Result<void> write_reports_into(const RunReport& report, const std::filesystem::path& folder);

}  // namespace kp::report
