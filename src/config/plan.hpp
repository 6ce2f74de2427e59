#pragma once

// A plan says what to run: the test type (the seed's smoke/load/stress), the cluster's expected capacity,
// which phases with which settings, and which criteria tiers apply.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/criteria.hpp"
#include "config/load_profile.hpp"
#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/phase.hpp"
#include "core/units.hpp"

namespace kp::config {

// soak: a steady light load held for hours (kubeproof soak, docs/soak.md).
enum class TestType { smoke, load, stress, soak };
std::string_view to_string(TestType type);

// The seed's test types as bounds: smoke 1-5 min (validates configuration), load 15-60 min at 70-100 % of
// capacity, stress 10-30 min at 150-200 %. Defaults: smoke 2m at 10 % (any load above 0 up to 200 % is
// accepted: the seed gives smoke no load range), load 30m at 100 %, stress 15m at 150 %. Bounds are
// inclusive.
struct Profile {
  TestType type;
  Duration min_duration;
  Duration max_duration;
  Duration default_duration;
  double min_load;  // fraction of capacity
  double max_load;
  double default_load;
};
const Profile& profile_for(TestType type);

// The cluster's expected capacity; the test type scales load from it. Unset values mean "not stated".
struct Capacity {
  std::optional<Rate> api_qps;
  std::optional<Rate> etcd_ops;  // etcd requests per second the control plane is expected to sustain
  std::optional<Rate> dns_qps;
  std::optional<Rate> ingress_rps;
  std::optional<Rate> ingress_connection_rate;
  std::optional<Bandwidth> pod_network;
  // Random 4K I/Os per second the storage volume is expected to sustain (the storage phase's `rate:
  // capacity`).
  std::optional<Rate> storage_iops;
};

enum class Target { local, cluster };

struct PhasePlan {
  Phase phase;
  bool enabled = true;
  Duration duration{0};  // after the profile default and --duration-scale are applied
  double load = 1.0;     // fraction of capacity, after the profile default is applied
  // Driver-specific settings, validated by the phase's driver (unknown keys are its errors too): a mapping,
  // or null when the plan gives none. A driver reads them with config/yaml_fields.hpp, starting from
  // YamlField(settings, plan.source.string(), path + ".settings"), so its messages carry file:line: path.
  YAML::Node settings;
  int line = 0;
  // "phases[2]" as written in the plan; "phases" when the plan lists none (then all six run).
  std::string path;
};

struct Plan {
  std::filesystem::path source;
  std::string name;
  TestType type = TestType::smoke;
  Target target = Target::local;
  Capacity capacity;
  TierSelection tiers;
  // Relative paths are resolved against the plan's folder.
  std::optional<std::filesystem::path> criteria_file;
  std::vector<PhasePlan> phases;  // in flow order
  double duration_scale = 1.0;    // 1.0 unless shortened; reports say so when not 1
  // How often a running run rewrites its report files with what it measured so far (`checkpoint:`, default
  // 1m; engine/checkpoint.hpp). --checkpoint overrides it.
  Duration checkpoint{std::chrono::minutes(1)};
  // type soak: how long the whole soak lasts (`soak_duration:`, default 24h); each phase's `duration` is its
  // slice of one round, and rounds repeat until this is spent (docs/soak.md). 0 for other types.
  Duration soak_duration{0};
  // type soak: an optional factor on every phase's load by soak time (`load_profile:`,
  // config/load_profile.hpp); unset: every round runs at the phases' own load.
  std::optional<LoadProfile> load_profile;
};

// Parses and validates a plan. Errors: `plans/x.yaml:14: phases[2].load: must be within 70%..100% for a load
// test, got "50%"`. Unknown keys are errors. Phases must appear in flow order, each at most once.
// Top-level keys: name (default: the file's stem), type (required), target, criteria {file, storage_tier,
// cluster_size, pod_images}, capacity, duration and load (defaults for every phase, else the profile's),
// phases (default: the whole flow), and for a soak soak_duration and load_profile. plans/smoke.yaml and
// plans/soak.yaml document the shape.
Result<Plan> load_plan(const std::filesystem::path& file);
Result<Plan> parse_plan(std::string_view yaml_text, const std::filesystem::path& name_for_errors);

// The one way from a plan to a phase's settings: "phases[2].settings" (or "<phase>.settings" when the plan
// lists no phases), and the node with its file and path, so every driver's messages read
// `plans/x.yaml:14: phases[2].settings.rate: ...`.
std::string settings_path(const PhasePlan& phase);
YamlField settings_field(const Plan& plan, const PhasePlan& phase);
// Where a phase's problems that have no field of their own are reported: "plans/x.yaml:23" (the phase's
// entry), or the file alone when the plan lists no phases. Used for a capacity the phase's rate needs and the
// plan lacks.
std::string phase_location(const Plan& plan, const PhasePlan& phase);

// Shortens every duration of the plan for a quick run (0 < scale <= 1); the plan records it.
Result<void> apply_duration_scale(Plan& plan, double scale);

// The shipped plan for a test type: <KUBEPROOF_PLAN_DIR>/<type>.yaml when that is set, else plans/<type>.yaml
// from <exe dir>/../share/kubeproof/, else from the source tree (config/data_path.hpp has the search order).
std::filesystem::path default_plan_path(TestType type);

}  // namespace kp::config
