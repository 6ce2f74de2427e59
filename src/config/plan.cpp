#include "config/plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "config/data_path.hpp"
#include "config/yaml_fields.hpp"

namespace kp::config {

using namespace std::chrono_literals;

std::string_view to_string(TestType type) {
  switch (type) {
    case TestType::smoke:
      return "smoke";
    case TestType::load:
      return "load";
    case TestType::stress:
      return "stress";
    case TestType::soak:
      return "soak";
  }
  return "?";
}

const Profile& profile_for(TestType type) {
  // Smoke validates configuration, so its load is light by default (10 %) and may be anything up to the
  // stress ceiling: checking that a stress-sized setup is accepted is a configuration check too.
  static const Profile kSmoke{TestType::smoke, 1min, 5min, 2min, 0.0, 2.0, 0.10};
  static const Profile kLoad{TestType::load, 15min, 60min, 30min, 0.70, 1.00, 1.00};
  static const Profile kStress{TestType::stress, 10min, 30min, 15min, 1.50, 2.00, 1.50};
  // A soak's durations are each phase's slice of one round (the soak itself lasts soak_duration); its load
  // is light by default (5 %) and never above capacity: it looks for drift over hours, not for limits.
  static const Profile kSoak{TestType::soak, 1s, 60min, 5min, 0.0, 1.00, 0.05};
  switch (type) {
    case TestType::smoke:
      return kSmoke;
    case TestType::load:
      return kLoad;
    case TestType::stress:
      return kStress;
    case TestType::soak:
      return kSoak;
  }
  return kSmoke;
}

namespace {

// Loads are parsed from percentages ("70%" -> 0.7); the slack keeps a bound written in the plan inside the
// range whatever the rounding of the division.
constexpr double kLoadSlack = 1e-9;

// "15m", "90s": the profile bounds are whole minutes, but a message must not lie if one ever is not.
std::string short_duration(Duration duration) {
  if (duration % std::chrono::minutes(1) == Duration::zero()) {
    return fmt::format("{}m", std::chrono::duration_cast<std::chrono::minutes>(duration).count());
  }
  if (duration % std::chrono::seconds(1) == Duration::zero()) {
    return fmt::format("{}s", std::chrono::duration_cast<std::chrono::seconds>(duration).count());
  }
  return fmt::format("{}ms", std::chrono::duration_cast<std::chrono::milliseconds>(duration).count());
}

std::string percent(double fraction) {
  return fmt::format("{:g}%", fraction * 100.0);
}

Result<Duration> read_phase_duration(const YamlField& field, const Profile& profile) {
  auto duration = read_duration(field);
  if (!duration) {
    return duration;
  }
  if (*duration < profile.min_duration || *duration > profile.max_duration) {
    return field.fail_got(fmt::format("must be within {}..{} for a {} test",
                                      short_duration(profile.min_duration),
                                      short_duration(profile.max_duration), to_string(profile.type)));
  }
  return duration;
}

Result<double> read_load(const YamlField& field, const Profile& profile) {
  auto ratio = read_ratio(field);
  if (!ratio) {
    return std::unexpected(ratio.error());
  }
  const double load = ratio->fraction;
  // A zero load runs nothing, so it is never valid, even where the profile's floor is 0.
  if (profile.min_load <= 0 && (!(load > 0) || load > profile.max_load + kLoadSlack)) {
    return field.fail_got(fmt::format("must be above 0% and at most {} for a {} test",
                                      percent(profile.max_load), to_string(profile.type)));
  }
  if (!(load >= profile.min_load - kLoadSlack && load <= profile.max_load + kLoadSlack)) {
    return field.fail_got(fmt::format("must be within {}..{} for a {} test", percent(profile.min_load),
                                      percent(profile.max_load), to_string(profile.type)));
  }
  return load;
}

Result<TestType> read_test_type(const YamlField& field) {
  auto text = read_choice(field, {"smoke", "load", "stress", "soak"});
  if (!text) {
    return std::unexpected(text.error());
  }
  if (*text == "load") {
    return TestType::load;
  }
  if (*text == "stress") {
    return TestType::stress;
  }
  if (*text == "soak") {
    return TestType::soak;
  }
  return TestType::smoke;
}

Result<Rate> read_positive_rate(const YamlField& field) {
  auto rate = read_rate(field);
  if (rate && !(rate->per_second > 0)) {
    return field.fail_got("must be > 0");
  }
  return rate;
}

Result<Capacity> read_capacity(const YamlField& field) {
  auto map = YamlMap::open(field, {"api_qps", "etcd_ops", "dns_qps", "ingress_rps", "ingress_connection_rate",
                                   "pod_network", "storage_iops"});
  if (!map) {
    return std::unexpected(map.error());
  }
  Capacity capacity;
  const std::pair<std::string_view, std::optional<Rate> Capacity::*> rates[] = {
      {"api_qps", &Capacity::api_qps},
      {"etcd_ops", &Capacity::etcd_ops},
      {"dns_qps", &Capacity::dns_qps},
      {"ingress_rps", &Capacity::ingress_rps},
      {"ingress_connection_rate", &Capacity::ingress_connection_rate},
      {"storage_iops", &Capacity::storage_iops},
  };
  for (const auto& [key, member] : rates) {
    if (auto value_field = map->get(key)) {
      auto rate = read_positive_rate(*value_field);
      if (!rate) {
        return std::unexpected(rate.error());
      }
      capacity.*member = *rate;
    }
  }
  if (auto value_field = map->get("pod_network")) {
    auto bandwidth = read_bandwidth(*value_field);
    if (!bandwidth) {
      return std::unexpected(bandwidth.error());
    }
    if (!(bandwidth->bits_per_second > 0)) {
      return value_field->fail_got("must be > 0");
    }
    capacity.pod_network = *bandwidth;
  }
  return capacity;
}

struct CriteriaChoice {
  std::optional<std::filesystem::path> file;
  TierSelection tiers;
};

// The tier names are checked against the criteria file when it is loaded (Criteria::active_rows): a user's
// file may define tiers of its own.
Result<CriteriaChoice> read_criteria_choice(const YamlField& field, const std::filesystem::path& plan_file) {
  auto map = YamlMap::open(field, {"file", "storage_tier", "cluster_size", "pod_images"});
  if (!map) {
    return std::unexpected(map.error());
  }
  CriteriaChoice choice;
  if (auto file_field = map->get("file")) {
    auto file = read_string(*file_field);
    if (!file) {
      return std::unexpected(file.error());
    }
    std::filesystem::path path(*file);
    if (path.is_relative()) {
      path = (plan_file.parent_path() / path).lexically_normal();
    }
    choice.file = path;
  }
  for (std::string_view group : {"storage_tier", "cluster_size", "pod_images"}) {
    if (auto name_field = map->get(group)) {
      auto name = read_string(*name_field);
      if (!name) {
        return std::unexpected(name.error());
      }
      choice.tiers.chosen[std::string(group)] = *name;
    }
  }
  return choice;
}

// Phase-wide defaults a plan may give at the top level, before the profile's.
struct PhaseDefaults {
  Duration duration;
  double load;
};

Result<PhasePlan> read_phase(const YamlField& field, const Profile& profile, const PhaseDefaults& defaults) {
  auto map = YamlMap::open(field, {"phase", "enabled", "duration", "load", "settings"});
  if (!map) {
    return std::unexpected(map.error());
  }
  auto name_field = map->require("phase");
  if (!name_field) {
    return std::unexpected(name_field.error());
  }
  auto name = read_choice(*name_field, {"etcd", "api", "network", "dns", "storage", "ingress"});
  if (!name) {
    return std::unexpected(name.error());
  }
  PhasePlan phase{.phase = *parse_phase(*name),
                  .enabled = true,
                  .duration = defaults.duration,
                  .load = defaults.load,
                  .settings = YAML::Node(),
                  .line = field.line(),
                  .path = field.path()};
  if (auto enabled_field = map->get("enabled")) {
    auto enabled = read_bool(*enabled_field);
    if (!enabled) {
      return std::unexpected(enabled.error());
    }
    phase.enabled = *enabled;
  }
  if (auto duration_field = map->get("duration")) {
    auto duration = read_phase_duration(*duration_field, profile);
    if (!duration) {
      return std::unexpected(duration.error());
    }
    phase.duration = *duration;
  }
  if (auto load_field = map->get("load")) {
    auto load = read_load(*load_field, profile);
    if (!load) {
      return std::unexpected(load.error());
    }
    phase.load = *load;
  }
  if (auto settings_field = map->get("settings")) {
    if (!settings_field->is_map() && !settings_field->is_null()) {
      return settings_field->fail_got("must be a mapping");
    }
    // Kept as parsed, not YAML::Clone()d: a clone loses the marks, and the driver's messages need the lines.
    // Drivers see it through a const PhasePlan, and a const node never grows entries on lookup.
    phase.settings = settings_field->node();
  }
  return phase;
}

std::string flow_order_text() {
  std::string out;
  for (Phase phase : kFlowOrder) {
    if (!out.empty()) {
      out += ", ";
    }
    out += to_string(phase);
  }
  return out;
}

// Reads `phases` and checks the seed's flow order: foundation first, each phase at most once.
Result<std::vector<PhasePlan>> read_phases(const YamlField& field, const Profile& profile,
                                           const PhaseDefaults& defaults) {
  auto entries = field.items();
  if (!entries) {
    return std::unexpected(entries.error());
  }
  if (entries->empty()) {
    return field.fail_got("must list at least one phase");
  }
  std::vector<PhasePlan> phases;
  for (const YamlField& entry : *entries) {
    auto phase = read_phase(entry, profile, defaults);
    if (!phase) {
      return std::unexpected(phase.error());
    }
    for (const PhasePlan& earlier : phases) {
      if (earlier.phase == phase->phase) {
        const YamlField at(YAML::Node(), field.file(), entry.path() + ".phase", phase->line);
        return at.fail(
            fmt::format("\"{}\" is listed twice (first at {})", to_string(phase->phase), earlier.path));
      }
    }
    if (!phases.empty() && phases.back().phase > phase->phase) {
      const YamlField at(YAML::Node(), field.file(), entry.path() + ".phase", phase->line);
      return at.fail(fmt::format("\"{}\" must come before \"{}\" (flow order: {})", to_string(phase->phase),
                                 to_string(phases.back().phase), flow_order_text()));
    }
    phases.push_back(std::move(*phase));
  }
  return phases;
}

Result<Plan> parse_plan_unsafe(std::string_view yaml_text, const std::filesystem::path& name_for_errors) {
  const std::string file = name_for_errors.string();
  auto root = parse_yaml(yaml_text, file);
  if (!root) {
    return std::unexpected(root.error());
  }
  auto map = YamlMap::open(*root, {"name", "type", "target", "criteria", "capacity", "duration", "load",
                                   "phases", "checkpoint", "soak_duration", "load_profile"});
  if (!map) {
    return std::unexpected(map.error());
  }
  Plan plan;
  plan.source = name_for_errors;
  plan.name = name_for_errors.stem().string();
  if (auto name_field = map->get("name")) {
    auto name = read_string(*name_field);
    if (!name) {
      return std::unexpected(name.error());
    }
    plan.name = *name;
  }
  auto type_field = map->require("type");
  if (!type_field) {
    return std::unexpected(type_field.error());
  }
  auto type = read_test_type(*type_field);
  if (!type) {
    return std::unexpected(type.error());
  }
  plan.type = *type;
  const Profile& profile = profile_for(plan.type);

  if (auto target_field = map->get("target")) {
    auto target = read_choice(*target_field, {"local", "cluster"});
    if (!target) {
      return std::unexpected(target.error());
    }
    plan.target = *target == "cluster" ? Target::cluster : Target::local;
  }
  if (auto criteria_field = map->get("criteria")) {
    auto choice = read_criteria_choice(*criteria_field, name_for_errors);
    if (!choice) {
      return std::unexpected(choice.error());
    }
    plan.criteria_file = choice->file;
    plan.tiers = choice->tiers;
  }
  if (auto capacity_field = map->get("capacity")) {
    auto capacity = read_capacity(*capacity_field);
    if (!capacity) {
      return std::unexpected(capacity.error());
    }
    plan.capacity = *capacity;
  }

  if (auto checkpoint_field = map->get("checkpoint")) {
    auto checkpoint = read_duration(*checkpoint_field);
    if (!checkpoint) {
      return std::unexpected(checkpoint.error());
    }
    if (*checkpoint < 1s) {
      return checkpoint_field->fail_got("must be at least 1s");
    }
    plan.checkpoint = *checkpoint;
  }
  if (plan.type == TestType::soak) {
    plan.soak_duration = 24h;
  }
  if (auto soak_field = map->get("soak_duration")) {
    if (plan.type != TestType::soak) {
      return soak_field->fail_got(
          fmt::format("only a plan of type soak has a soak duration (this one is {})", to_string(plan.type)));
    }
    auto soak = read_duration(*soak_field);
    if (!soak) {
      return std::unexpected(soak.error());
    }
    if (*soak < plan.checkpoint) {
      return soak_field->fail_got(
          fmt::format("must be at least the checkpoint interval ({})", format_duration(plan.checkpoint)));
    }
    plan.soak_duration = *soak;
  }
  if (auto profile_field = map->get("load_profile")) {
    if (plan.type != TestType::soak) {
      return profile_field->fail_got(
          fmt::format("only a plan of type soak has a load profile (this one is {})", to_string(plan.type)));
    }
    auto profile = read_load_profile(*profile_field);
    if (!profile) {
      return std::unexpected(profile.error());
    }
    plan.load_profile = std::move(*profile);
  }

  PhaseDefaults defaults{profile.default_duration, profile.default_load};
  if (auto duration_field = map->get("duration")) {
    auto duration = read_phase_duration(*duration_field, profile);
    if (!duration) {
      return std::unexpected(duration.error());
    }
    defaults.duration = *duration;
  }
  if (auto load_field = map->get("load")) {
    auto load = read_load(*load_field, profile);
    if (!load) {
      return std::unexpected(load.error());
    }
    defaults.load = *load;
  }

  if (auto phases_field = map->get("phases")) {
    auto phases = read_phases(*phases_field, profile, defaults);
    if (!phases) {
      return std::unexpected(phases.error());
    }
    plan.phases = std::move(*phases);
  } else {
    // No list: the whole flow, which is what a plan is for unless it says otherwise.
    for (Phase phase : kFlowOrder) {
      plan.phases.push_back(PhasePlan{.phase = phase,
                                      .enabled = true,
                                      .duration = defaults.duration,
                                      .load = defaults.load,
                                      .settings = YAML::Node(),
                                      .line = 0,
                                      .path = "phases"});
    }
  }
  return plan;
}

}  // namespace

Result<Plan> parse_plan(std::string_view yaml_text, const std::filesystem::path& name_for_errors) {
  // yaml-cpp throws; the readers check node types first, so this is the last line of defence.
  try {
    return parse_plan_unsafe(yaml_text, name_for_errors);
  } catch (const std::exception& error) {
    return fail(ErrorKind::input, fmt::format("{}: {}", name_for_errors.string(), error.what()));
  }
}

Result<Plan> load_plan(const std::filesystem::path& file) {
  auto text = read_text_file(file.string());
  if (!text) {
    return std::unexpected(text.error());
  }
  return parse_plan(*text, file);
}

Result<void> apply_duration_scale(Plan& plan, double scale) {
  if (!(scale > 0 && scale <= 1)) {
    return fail(ErrorKind::input, fmt::format("--duration-scale: must be > 0 and <= 1, got \"{}\"", scale));
  }
  for (PhasePlan& phase : plan.phases) {
    const auto scaled =
        static_cast<Duration::rep>(std::llround(static_cast<double>(phase.duration.count()) * scale));
    // Never down to zero: a phase that runs for no time measures nothing.
    phase.duration = Duration(std::max<Duration::rep>(scaled, 1));
  }
  plan.duration_scale *= scale;
  return {};
}

std::filesystem::path default_plan_path(TestType type) {
  const std::string name = fmt::format("{}.yaml", to_string(type));
  if (const char* overridden = std::getenv("KUBEPROOF_PLAN_DIR");
      overridden != nullptr && *overridden != '\0') {
    return std::filesystem::path(overridden) / name;
  }
  return find_data_file(fmt::format("plans/{}", name));
}

std::string settings_path(const PhasePlan& phase) {
  return (phase.path.empty() ? std::string(to_string(phase.phase)) : phase.path) + ".settings";
}

std::string phase_location(const Plan& plan, const PhasePlan& phase) {
  return phase.line > 0 ? fmt::format("{}:{}", plan.source.string(), phase.line) : plan.source.string();
}

YamlField settings_field(const Plan& plan, const PhasePlan& phase) {
  return YamlField(phase.settings, plan.source.string(), settings_path(phase));
}

}  // namespace kp::config
