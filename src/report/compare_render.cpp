// compare's three outputs: a table for a terminal, JSON for tools, Markdown for a pull request. All say the
// same: per row A, B, the change in %, the significance, the verdicts, and whether it got worse.

#include <fmt/format.h>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

#include "report/compare.hpp"
#include "report/report_text.hpp"

namespace kp::report {
namespace {

using Json = nlohmann::ordered_json;

std::string value_text(const CompareRow& row, std::optional<double> value) {
  return value ? detail::format_value(row.metric, *value, row.unit) : std::string("-");
}

std::string change_text(const CompareRow& row) {
  if (row.change_percent) {
    return fmt::format("{:+.1f}%", *row.change_percent);
  }
  if (row.a && row.b) {
    return "from 0";
  }
  return "-";
}

// A signed difference of two latencies, ns -> "+1.20ms", "-350us".
std::string signed_duration(double nanoseconds) {
  const std::string magnitude = format_quantity(Quantity::duration, std::fabs(nanoseconds) / 1e9);
  return (nanoseconds < 0 ? "-" : "+") + magnitude;
}

std::string significance_text(const CompareRow& row) {
  const Significance& significance = row.significance;
  if (!row.a || !row.b) {
    return "-";
  }
  if (!significance.test) {
    // The reason up to its ": cannot judge significance".
    return fmt::format("cannot judge ({})", significance.reason.substr(0, significance.reason.find(':')));
  }
  return fmt::format("{} ({}..{})", to_string(significance.state), signed_duration(significance.test->low),
                     signed_duration(significance.test->high));
}

std::string verdict_text(const CompareRow& row) {
  if (!row.criteria_row) {
    return "-";
  }
  const std::string a = row.verdict_a ? std::string(eval::to_string(*row.verdict_a)) : std::string("(none)");
  const std::string b = row.verdict_b ? std::string(eval::to_string(*row.verdict_b)) : std::string("(none)");
  return a == b ? a : fmt::format("{} -> {}", a, b);
}

std::string run_line(std::string_view label, const RunSummary& run) {
  return fmt::format("{}  {}  ({} {}, started {}, {})", label, run.file, run.command, run.profile,
                     run.started.empty() ? std::string("-") : run.started, run.verdict_text);
}

std::string method_line(const Comparison& comparison) {
  const CompareOptions& options = comparison.options;
  return fmt::format(
      "worse: moved the bad way (latency up, rate down) by more than {:g}% and not ruled out as noise; "
      "significance: {:g}% bootstrap interval of the percentile difference from the histograms ({} "
      "resamples, "
      "seed {})",
      options.tolerance_percent, options.bootstrap.confidence * 100, options.bootstrap.resamples,
      options.bootstrap.seed);
}

std::string result_line(const Comparison& comparison) {
  if (comparison.worse.empty()) {
    return fmt::format("no row got worse beyond {:g}% (exit 0)", comparison.options.tolerance_percent);
  }
  std::string keys;
  for (const std::string& key : comparison.worse) {
    keys += keys.empty() ? key : ", " + key;
  }
  return fmt::format("{} row{} got worse beyond {:g}%: {} (exit 1)", comparison.worse.size(),
                     comparison.worse.size() == 1 ? "" : "s", comparison.options.tolerance_percent, keys);
}

std::string padded(std::string_view text, std::size_t width) {
  std::string out(text);
  const std::size_t shown = detail::display_width(text);
  if (shown < width) {
    out.append(width - shown, ' ');
  }
  return out;
}

template <std::size_t N>
std::string aligned(const std::vector<std::array<std::string, N>>& lines) {
  std::array<std::size_t, N> widths{};
  for (const auto& line : lines) {
    for (std::size_t i = 0; i < N; ++i) {
      widths[i] = std::max(widths[i], detail::display_width(line[i]));
    }
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (std::size_t i = 0; i < N; ++i) {
      text += i + 1 == N ? line[i] : padded(line[i], widths[i]) + "  ";
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text + "\n";
  }
  return out;
}

std::string verdict_change_text(const VerdictChange& change) {
  return change.changed() ? fmt::format("{} -> {}", eval::to_string(change.a), eval::to_string(change.b))
                          : std::string(eval::to_string(change.a));
}

// Markdown cell: pipes would split it.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c == '|' ? std::string("\\|") : std::string(1, c == '\n' ? ' ' : c);
  }
  return out.empty() ? std::string("—") : out;
}

Json optional_number(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) {
    return nullptr;
  }
  return *value;
}

Json run_json(const RunSummary& run) {
  Json json = Json::object();
  json["file"] = run.file;
  json["command"] = run.command;
  json["profile"] = run.profile;
  json["started"] = run.started.empty() ? Json(nullptr) : Json(run.started);
  json["verdict"] = run.verdict_text;
  return json;
}

Json verdict_json(std::optional<eval::Verdict> verdict) {
  return verdict ? Json(std::string(eval::to_string(*verdict))) : Json(nullptr);
}

Json change_json(const VerdictChange& change) {
  Json json = Json::object();
  json["name"] = change.name;
  json["verdict_a"] = std::string(eval::to_string(change.a));
  json["verdict_b"] = std::string(eval::to_string(change.b));
  json["changed"] = change.changed();
  return json;
}

}  // namespace

