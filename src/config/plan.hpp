#pragma once

// A plan says what to run: the test type (the seed's smoke/load/stress), the cluster's expected capacity, which
// phases with which settings, and which criteria tiers apply.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/criteria.hpp"
#include "core/error.hpp"
#include "core/phase.hpp"
#include "core/units.hpp"

namespace kp::config {

enum class TestType { smoke, load, stress };
std::string_view to_string(TestType type);

// The seed's test types as bounds: smoke 1-5 min (validates configuration), load 15-60 min at 70-100 % of
// capacity, stress 10-30 min at 150-200 %.
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
  std::optional<Rate> etcd_ops;      // etcd requests per second the control plane is expected to sustain
  std::optional<Rate> dns_qps;
  std::optional<Rate> ingress_rps;
  std::optional<Rate> ingress_connection_rate;
  std::optional<Bandwidth> pod_network;
};

enum class Target { local, cluster };

struct PhasePlan {
  Phase phase;
  bool enabled = true;
  Duration duration{0};  // after the profile default and --duration-scale are applied
  double load = 1.0;     // fraction of capacity, after the profile default is applied
  // Driver-specific settings, validated by the phase's driver (unknown keys are its errors too).
  YAML::Node settings;
  int line = 0;
};

struct Plan {
  std::filesystem::path source;
  std::string name;
  TestType type = TestType::smoke;
  Target target = Target::local;
  Capacity capacity;
  TierSelection tiers;
  std::optional<std::filesystem::path> criteria_file;  // relative paths are resolved against the plan's folder
  std::vector<PhasePlan> phases;                       // in flow order
  double duration_scale = 1.0;                         // 1.0 unless shortened; reports say so when not 1
};

// Parses and validates a plan. Errors: `plans/x.yaml:14: phases[2].load: must be within 70%..100% for a load
// test, got "50%"`. Unknown keys are errors. Phases must appear in flow order, each at most once.
Result<Plan> load_plan(const std::filesystem::path& file);
Result<Plan> parse_plan(std::string_view yaml_text, const std::filesystem::path& name_for_errors);

// Shortens every duration of the plan for a quick run (0 < scale <= 1); the plan records it.
Result<void> apply_duration_scale(Plan& plan, double scale);

// The shipped plan for a test type: plans/<type>.yaml.
std::filesystem::path default_plan_path(TestType type);

}  // namespace kp::config
