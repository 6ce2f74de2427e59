#pragma once

// The spec's threshold tables as data (criteria/default.yaml): one row per row of the seed's tables.
// A row compares a measured metric against a Target and an optional Critical level.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/phase.hpp"
#include "core/units.hpp"

namespace kp::config {

// The direction of "good": for latencies lower is better ("<"), for rates higher is better (">").
enum class Comparison {
  less,           // "<"  value must be strictly below the level
  less_equal,     // "<=" value may equal the level (the Kubernetes SLOs are written "≤")
  greater,        // ">"
  greater_equal,  // ">="
};

std::string_view to_string(Comparison comparison);  // "<", "<=", ">", ">="
// True when `value` satisfies `comparison` against `level`.
bool satisfies(Comparison comparison, double value, double level);

// A row that only applies when a tier is selected, e.g. {group "storage_tier", name "nvme"}.
struct TierRef {
  std::string group;  // "storage_tier" | "cluster_size" | "pod_images"
  std::string name;   // "ssd" | "nvme" | "small" | "large" | "cached" | "pulled"
};

struct CriteriaRow {
  std::string metric;  // a catalog id
  // The seed's table: "Control Plane", "Data Plane", "Storage", "Ingress", "Kubernetes SLO".
  std::string table;
  std::string component;  // "API Server", "etcd", "Database (OLTP)", ...
  std::string label;      // the seed's metric column: "Mutating P99"
  Comparison comparison = Comparison::less;
  std::optional<double> target;    // base units of the metric's quantity
  std::optional<double> critical;  // absent: the spec defines none for this row (verdict notes it)
  std::string unit;                // display unit for reports
  std::string reference;           // the seed's Reference column
  std::string note;                // the seed's Description / Condition column (the SLO tables), if any
  std::optional<TierRef> tier;
  int line = 0;  // line in the criteria file, for messages
};

// Which tier of each tiered table is active. Unset groups take the defaults below.
struct TierSelection {
  std::map<std::string, std::string> chosen = {
      {"storage_tier", "ssd"}, {"cluster_size", "small"}, {"pod_images", "cached"}};
};

struct Criteria {
  std::filesystem::path source;
  std::vector<CriteriaRow> rows;

  // The rows that apply under `tiers`: untiered rows plus the rows of the chosen tiers.
  // Fails (input) when a chosen tier name is unknown to the file, naming the group and the valid names
  // (`criteria/default.yaml: unknown storage_tier "hdd" (expected one of: ssd, nvme)`), or when a group the
  // file uses has no chosen tier.
  Result<std::vector<CriteriaRow>> active_rows(const TierSelection& tiers) const;
};

// Parses and validates a criteria file. Errors name file:line, the field path and the bad value, e.g.
// `criteria/x.yaml:14: rows[3].target: not a duration, got "fast"`. Unknown keys and unknown metric ids are
// errors.
Result<Criteria> load_criteria(const std::filesystem::path& file);
Result<Criteria> parse_criteria(std::string_view yaml_text, const std::filesystem::path& name_for_errors);

// The default criteria file shipped with the tool: KUBEPROOF_CRITERIA when set, else criteria/default.yaml
// from <exe dir>/../share/kubeproof/, else from the source tree (config/data_path.hpp has the search order).
std::filesystem::path default_criteria_path();

}  // namespace kp::config