std::string render_compare_table(const Comparison& comparison) {
  std::string out;
  out += run_line("A", comparison.a) + "\n";
  out += run_line("B", comparison.b) + "\n";
  out += method_line(comparison) + "\n\n";
  std::vector<std::array<std::string, 7>> lines;
  lines.push_back({"METRIC", "A", "B", "CHANGE", "SIGNIFICANCE", "VERDICT", "RESULT"});
  for (const CompareRow& row : comparison.rows) {
    lines.push_back({row.key, value_text(row, row.a), value_text(row, row.b), change_text(row),
                     significance_text(row), verdict_text(row), std::string(to_string(row.change))});
  }
  out += aligned(lines) + "\n";
  std::vector<std::array<std::string, 2>> phases;
  phases.push_back({"PHASE", "VERDICT (A -> B)"});
  for (const VerdictChange& change : comparison.phases) {
    phases.push_back({change.name, verdict_change_text(change)});
  }
  phases.push_back({"overall", verdict_change_text(comparison.overall)});
  out += aligned(phases) + "\n";
  out += result_line(comparison) + "\n";
  return out;
}

std::string render_compare_markdown(const Comparison& comparison) {
  std::string out = "# kubeproof compare\n\n";
  out += fmt::format("- A: `{}` ({} {}, started {}, **{}**)\n", cell(comparison.a.file), comparison.a.command,
                     comparison.a.profile, cell(comparison.a.started), comparison.a.verdict_text);
  out +=
      fmt::format("- B: `{}` ({} {}, started {}, **{}**)\n\n", cell(comparison.b.file), comparison.b.command,
                  comparison.b.profile, cell(comparison.b.started), comparison.b.verdict_text);
  out += fmt::format("**{}**\n\n", result_line(comparison));
  out += "| Metric | A | B | Change | Significance | Verdict | Result |\n|---|---|---|---|---|---|---|\n";
  for (const CompareRow& row : comparison.rows) {
    const std::string result(to_string(row.change));
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", cell(row.key), cell(value_text(row, row.a)),
                       cell(value_text(row, row.b)), cell(change_text(row)), cell(significance_text(row)),
                       cell(verdict_text(row)), row.change == Change::worse ? "**worse**" : result);
  }
  out += "\n| Phase | Verdict (A → B) |\n|---|---|\n";
  for (const VerdictChange& change : comparison.phases) {
    out += fmt::format("| {} | {} |\n", change.name, cell(verdict_change_text(change)));
  }
  out += fmt::format("| **overall** | {} |\n\n", cell(verdict_change_text(comparison.overall)));
  out += method_line(comparison) + ".\n";
  return out;
}

std::string render_compare_json(const Comparison& comparison) {
  Json json = Json::object();
  json["schema"] = "kubeproof.compare";
  json["schema_version"] = 1;
  json["a"] = run_json(comparison.a);
  json["b"] = run_json(comparison.b);
  json["tolerance_percent"] = comparison.options.tolerance_percent;
  json["significance"] = Json{{"method", "bootstrap of the percentile difference"},
                              {"confidence", comparison.options.bootstrap.confidence},
                              {"resamples", comparison.options.bootstrap.resamples},
                              {"seed", comparison.options.bootstrap.seed}};
  Json rows = Json::array();
  for (const CompareRow& row : comparison.rows) {
    Json entry = Json::object();
    entry["key"] = row.key;
    entry["metric"] = row.metric;
    entry["phase"] = std::string(kp::to_string(row.phase));
    entry["criteria_row"] = row.criteria_row;
    entry["better"] = row.higher_is_better ? "higher" : "lower";
    entry["base_unit"] = std::string(detail::base_unit(detail::quantity_of(row.metric)));
    entry["a"] = optional_number(row.a);
    entry["a_text"] = row.a ? Json(value_text(row, row.a)) : Json(nullptr);
    entry["b"] = optional_number(row.b);
    entry["b_text"] = row.b ? Json(value_text(row, row.b)) : Json(nullptr);
    entry["change_percent"] = optional_number(row.change_percent);
    entry["verdict_a"] = verdict_json(row.verdict_a);
    entry["verdict_b"] = verdict_json(row.verdict_b);
    entry["verdict_changed"] = row.criteria_row && row.verdict_a != row.verdict_b;
    Json significance = Json::object();
    significance["state"] = std::string(to_string(row.significance.state));
    if (const auto& test = row.significance.test) {
      significance["percentile"] = test->percentile;
      significance["a_ns"] = test->a;
      significance["b_ns"] = test->b;
      significance["low_ns"] = test->low;
      significance["high_ns"] = test->high;
      significance["p_value"] = test->p_value;
      significance["reason"] = nullptr;
    } else {
      significance["percentile"] = nullptr;
      significance["a_ns"] = nullptr;
      significance["b_ns"] = nullptr;
      significance["low_ns"] = nullptr;
      significance["high_ns"] = nullptr;
      significance["p_value"] = nullptr;
      significance["reason"] = row.significance.reason;
    }
    entry["significance"] = significance;
    entry["result"] = std::string(to_string(row.change));
    rows.push_back(std::move(entry));
  }
  json["rows"] = rows;
  Json phases = Json::array();
  for (const VerdictChange& change : comparison.phases) {
    phases.push_back(change_json(change));
  }
  json["phases"] = phases;
  json["overall"] = change_json(comparison.overall);
  Json worse = Json::array();
  for (const std::string& key : comparison.worse) {
    worse.push_back(key);
  }
  json["worse"] = worse;
  json["exit_code"] = comparison.exit_code();
  return json.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace kp::report
