#pragma once

// The api phase's run shape, from the load kernel: the rate setting (settings.qps / rate: a rate, max, or
// capacity x load, load/rate_setting.hpp), resolved against capacity.api_qps by load::resolve_schedule into
// one steady step (smoke, load) or the stress ramp; and, for a rate, the client's burst and the built-in
// workload's size (iterations, so the create job takes about a third of the time).

#include <string>
#include <vector>

#include "cluster/run.hpp"
#include "config/plan.hpp"
#include "core/error.hpp"
#include "drivers/api/settings.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::api {

using cluster::kRunLabel;
inline constexpr std::string_view kCapacityField = "capacity.api_qps";

struct Shape {
  double qps = 0;  // 0: closed loop (rate max), as fast as the in-flight window allows
  int burst = 1;
  int iterations = 1;
  std::vector<std::string> notes;
  load::Schedule schedule;  // smoke/load: one step at qps; stress: the QPS ramp
};

// Errors (ErrorKind::input) name the plan and the field: `plans/load.yaml: capacity.api_qps: is required for
// the api phase's rate (capacity x load), got nothing`. `where`: the plan file, for messages.
Result<Shape> shape_run(const Settings& settings, const config::Capacity& capacity, double load,
                        Duration duration, config::TestType type = config::TestType::smoke,
                        const std::string& where = {});

// Burst and iterations for one step at `qps` (0: closed loop) lasting `duration`.
Shape shape_at(const Settings& settings, double qps, Duration duration);

// The built-in workload's object templates for one iteration (kube-burner placeholders, one YAML document
// each) with their replica counts.
std::vector<ObjectSpec> builtin_objects(const Settings& settings);

}  // namespace kp::drivers::api
