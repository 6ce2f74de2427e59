// `kubeproof compare A B`: the baseline run A against run B (two report.json files or results folders).
// Prints per metric both values, the change, its significance and the verdict changes (report/compare.hpp);
// exits 1 when a row got worse beyond --tolerance, so it can gate a CI pipeline.

#include <fmt/format.h>
#include <charconv>
#include <cmath>

#include "cli/command.hpp"
#include "report/compare.hpp"
#include "report/report_reader.hpp"

namespace kp::cli {
namespace {

struct CompareFlags {
  std::string a;
  std::string b;
  std::string format = "table";
  std::string tolerance = "5%";
  std::uint64_t seed = 1;
};

// "5", "5%" and "2.5 %" are percent.
Result<double> parse_tolerance(std::string_view text) {
  std::string_view number = text;
  while (!number.empty() && (number.back() == '%' || number.back() == ' ')) {
    number.remove_suffix(1);
  }
  double value = 0;
  auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || error != std::errc() || end != number.data() + number.size() ||
      !std::isfinite(value) || value < 0) {
    return fail(ErrorKind::usage,
                fmt::format("--tolerance: must be a percentage >= 0 such as 5 or 2.5%, got \"{}\"", text));
  }
  return value;
}

Outcome compare(const CompareFlags& flags) {
  Result<double> tolerance = parse_tolerance(flags.tolerance);
  if (!tolerance) {
    return std::unexpected(tolerance.error());
  }
  Result<report::RunReport> a = report::load_report(flags.a);
  if (!a) {
    return std::unexpected(a.error());
  }
  Result<report::RunReport> b = report::load_report(flags.b);
  if (!b) {
    return std::unexpected(b.error());
  }
  report::CompareOptions options;
  options.tolerance_percent = *tolerance;
  options.bootstrap.seed = flags.seed;
  Result<report::Comparison> comparison =
      report::compare_runs(*a, *b, report::report_json_path(flags.a).string(),
                           report::report_json_path(flags.b).string(), options);
  if (!comparison) {
    return std::unexpected(comparison.error());
  }
  if (flags.format == "json") {
    fmt::print("{}", report::render_compare_json(*comparison));
  } else if (flags.format == "md") {
    fmt::print("{}", report::render_compare_markdown(*comparison));
  } else {
    fmt::print("{}", report::render_compare_table(*comparison));
  }
  return comparison->exit_code();
}

}  // namespace

Command add_compare_command(CLI::App& parent) {
  auto flags = std::make_shared<CompareFlags>();
  Command command;
  command.app =
      parent.add_subcommand("compare", "Compare two runs: per metric, the change and its significance");
  command.app->add_option("a", flags->a, "The baseline run: a results folder or its report.json")->required();
  command.app->add_option("b", flags->b, "The run to judge against it")->required();
  command.app->add_option("--format", flags->format, "Output on stdout")
      ->check(one_of({"table", "json", "md"}))
      ->capture_default_str();
  command.app
      ->add_option("--tolerance", flags->tolerance,
                   "A row is worse when B moved it the bad way by more than this many percent")
      ->capture_default_str();
  command.app->add_option("--seed", flags->seed, "Seed of the bootstrap's random generator (reproducible)")
      ->capture_default_str();
  command.app->footer(
      "Exit codes: 0 no row got worse beyond the tolerance, 1 some row did, 2 bad input (no report.json, "
      "another schema version, malformed JSON, no metric measured in both runs). See docs/compare.md.");
  command.run = [flags]() { return compare(*flags); };
  return command;
}

}  // namespace kp::cli
