// The table a person reads at the end of a run: one aligned table for every phase (columns line up across
// phases), the checklist, and the overall verdict last, where the eye lands. Colour only when asked for; the
// CLI asks only on a TTY.

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <map>

#include "eval/verdict.hpp"
#include "report/report_text.hpp"
#include "report/run_report.hpp"
#include "report/soak_text.hpp"
#include "report/stress_text.hpp"

namespace kp::report {
namespace {

constexpr std::string_view kReset = "\x1b[0m";

std::string_view colour_of(eval::Verdict verdict) {
  switch (verdict) {
    case eval::Verdict::pass:
      return "\x1b[32m";  // green
    case eval::Verdict::conditional_pass:
      return "\x1b[33m";  // yellow
    case eval::Verdict::fail:
      return "\x1b[1;31m";  // bold red
    case eval::Verdict::invalid:
    case eval::Verdict::aborted:
    case eval::Verdict::in_progress:
    case eval::Verdict::incomplete:
      return "\x1b[35m";  // magenta
    case eval::Verdict::not_judged:
    case eval::Verdict::not_measured:
    case eval::Verdict::skipped:
      return "\x1b[2m";  // dim
  }
  return "";
}

std::string_view colour_of(eval::ChecklistState state) {
  switch (state) {
    case eval::ChecklistState::met:
      return "\x1b[32m";
    case eval::ChecklistState::not_met:
      return "\x1b[1;31m";
    case eval::ChecklistState::not_verified:
      return "\x1b[2m";
  }
  return "";
}

class Painter {
 public:
  explicit Painter(bool enabled) : enabled_(enabled) {}
  std::string paint(std::string_view colour, std::string_view text) const {
    if (!enabled_ || colour.empty()) {
      return std::string(text);
    }
    return fmt::format("{}{}{}", colour, text, kReset);
  }

