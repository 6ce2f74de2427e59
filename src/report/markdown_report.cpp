// The Markdown summary: what a platform team pastes into a ticket or a pull request. A phase table, a row
// table, a table per stress series (every step and the breaking point) and the seed's pre-production
// checklist.

#include <fmt/format.h>

#include "eval/verdict.hpp"
#include "report/report_text.hpp"
#include "report/run_report.hpp"
#include "report/soak_text.hpp"
#include "report/stress_text.hpp"

namespace kp::report {
namespace {

// A table cell: pipes would split the cell and line breaks would end the table.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n' || c == '\r') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out.empty() ? std::string("—") : out;
}

std::string verdict_cell(eval::Verdict verdict) {
  switch (verdict) {
    case eval::Verdict::pass:
    case eval::Verdict::conditional_pass:
      return fmt::format("{}", eval::to_string(verdict));
    default:
      return fmt::format("**{}**", eval::to_string(verdict));
  }
}

std::string_view checkbox(eval::ChecklistState state) {
  return state == eval::ChecklistState::met ? "[x]" : "[ ]";
}

}  // namespace

std::string render_markdown(const RunReport& report) {
  const RunMeta& meta = report.meta;
  const eval::Evaluation& evaluation = report.evaluation;
  std::string out;
  out += fmt::format("# kubeproof: {}\n\n", eval::verdict_text(evaluation));
  out += fmt::format("**{}** (exit code {}): {}\n\n", eval::verdict_text(evaluation),
                     eval::exit_code_for(evaluation.overall), cell(evaluation.overall_reason));
  if (std::string note = detail::duration_scale_note(meta); !note.empty()) {
    out += fmt::format("> **WARNING: {}**\n\n", note);
  }
  if (std::string note = detail::continue_on_fail_note(meta); !note.empty()) {
    out += fmt::format("> **Note: {}**\n\n", note);
  }

  out += "| | |\n|---|---|\n";
  out += fmt::format("| Command | `{}` |\n", cell(meta.command));
  out += fmt::format("| Profile | {} |\n", cell(meta.profile));
  if (!meta.plan_name.empty()) {
    out += fmt::format("| Plan | {} |\n", cell(meta.plan_name));
  }
  out += fmt::format("| Target | {} |\n", cell(meta.target));
  out += fmt::format("| Criteria | `{}` |\n", cell(meta.criteria_file.string()));
  if (!meta.measurements_file.empty()) {
    out += fmt::format("| Measurements | `{}` |\n", cell(meta.measurements_file.string()));
  }
  out += fmt::format("| Tiers | {} |\n", cell(detail::tiers_text(meta.tiers)));
  out += fmt::format("| Duration scale | {:g} |\n", meta.duration_scale);
  out += fmt::format("| Started | {} |\n", cell(detail::iso_utc(meta.started)));
  out += fmt::format("| Finished | {} |\n", cell(detail::iso_utc(meta.finished)));
  out += fmt::format("| kubeproof | {} |\n\n", cell(meta.tool_version));

  out += "## Phases\n\n| # | Phase | Status | Verdict | Reason |\n|---|---|---|---|---|\n";
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    out += fmt::format("| {} | {} | {} | {} | {} |\n", static_cast<int>(phase.phase) + 1,
                       cell(display_name(phase.phase)), detail::status_name(phase.status),
                       verdict_cell(phase.verdict), cell(phase.reason));
  }

  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    for (const std::string& note : phase.notes) {
      out += fmt::format("\n> {}: {}\n", display_name(phase.phase), cell(note));
    }
  }

  out +=
      "\n## Criteria\n\n| Phase | Metric | Table | Criterion | Measured | Target | Critical | Verdict | "
      "Reason |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    for (const eval::RowResult& result : phase.rows) {
      const config::CriteriaRow& row = result.row;
      std::string measured =
          result.measured ? detail::format_value(row.metric, *result.measured, detail::display_unit_of(row))
                          : std::string("not measured");
      if (result.offered) {
        measured += fmt::format(
            " (offered {})", detail::format_value(row.metric, *result.offered, detail::display_unit_of(row)));
      }
      out += fmt::format(
          "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |\n", to_string(phase.phase), cell(row.metric),
          cell(row.table),
          cell(row.component.empty() ? row.label : fmt::format("{}: {}", row.component, row.label)),
          cell(measured), cell(detail::format_level(row, row.target)),
          cell(detail::format_level(row, row.critical)), verdict_cell(result.verdict), cell(result.reason));
    }
  }

  bool any_informational = false;
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    any_informational = any_informational || !phase.informational.empty();
  }
  if (any_informational) {
    out +=
        "\n## Informational (no criterion)\n\n| Phase | Metric | Measured | Source | Note "
        "|\n|---|---|---|---|---|\n";
    for (const eval::PhaseEvaluation& phase : evaluation.phases) {
      for (const Measurement& measurement : phase.informational) {
        out += fmt::format("| {} | `{}` | {} | {} | {} |\n", to_string(phase.phase), cell(measurement.metric),
                           cell(detail::format_value(measurement.metric, measurement.value)),
                           cell(measurement.source), cell(measurement.note));
      }
    }
  }

  bool any_stress = false;
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    any_stress = any_stress || !phase.stress.empty();
  }
  if (any_stress) {
    out += "\n## Stress: steps and breaking points\n";
    for (const eval::PhaseEvaluation& phase : evaluation.phases) {
      for (const load::StressResult& series : phase.stress) {
        out +=
            fmt::format("\n### {}: {}\n\n**Breaking point** (`{}`): {}\n\n", display_name(phase.phase),
                        cell(series.series), cell(series.metric), cell(detail::breaking_point_text(series)));
        std::string header = "|";
        std::string rule = "|";
        for (std::string_view name : detail::kStepHeaders) {
          header += fmt::format(" {} |", name);
          rule += "---|";
        }
        out += header + "\n" + rule + "\n";
        for (const detail::StepCells& cells : detail::all_step_cells(series)) {
          std::string line = "|";
          for (const std::string& text : cells) {
            line += fmt::format(" {} |", cell(text));
          }
          out += line + "\n";
        }
      }
    }
  }

  if (report.soak) {
    out += fmt::format("\n## Soak: latency hour by hour\n\n{}\n\n", cell(soak_summary(*report.soak)));
    std::string header = "|";
    std::string rule = "|";
    for (const std::string& name : soak_hour_headers(*report.soak)) {
      header += fmt::format(" {} |", name);
      rule += "---|";
    }
    out += header + "\n" + rule + "\n";
    for (const auto& cells : soak_hour_cells(*report.soak)) {
      std::string line = "|";
      for (const std::string& text : cells) {
        line += fmt::format(" {} |", cell(text));
      }
      out += line + "\n";
    }
    const std::vector<std::string> watch_lines = soak_watch_lines(*report.soak);
    if (!watch_lines.empty()) {
      out += "\n### Soak: watches\n\n";
      for (const std::string& line : watch_lines) {
        out += fmt::format("- {}\n", cell(line));
      }
    }
  }

  out += "\n## Pre-production checklist\n\n";
  for (const eval::ChecklistItem& item : evaluation.checklist) {
    out += fmt::format("- {} {} — *{}*", checkbox(item.state), item.text, eval::to_string(item.state));
    if (!item.evidence.empty()) {
      out += fmt::format(": {}", item.evidence);
    }
    out += "\n";
  }
  return out;
}

}  // namespace kp::report
