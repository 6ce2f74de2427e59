#include "config/criteria.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "config/data_path.hpp"
#include "config/metric_catalog.hpp"
#include "config/yaml_fields.hpp"

namespace kp::config {

std::string_view to_string(Comparison comparison) {
  switch (comparison) {
    case Comparison::less:
      return "<";
    case Comparison::less_equal:
      return "<=";
    case Comparison::greater:
      return ">";
    case Comparison::greater_equal:
      return ">=";
  }
  return "?";
}

bool satisfies(Comparison comparison, double value, double level) {
  switch (comparison) {
    case Comparison::less:
      return value < level;
    case Comparison::less_equal:
      return value <= level;
    case Comparison::greater:
      return value > level;
    case Comparison::greater_equal:
      return value >= level;
  }
  return false;
}

namespace {

// The tier groups the command line and plans can choose from (--tier, --cluster-size, the pod image state).
constexpr std::array<std::string_view, 3> kTierGroups = {"storage_tier", "cluster_size", "pod_images"};

bool lower_is_better(Comparison comparison) {
  return comparison == Comparison::less || comparison == Comparison::less_equal;
}

template <typename Words>
std::string join(const Words& words) {
  std::string out;
  for (const auto& word : words) {
    if (!out.empty()) {
      out += ", ";
    }
    out += word;
  }
  return out;
}

// A row as parsed, with where it came from for the checks across rows.
struct ParsedRow {
  CriteriaRow row;
  std::string path;  // "rows[3]"
};

// The tier names one tiered entry defines, for the check that every row of a group names the same tiers.
struct TierSet {
  std::string group;
  std::vector<std::string> names;  // file order
  std::string path;                // "rows[12].tiers"
  int line = 0;
};

Result<Comparison> read_comparison(const YamlField& field) {
  auto text = read_choice(field, {"<", "<=", ">", ">="});
  if (!text) {
    return std::unexpected(text.error());
  }
  if (*text == "<") {
    return Comparison::less;
  }
  if (*text == "<=") {
    return Comparison::less_equal;
  }
  if (*text == ">") {
    return Comparison::greater;
  }
  return Comparison::greater_equal;
}

struct Levels {
  double target = 0;
  std::optional<double> critical;
};

// Reads `target` (required) and `critical` (optional) of a row or of one tier. A critical level is the looser
// of the two: one stricter than the target would make CONDITIONAL PASS impossible and FAIL wrong.
Result<Levels> read_levels(const YamlMap& map, const MetricInfo& metric, Comparison comparison) {
  auto target_field = map.require("target");
  if (!target_field) {
    return std::unexpected(target_field.error());
  }
  auto target = read_quantity(*target_field, metric.quantity);
  if (!target) {
    return std::unexpected(target.error());
  }
  Levels levels{*target, std::nullopt};
  if (auto critical_field = map.get("critical")) {
    auto critical = read_quantity(*critical_field, metric.quantity);
    if (!critical) {
      return std::unexpected(critical.error());
    }
    const bool stricter = lower_is_better(comparison) ? *critical < *target : *critical > *target;
    if (stricter) {
      return critical_field->fail_got(fmt::format("must not be stricter than the target \"{}\" for \"{}\"",
                                                  target_field->text(), to_string(comparison)));
    }
    levels.critical = *critical;
  }
  return levels;
}

Result<std::string> read_optional_string(const YamlMap& map, std::string_view key, std::string fallback) {
  if (auto field = map.get(key)) {
    return read_string(*field);
  }
  return fallback;
}

Result<std::string> read_required_string(const YamlMap& map, std::string_view key) {
  auto field = map.require(key);
  if (!field) {
    return std::unexpected(field.error());
  }
  return read_string(*field);
}

// What one entry of `rows` becomes: one CriteriaRow, or one per tier for a tiered entry.
struct Entry {
  std::vector<ParsedRow> rows;
  std::optional<TierSet> tier_set;
};

// The fields every row of an entry shares (all but the levels and the tier).
Result<CriteriaRow> read_common(const YamlField& field, const YamlMap& map) {
  CriteriaRow row;
  row.line = field.line();
  auto metric_field = map.require("metric");
  if (!metric_field) {
    return std::unexpected(metric_field.error());
  }
  auto metric_id = read_string(*metric_field);
  if (!metric_id) {
    return std::unexpected(metric_id.error());
  }
  const MetricInfo* metric = find_metric(*metric_id);
  if (metric == nullptr) {
    return metric_field->fail_got("unknown metric id");
  }
  row.metric = *metric_id;
  auto table = read_required_string(map, "table");
  if (!table) {
    return std::unexpected(table.error());
  }
  row.table = *table;
  auto label = read_required_string(map, "label");
  if (!label) {
    return std::unexpected(label.error());
  }
  row.label = *label;
  auto comparison_field = map.require("comparison");
  if (!comparison_field) {
    return std::unexpected(comparison_field.error());
  }
  auto comparison = read_comparison(*comparison_field);
  if (!comparison) {
    return std::unexpected(comparison.error());
  }
  row.comparison = *comparison;
  auto component = read_optional_string(map, "component", "");
  if (!component) {
    return std::unexpected(component.error());
  }
  row.component = *component;
  auto unit = read_optional_string(map, "unit", std::string(metric->display_unit));
  if (!unit) {
    return std::unexpected(unit.error());
  }
  row.unit = *unit;
  auto reference = read_optional_string(map, "reference", "");
  if (!reference) {
    return std::unexpected(reference.error());
  }
  row.reference = *reference;
  auto note = read_optional_string(map, "note", "");
  if (!note) {
    return std::unexpected(note.error());
  }
  row.note = *note;
  return row;
}

Result<Entry> read_tiers(const YamlField& field, const YamlMap& map, const CriteriaRow& common,
                         const MetricInfo& metric) {
  auto group_field = map.require("tier_group");
  if (!group_field) {
    return std::unexpected(group_field.error());
  }
  auto group = read_choice(*group_field, {kTierGroups[0], kTierGroups[1], kTierGroups[2]});
  if (!group) {
    return std::unexpected(group.error());
  }
  auto tiers_field = map.require("tiers");
  if (!tiers_field) {
    return std::unexpected(tiers_field.error());
  }
  auto tiers = YamlMap::open_any(*tiers_field);
  if (!tiers) {
    return std::unexpected(tiers.error());
  }
  if (tiers->entries().empty()) {
    return tiers_field->fail_got("must name at least one tier");
  }
  Entry entry;
  entry.tier_set = TierSet{*group, {}, tiers_field->path(), tiers_field->line()};
  for (const auto& [name, tier_field] : tiers->entries()) {
    auto tier = YamlMap::open(tier_field, {"target", "critical", "note"});
    if (!tier) {
      return std::unexpected(tier.error());
    }
    auto levels = read_levels(*tier, metric, common.comparison);
    if (!levels) {
      return std::unexpected(levels.error());
    }
    auto note = read_optional_string(*tier, "note", common.note);
    if (!note) {
      return std::unexpected(note.error());
    }
    CriteriaRow row = common;
    row.tier = TierRef{*group, name};
    row.line = tier_field.line();
    row.target = levels->target;
    row.critical = levels->critical;
    row.note = *note;
    entry.rows.push_back({std::move(row), field.path()});
    entry.tier_set->names.push_back(name);
  }
  return entry;
}

Result<Entry> read_entry(const YamlField& field) {
  auto map = YamlMap::open(field, {"metric", "table", "component", "label", "comparison", "target",
                                   "critical", "unit", "reference", "note", "tier_group", "tiers"});
  if (!map) {
    return std::unexpected(map.error());
  }
  auto common = read_common(field, *map);
  if (!common) {
    return std::unexpected(common.error());
  }
  const MetricInfo& metric = *find_metric(common->metric);
  const bool tiered = map->get("tier_group") || map->get("tiers");
  if (tiered && (map->get("target") || map->get("critical"))) {
    return field.fail("give either \"target\" and \"critical\" or \"tier_group\" and \"tiers\", not both");
  }
  if (tiered) {
    return read_tiers(field, *map, *common, metric);
  }
  auto levels = read_levels(*map, metric, common->comparison);
  if (!levels) {
    return std::unexpected(levels.error());
  }
  CriteriaRow row = *common;
  row.target = levels->target;
  row.critical = levels->critical;
  return Entry{{ParsedRow{std::move(row), field.path()}}, std::nullopt};
}

// Every entry of a tier group must name the same tiers: otherwise choosing a tier would silently drop the
// rows that lack it.
Result<void> check_tier_sets(const std::vector<TierSet>& tier_sets, const std::string& file) {
  for (std::size_t index = 0; index < tier_sets.size(); ++index) {
    const TierSet& current = tier_sets[index];
    for (std::size_t earlier = 0; earlier < index; ++earlier) {
      const TierSet& first = tier_sets[earlier];
      if (first.group != current.group) {
        continue;
      }
      const std::set<std::string> first_names(first.names.begin(), first.names.end());
      const std::set<std::string> current_names(current.names.begin(), current.names.end());
      if (first_names != current_names) {
        const YamlField at(YAML::Node(), file, current.path, current.line);
        return at.fail(fmt::format("must name the same {} tiers as {} ({}), got \"{}\"", current.group,
                                   first.path, join(first.names), join(current.names)));
      }
      break;
    }
  }
  return {};
}

// Two rows for the same metric, table and tier would be evaluated twice with possibly different levels.
Result<void> check_duplicates(const std::vector<ParsedRow>& rows, const std::string& file) {
  for (std::size_t index = 0; index < rows.size(); ++index) {
    const CriteriaRow& row = rows[index].row;
    for (std::size_t earlier = 0; earlier < index; ++earlier) {
      const CriteriaRow& other = rows[earlier].row;
      const bool same_tier =
          row.tier.has_value() == other.tier.has_value() &&
          (!row.tier || (row.tier->group == other.tier->group && row.tier->name == other.tier->name));
      if (row.metric == other.metric && row.table == other.table && same_tier) {
        const YamlField at(YAML::Node(), file, rows[index].path, row.line);
        return at.fail(fmt::format("duplicate of {} (metric \"{}\" in table \"{}\")", rows[earlier].path,
                                   row.metric, row.table));
      }
    }
  }
  return {};
}

Result<Criteria> parse_criteria_unsafe(std::string_view yaml_text,
                                       const std::filesystem::path& name_for_errors) {
  const std::string file = name_for_errors.string();
  auto root = parse_yaml(yaml_text, file);
  if (!root) {
    return std::unexpected(root.error());
  }
  auto map = YamlMap::open(*root, {"version", "rows"});
  if (!map) {
    return std::unexpected(map.error());
  }
  if (auto version = map->get("version")) {
    if (auto checked = read_choice(*version, {"1"}); !checked) {
      return std::unexpected(checked.error());
    }
  }
  auto rows_field = map->require("rows");
  if (!rows_field) {
    return std::unexpected(rows_field.error());
  }
  auto entries = rows_field->items();
  if (!entries) {
    return std::unexpected(entries.error());
  }
  if (entries->empty()) {
    return rows_field->fail_got("must list at least one row");
  }
  std::vector<ParsedRow> parsed;
  std::vector<TierSet> tier_sets;
  for (const YamlField& field : *entries) {
    auto entry = read_entry(field);
    if (!entry) {
      return std::unexpected(entry.error());
    }
    std::move(entry->rows.begin(), entry->rows.end(), std::back_inserter(parsed));
    if (entry->tier_set) {
      tier_sets.push_back(std::move(*entry->tier_set));
    }
  }
  if (auto checked = check_tier_sets(tier_sets, file); !checked) {
    return std::unexpected(checked.error());
  }
  if (auto checked = check_duplicates(parsed, file); !checked) {
    return std::unexpected(checked.error());
  }
  Criteria criteria;
  criteria.source = name_for_errors;
  for (ParsedRow& row : parsed) {
    criteria.rows.push_back(std::move(row.row));
  }
  return criteria;
}

}  // namespace

Result<std::vector<CriteriaRow>> Criteria::active_rows(const TierSelection& tiers) const {
  // The tier names the file defines per group, in file order.
  std::vector<std::pair<std::string, std::vector<std::string>>> defined;
  for (const CriteriaRow& row : rows) {
    if (!row.tier) {
      continue;
    }
    auto group = std::find_if(defined.begin(), defined.end(),
                              [&](const auto& entry) { return entry.first == row.tier->group; });
    if (group == defined.end()) {
      defined.push_back({row.tier->group, {}});
      group = std::prev(defined.end());
    }
    if (std::find(group->second.begin(), group->second.end(), row.tier->name) == group->second.end()) {
      group->second.push_back(row.tier->name);
    }
  }

  for (const auto& [group, name] : tiers.chosen) {
    const bool known_group = std::find(kTierGroups.begin(), kTierGroups.end(), group) != kTierGroups.end();
    auto in_file =
        std::find_if(defined.begin(), defined.end(), [&](const auto& entry) { return entry.first == group; });
    if (!known_group && in_file == defined.end()) {
      return fail(ErrorKind::input, fmt::format("{}: unknown tier group \"{}\" (expected one of: {})",
                                                source.string(), group, join(kTierGroups)));
    }
    if (in_file != defined.end() &&
        std::find(in_file->second.begin(), in_file->second.end(), name) == in_file->second.end()) {
      return fail(ErrorKind::input, fmt::format("{}: unknown {} \"{}\" (expected one of: {})",
                                                source.string(), group, name, join(in_file->second)));
    }
  }
  for (const auto& [group, names] : defined) {
    if (!tiers.chosen.contains(group)) {
      return fail(ErrorKind::input,
                  fmt::format("{}: no {} chosen (expected one of: {})", source.string(), group, join(names)));
    }
  }

  std::vector<CriteriaRow> active;
  for (const CriteriaRow& row : rows) {
    if (!row.tier || tiers.chosen.at(row.tier->group) == row.tier->name) {
      active.push_back(row);
    }
  }
  return active;
}

Result<Criteria> parse_criteria(std::string_view yaml_text, const std::filesystem::path& name_for_errors) {
  // yaml-cpp throws; the readers check node types first, so this is the last line of defence.
  try {
    return parse_criteria_unsafe(yaml_text, name_for_errors);
  } catch (const std::exception& error) {
    return fail(ErrorKind::input, fmt::format("{}: {}", name_for_errors.string(), error.what()));
  }
}

Result<Criteria> load_criteria(const std::filesystem::path& file) {
  auto text = read_text_file(file.string());
  if (!text) {
    return std::unexpected(text.error());
  }
  return parse_criteria(*text, file);
}

std::filesystem::path default_criteria_path() {
  if (const char* overridden = std::getenv("KUBEPROOF_CRITERIA");
      overridden != nullptr && *overridden != '\0') {
    return overridden;
  }
  return find_data_file("criteria/default.yaml");
}

}  // namespace kp::config