 private:
  bool enabled_;
};

// Pads to `width` columns; counts code points so "µs" lines up.
std::string pad(std::string_view text, std::size_t width) {
  std::size_t shown = detail::display_width(text);
  std::string out(text);
  if (shown < width) {
    out.append(width - shown, ' ');
  }
  return out;
}

struct Line {
  eval::Verdict verdict;
  std::array<std::string, 4> cells;  // metric, measured, target, critical
  std::string reason;
};

// A phase's stress searches: a title, one aligned line per step, then the breaking point. Steps have their
// own columns (they are not criteria rows), aligned within the series.
std::string stress_block(const load::StressResult& series, const Painter& painter) {
  const std::vector<detail::StepCells> rows = detail::all_step_cells(series);
  std::array<std::size_t, detail::kStepHeaders.size()> widths{};
  for (std::size_t i = 0; i < widths.size(); ++i) {
    widths[i] = detail::kStepHeaders[i].size();
    for (const detail::StepCells& cells : rows) {
      widths[i] = std::max(widths[i], detail::display_width(cells[i]));
    }
  }
  auto line = [&](auto cell_at) {
    std::string text = "  ";
    for (std::size_t i = 0; i < widths.size(); ++i) {
      text += "  " + pad(cell_at(i), i + 1 < widths.size() ? widths[i] : 0);
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    return text + "\n";
  };
  std::string out =
      painter.paint("\x1b[1m", fmt::format("  stress: {}", detail::series_title(series))) + "\n";
  out += line([](std::size_t i) { return std::string(detail::kStepHeaders[i]); });
  for (const detail::StepCells& cells : rows) {
    out += line([&cells](std::size_t i) { return cells[i]; });
  }
  out += fmt::format("  breaking point: {}\n", detail::breaking_point_text(series));
  return out;
}

// A note longer than this is a statement for the files (report.json, summary.md), not for the table.
constexpr std::size_t kConsoleNoteLimit = 110;

// The overall line's explanation without any phase's reason (each is on its phase's line above): how many
// phases were judged, which phases hold the verdict back, which were skipped, how many rows a smoke run does
// not judge. The full sentence (with the reasons) is report.json's overall.reason.
std::string overall_summary(const eval::Evaluation& evaluation) {
  std::size_t in_scope = 0;
  std::map<eval::Verdict, std::vector<std::string>> by_verdict;
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    if (phase.verdict != eval::Verdict::skipped && phase.verdict != eval::Verdict::not_judged) {
      ++in_scope;
    }
    if (phase.verdict != eval::Verdict::pass && phase.verdict != eval::Verdict::not_judged) {
      by_verdict[phase.verdict].emplace_back(to_string(phase.phase));
    }
  }
  std::vector<std::string> parts{
      fmt::format("{} of {} phases evaluated", in_scope, evaluation.phases.size())};
  for (const auto& [verdict, names] : by_verdict) {
    std::string joined;
    for (const std::string& name : names) {
      joined += (joined.empty() ? "" : ", ") + name;
    }
    parts.push_back(fmt::format(
        "{} {}", verdict == eval::Verdict::skipped ? "skipped" : eval::to_string(verdict), joined));
  }
  if (!evaluation.not_judged.empty()) {
    parts.push_back(fmt::format("{} capacity row{} {}", evaluation.not_judged.size(),
                                evaluation.not_judged.size() == 1 ? "" : "s",
                                eval::not_judged_reason(evaluation)));
  }
  std::string out;
  for (const std::string& part : parts) {
    out += (out.empty() ? "" : "; ") + part;
  }
  return out;
}

}  // namespace

std::string render_console(const RunReport& report, const ConsoleOptions& options) {
  Painter painter(options.color);
  const RunMeta& meta = report.meta;
  const eval::Evaluation& evaluation = report.evaluation;

  // Build every phase's lines first so the columns can be aligned across the whole table.
  std::map<Phase, std::vector<Line>> lines;
  std::array<std::size_t, 4> widths = {6, 8, 6, 8};  // at least the headers
  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    std::map<std::string, int> uses;
    for (const eval::RowResult& result : phase.rows) {
      ++uses[result.row.metric];
    }
    for (const eval::RowResult& result : phase.rows) {
      const config::CriteriaRow& row = result.row;
      Line line{result.verdict, {}, {}};
      // One metric judged by two tables (the API SLO rows) needs the table to tell its lines apart.
      line.cells[0] = uses[row.metric] > 1 ? detail::row_name(row) : row.metric;
      line.cells[1] = result.measured
                          ? detail::format_value(row.metric, *result.measured, detail::display_unit_of(row))
                          : std::string("-");
      line.cells[2] = row.target ? detail::format_level(row, row.target) : std::string("-");
      line.cells[3] = row.critical ? detail::format_level(row, row.critical) : std::string("-");
      // PASS needs no explanation, and "not measured" beside NOT MEASURED says nothing new.
      if (result.verdict != eval::Verdict::pass && result.reason != "not measured") {
        line.reason = result.reason;
      }
      // A capacity row a smoke run does not judge: what was offered beside what was achieved (the value).
      if (result.verdict == eval::Verdict::not_judged && result.offered) {
        line.reason += fmt::format(
            " (offered {})", detail::format_value(row.metric, *result.offered, detail::display_unit_of(row)));
      }
      for (std::size_t i = 0; i < widths.size(); ++i) {
        widths[i] = std::max(widths[i], detail::display_width(line.cells[i]));
      }
      lines[phase.phase].push_back(std::move(line));
    }
  }
  std::size_t verdict_width = std::string_view("CONDITIONAL PASS").size();

  std::string out;
  out += fmt::format("kubeproof {} · profile {} · target {}", meta.command, meta.profile, meta.target);
  if (!meta.plan_name.empty()) {
    out += fmt::format(" · plan {}", meta.plan_name);
  }
  out += "\n";
  out +=
      fmt::format("criteria: {} · tiers: {}\n", meta.criteria_file.string(), detail::tiers_text(meta.tiers));
  if (!meta.measurements_file.empty()) {
    out += fmt::format("measurements: {}\n", meta.measurements_file.string());
  }
  if (std::string note = detail::duration_scale_note(meta); !note.empty()) {
    out += painter.paint("\x1b[1;31m", fmt::format("!! {}", note)) + "\n";
  }
  if (std::string note = detail::continue_on_fail_note(meta); !note.empty()) {
    out += painter.paint("\x1b[33m", fmt::format("!! {}", note)) + "\n";
  }
  out += "\n";

  std::string header =
      fmt::format("  {}  {}  {}  {}  {}", pad("METRIC", widths[0]), pad("MEASURED", widths[1]),
                  pad("TARGET", widths[2]), pad("CRITICAL", widths[3]), "VERDICT");
  out += painter.paint("\x1b[1m", header) + "\n";

