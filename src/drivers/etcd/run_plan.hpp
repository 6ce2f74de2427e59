#pragma once

// What the etcd phase runs, worked out from its settings and the plan by the load kernel's resolver
// (load/schedule.hpp), the same way as every phase:
//   smoke and load: capacity.etcd_ops x the phase's load (or the explicit `rate`, or max), per operation
//   kind;
//     write-then-read: writes for the first half of the duration, then reads;
//   stress: a breaking-point search per series, writes then reads (write-then-read: half the duration each),
//     each a ramp of the kernel's steps (100 %..200 % of capacity by default) and its bisection.
// A missing or zero capacity.etcd_ops, when the rate derives from it, is an input error naming the field.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/etcd/settings.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::etcd {

// One stage of the run: a fixed operation mix at one rate for a bounded time and count.
struct Stage {
  std::string name;          // "write", "read", "mixed", "write 6.25k/s"
  double read_fraction = 0;  // 0: all Put; 1: all Range
  std::optional<Rate> rate;  // unset: closed loop at maximum
  Duration duration{0};
  std::optional<std::uint64_t> total;
  double factor = 1.0;       // stress: the step's multiple of capacity
  bool stress_step = false;  // a step of a breaking-point search
  bool bisection = false;    // one of the search's extra steps
};

// The generator series of a stage, by its mix: "writes", "reads" or "requests" (mixed).
std::string_view series_of(double read_fraction);

// One breaking-point search of a stress run.
struct StressSeries {
  std::string series;        // "writes", "reads", "requests" (mixed)
  std::string metric;        // "etcd.write.breaking_rate" or "etcd.read.breaking_rate"
  double read_fraction = 0;  // the mix of each step
  load::Schedule schedule;   // the ramp (steps) and the bisection's step length
};

struct RunPlan {
  std::vector<Stage> stages;         // steady stages (smoke, load, or stress with rate max)
  std::vector<StressSeries> stress;  // stress: run after `stages`, in order
  std::vector<std::string> notes;    // the schedule's notes: "rate 500/s = capacity.etcd_ops 5k/s x 10%"
};

struct PlanInput {
  config::TestType type = config::TestType::smoke;
  std::optional<Rate> capacity;  // plan.capacity.etcd_ops
  double load = 1.0;
  Duration duration{0};
  std::string where;  // the plan file, for a missing capacity ("" for the agent)
};

Result<RunPlan> plan_run(const Settings& settings, const PlanInput& input);

}  // namespace kp::drivers::etcd
