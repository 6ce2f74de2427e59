// JUnit XML for CI systems: a testsuite per phase, a testcase per active criteria row, named by metric id and
// the seed's table. FAIL is a <failure>; NOT MEASURED and SKIPPED are <skipped/>; CONDITIONAL PASS passes and
// says so in <system-out>. A phase that was invalid, aborted or errored gets one more testcase carrying an
// <error>, so a CI dashboard cannot show such a phase green. A stress search is one more testcase, "<metric>
// [breaking point]", whose <system-out> lists every step; it passes whether or not the breaking point was
// reached (finding it is the point), and is <skipped/> when no step ran. The phase's notes (the generators'
// statements) go into the suite's <system-out>.

#include <fmt/format.h>

#include "eval/verdict.hpp"
#include "report/report_text.hpp"
#include "report/run_report.hpp"
#include "report/stress_text.hpp"

namespace kp::report {
namespace {

std::string xml_escape(std::string_view text) {
  return detail::markup_escape(text, detail::MarkupPlace::attribute);
}
std::string xml_text(std::string_view text) {
  return detail::markup_escape(text, detail::MarkupPlace::content);
}

bool phase_is_broken(const eval::PhaseEvaluation& phase) {
  return phase.verdict == eval::Verdict::invalid || phase.verdict == eval::Verdict::aborted ||
         phase.verdict == eval::Verdict::in_progress || phase.status == eval::PhaseStatus::error ||
         phase.status == eval::PhaseStatus::cancelled;
}

struct Counts {
  int tests = 0;
  int failures = 0;
  int errors = 0;
  int skipped = 0;
};

std::string row_detail(const eval::RowResult& result) {
  const config::CriteriaRow& row = result.row;
  std::string unit = detail::display_unit_of(row);
  std::string measured = result.measured ? detail::format_value(row.metric, *result.measured, unit)
                                         : std::string("not measured");
  std::string critical = row.critical ? detail::format_level(row, row.critical) : std::string("none defined");
  return fmt::format("{} ({} / {}): measured {}; target {}; critical {}; {}: {}", row.metric, row.component,
                     row.label, measured, detail::format_level(row, row.target), critical,
                     eval::to_string(result.verdict), result.reason);
}

std::string testcase_xml(const eval::PhaseEvaluation& phase, const eval::RowResult& result, Counts& counts) {
  std::string classname = fmt::format("kubeproof.{}", to_string(phase.phase));
  std::string opening = fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"0\"",
                                    xml_escape(detail::row_name(result.row)), xml_escape(classname));
  std::string out;
  ++counts.tests;
  std::string detail_text = row_detail(result);
  switch (result.verdict) {
    case eval::Verdict::pass:
      break;
    case eval::Verdict::conditional_pass:
      out += fmt::format("      <system-out>{}</system-out>\n", xml_text(detail_text));
      break;
    case eval::Verdict::fail:
      ++counts.failures;
      out += fmt::format("      <failure message=\"{}\" type=\"FAIL\">{}</failure>\n",
                         xml_escape(result.reason), xml_text(detail_text));
      break;
    default: {
      // NOT MEASURED (and anything else a row may carry): the phase reason says why when the phase did not
      // run.
      ++counts.skipped;
      std::string why = result.reason;
      if (!phase.reason.empty()) {
        why = why.empty() ? phase.reason : fmt::format("{} ({})", why, phase.reason);
      }
      out += fmt::format("      <skipped message=\"{}: {}\"/>\n", xml_escape(eval::to_string(result.verdict)),
                         xml_escape(why));
      break;
    }
  }
  if (out.empty()) {
    return opening + "/>\n";
  }
  return fmt::format("{}>\n{}    </testcase>\n", opening, out);
}

// The breaking point of one stress series as a testcase, its steps in <system-out>.
std::string stress_testcase_xml(const eval::PhaseEvaluation& phase, const load::StressResult& series,
                                Counts& counts) {
  ++counts.tests;
  std::string opening =
      fmt::format("    <testcase name=\"{} [breaking point]\" classname=\"kubeproof.{}\" time=\"0\">\n",
                  xml_escape(series.metric), xml_escape(to_string(phase.phase)));
  const std::string point = detail::breaking_point_text(series);
  if (series.steps.empty() || (!series.breaking_level && !series.last_held)) {
    ++counts.skipped;
    return fmt::format("{}      <skipped message=\"{}\"/>\n    </testcase>\n", opening, xml_escape(point));
  }
  std::string text = fmt::format("{}: breaking point {}\n", series.series, point);
  for (const detail::StepCells& cells : detail::all_step_cells(series)) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += fmt::format("{}{} {}", i == 0 ? "" : ", ", detail::kStepHeaders[i], cells[i]);
    }
    text += line + "\n";
  }
  return fmt::format("{}      <system-out>{}</system-out>\n    </testcase>\n", opening, xml_text(text));
}

