#pragma once

// How every writer in this folder shows a stress search (load::StressResult): one line of cells per step and
// one sentence for the breaking point, so the console, Markdown, JUnit and JSON texts agree word for word.
// Internal to src/report.

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "load/breaking_point.hpp"

namespace kp::report::detail {

// The columns of a step line, in order; `kStepHeaders` names them.
inline constexpr std::array<std::string_view, 10> kStepHeaders = {
    "STEP", "LEVEL", "FACTOR", "OFFERED", "ACHIEVED", "P50", "P99", "ERRORS", "TIME", "RESULT"};
using StepCells = std::array<std::string, 10>;

// `index` counts ramp steps and bisection steps apart: "1".."5" for the ramp, "b1".."b3" for the bisection.
StepCells step_cells(const load::StressResult& series, const load::StepRecord& step, std::string_view index);

// The cells of every step of a series, with their "1", "b1" indices.
std::vector<StepCells> all_step_cells(const load::StressResult& series);

// "held", "broke: P99 62.0ms > critical 50ms", "cancelled".
std::string step_result(const load::StepRecord& step);

// The breaking point without the reason the step line already gives:
//   "17.5k QPS (x1.75); last held 16.9k QPS (x1.69)", "17.5k QPS (x1.75); no step held",
//   "not reached: every step held, up to 20k QPS (x2)", "interrupted before the first step ended".
std::string breaking_point_text(const load::StressResult& series);

// "queries, breaking point dns.breaking_rate"
std::string series_title(const load::StressResult& series);

}  // namespace kp::report::detail
