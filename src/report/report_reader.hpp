#pragma once

// report.json back into the in-memory RunReport (`kubeproof report --format md|junit`, `kubeproof compare`).
//
// The round trip is exact: render_json(read_report(render_json(r))) is byte for byte render_json(r). What
// report.json does not carry is not invented: a criteria row's file line and Description column, a phase
// input's own notes (the phase's notes carry them), and sub-second times. For the last, the reader picks
// times whose whole seconds and differences give back the stored `started`, `finished` and
// `duration_seconds` exactly.
//
// Every failure is one input error naming the file and the field ("results/x/report.json:
// phases[2].rows[0].verdict: unknown verdict \"GOOD\""), so `kubeproof` exits 2.

#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "report/run_report.hpp"

namespace kp::report {

// `document` is a report.json already checked for schema and version (load_report_json); `file` names it in
// errors.
Result<RunReport> read_report(const nlohmann::ordered_json& document, const std::filesystem::path& file);

// `path`: a results folder (its report.json) or a report.json file: load_report_json, then read_report.
Result<RunReport> load_report(const std::filesystem::path& path);

// The report.json a path names: `path` itself, or `path`/report.json for a folder.
std::filesystem::path report_json_path(const std::filesystem::path& path);

}  // namespace kp::report