  for (const eval::PhaseEvaluation& phase : evaluation.phases) {
    std::string title = fmt::format("{}. {}: ", static_cast<int>(phase.phase) + 1, display_name(phase.phase));
    out += painter.paint("\x1b[1m", title) +
           painter.paint(colour_of(phase.verdict), eval::to_string(phase.verdict));
    if (!phase.reason.empty()) {
      out += fmt::format(" ({})", phase.reason);
    }
    out += "\n";
    std::size_t long_notes = 0;
    for (const std::string& note : phase.notes) {
      if (detail::display_width(note) > kConsoleNoteLimit) {
        ++long_notes;
        continue;
      }
      out += painter.paint("\x1b[33m", fmt::format("  note: {}", note)) + "\n";
    }
    if (long_notes > 0) {
      out += painter.paint("\x1b[33m", fmt::format("  ({} longer note{} in summary.md and report.json)",
                                                   long_notes, long_notes == 1 ? "" : "s")) +
             "\n";
    }
    if (phase.verdict == eval::Verdict::skipped) {
      // The header says why; listing its rows as NOT MEASURED one by one would only bury the phases that ran.
      if (!phase.rows.empty()) {
        out += fmt::format("  ({} criteria not judged)\n", phase.rows.size());
      }
      continue;
    }
    for (const Line& line : lines[phase.phase]) {
      std::string text =
          fmt::format("  {}  {}  {}  {}  ", pad(line.cells[0], widths[0]), pad(line.cells[1], widths[1]),
                      pad(line.cells[2], widths[2]), pad(line.cells[3], widths[3]));
      std::string verdict(eval::to_string(line.verdict));
      if (line.reason.empty()) {
        text += painter.paint(colour_of(line.verdict), verdict);
      } else {
        text += painter.paint(colour_of(line.verdict), pad(verdict, verdict_width));
        text += fmt::format("  {}", line.reason);
      }
      // Trailing spaces from padding help nobody.
      while (!text.empty() && text.back() == ' ') {
        text.pop_back();
      }
      out += text + "\n";
    }
    for (const Measurement& measurement : phase.informational) {
      out += fmt::format("  {}  {}  (informational, no criterion)\n", pad(measurement.metric, widths[0]),
                         detail::format_value(measurement.metric, measurement.value));
    }
    for (const load::StressResult& series : phase.stress) {
      out += stress_block(series, painter);
    }
  }

  if (report.soak) {
    out += "\n" + painter.paint("\x1b[1m", "Soak: latency hour by hour") + "\n";
    out += fmt::format("  {}\n", soak_summary(*report.soak));
    const auto headers = soak_hour_headers(*report.soak);
    const auto rows = soak_hour_cells(*report.soak);
    std::vector<std::size_t> widths(headers.size());
    for (std::size_t i = 0; i < widths.size(); ++i) {
      widths[i] = headers[i].size();
      for (const auto& cells : rows) {
        widths[i] = std::max(widths[i], cells[i].size());
      }
    }
    std::string header = " ";
    for (std::size_t i = 0; i < widths.size(); ++i) {
      header += " " + pad(headers[i], widths[i]);
    }
    out += header + "\n";
    for (const auto& cells : rows) {
      std::string line = " ";
      for (std::size_t i = 0; i < widths.size(); ++i) {
        line += " " + pad(cells[i], widths[i]);
      }
      out += line + "\n";
    }
    for (const std::string& line : soak_watch_lines(*report.soak)) {
      out += fmt::format("  {}\n", line);
    }
  }

  if (!evaluation.checklist.empty()) {
    out += "\n" + painter.paint("\x1b[1m", "Pre-production checklist") + "\n";
    std::size_t state_width = std::string_view("[not verified]").size();
    for (const eval::ChecklistItem& item : evaluation.checklist) {
      std::string state = fmt::format("[{}]", eval::to_string(item.state));
      out += fmt::format("  {} {}", painter.paint(colour_of(item.state), pad(state, state_width)), item.text);
      if (!item.evidence.empty()) {
        out += fmt::format(" ({})", item.evidence);
      }
      out += "\n";
    }
  }

  out += "\n";
  out += painter.paint("\x1b[1m", "Overall: ") +
         painter.paint(colour_of(evaluation.overall), eval::verdict_text(evaluation)) +
         fmt::format(" (exit {})", eval::exit_code_for(evaluation.overall));
  if (!evaluation.phases.empty()) {
    out += fmt::format(": {}", overall_summary(evaluation));
  } else if (!evaluation.overall_reason.empty()) {
    out += fmt::format(": {}", evaluation.overall_reason);
  }
  out += "\n";
  if (std::string note = detail::duration_scale_note(meta); !note.empty()) {
    out += painter.paint("\x1b[1;31m", fmt::format("!! {}", note)) + "\n";
  }
  return out;
}

}  // namespace kp::report