std::string testsuite_xml(const RunReport& report, const eval::PhaseEvaluation& phase, Counts& totals) {
  Counts counts;
  std::string cases;
  for (const eval::RowResult& row : phase.rows) {
    cases += testcase_xml(phase, row, counts);
  }
  for (const load::StressResult& series : phase.stress) {
    cases += stress_testcase_xml(phase, series, counts);
  }
  if (phase_is_broken(phase)) {
    ++counts.tests;
    ++counts.errors;
    std::string reasons = phase.reason;
    if (const eval::PhaseInput* input = detail::input_of(report, phase.phase)) {
      for (const std::string& reason : input->invalid_reasons) {
        // An INVALID phase's reason already lists its invalid reasons: say each once.
        if (reasons.find(reason) == std::string::npos) {
          reasons += reasons.empty() ? reason : "; " + reason;
        }
      }
    }
    std::string message = fmt::format("{} ({}): {}", eval::to_string(phase.verdict),
                                      detail::status_name(phase.status), reasons);
    cases += fmt::format(
        "    <testcase name=\"{} phase\" classname=\"kubeproof.{}\" time=\"0\">\n"
        "      <error message=\"{}\" type=\"{}\"/>\n"
        "    </testcase>\n",
        xml_escape(to_string(phase.phase)), xml_escape(to_string(phase.phase)), xml_escape(message),
        xml_escape(eval::to_string(phase.verdict)));
  }

  double seconds = 0;
  std::string timestamp;
  auto timing = report.timings.find(phase.phase);
  if (timing != report.timings.end()) {
    seconds = detail::seconds_between(timing->second.started, timing->second.finished);
    timestamp = detail::iso_utc(timing->second.started);
  }
  if (timestamp.empty()) {
    timestamp = detail::iso_utc(report.meta.started);
  }

  std::string out = fmt::format(
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\"",
      xml_escape(to_string(phase.phase)), counts.tests, counts.failures, counts.errors, counts.skipped,
      seconds);
  if (!timestamp.empty()) {
    // JUnit's timestamp attribute has no zone designator.
    out += fmt::format(" timestamp=\"{}\"", xml_escape(timestamp.substr(0, timestamp.size() - 1)));
  }
  out += ">\n";
  out += "    <properties>\n";
  auto property = [&out](std::string_view name, std::string_view value) {
    out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", xml_escape(name), xml_escape(value));
  };
  property("display_name", display_name(phase.phase));
  property("status", detail::status_name(phase.status));
  property("verdict", eval::to_string(phase.verdict));
  property("reason", phase.reason);
  property("duration_scale", fmt::format("{:g}", report.meta.duration_scale));
  if (std::string note = detail::duration_scale_note(report.meta); !note.empty()) {
    property("duration_scale_note", note);
  }
  for (const load::StressResult& series : phase.stress) {
    if (series.breaking_level) {
      property(series.metric + ".breaking_level", fmt::format("{}", *series.breaking_level));
    }
    if (series.last_held) {
      property(series.metric + ".last_held", fmt::format("{}", *series.last_held));
    }
  }
  out += "    </properties>\n";
  out += cases;
  if (!phase.notes.empty()) {
    std::string notes;
    for (const std::string& note : phase.notes) {
      notes += note + "\n";
    }
    out += fmt::format("    <system-out>{}</system-out>\n", xml_text(notes));
  }
  out += "  </testsuite>\n";

  totals.tests += counts.tests;
  totals.failures += counts.failures;
  totals.errors += counts.errors;
  totals.skipped += counts.skipped;
  return out;
}

}  // namespace

std::string render_junit(const RunReport& report) {
  Counts totals;
  std::string suites;
  for (const eval::PhaseEvaluation& phase : report.evaluation.phases) {
    suites += testsuite_xml(report, phase, totals);
  }
  std::string name = fmt::format("kubeproof {} {} — {}", report.meta.command, report.meta.profile,
                                 eval::to_string(report.evaluation.overall));
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
      xml_escape(name), totals.tests, totals.failures, totals.errors, totals.skipped,
      detail::seconds_between(report.meta.started, report.meta.finished));
  out += suites;
  out += "</testsuites>\n";
  return out;
}

}  // namespace kp::report
