#pragma once

// The storage phase's rate, worked out one way for the driver and its tests: settings.rate (max, capacity or
// IOPS, load/rate_setting.hpp) through the kernel's resolver (load/schedule.hpp) into the random 4K jobs'
// rate.
//   max (the default): closed loop at iodepth: the IOPS rows measure what the volume can do;
//   capacity: capacity.storage_iops x the phase's load, the same `load:` as every phase;
//   a number: that many IOPS.
// A stress plan's jobs use the steady rate (capacity x load); its ramp is the iodepth search, closed loop.

#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/storage/settings.hpp"

namespace kp::drivers::storage {

struct RandomRate {
  std::optional<Rate> rate;        // each random job's IOPS over its clones; unset: closed loop
  std::vector<std::string> notes;  // for the progress and PhaseRun::notes
};

// ErrorKind::input when the rate derives from capacity and the plan states none, or 0:
//   `plans/load.yaml: capacity.storage_iops: is required for the storage phase's rate (capacity x load), got
//   nothing`
Result<RandomRate> resolve_random_rate(const config::Plan& plan, const config::PhasePlan& phase,
                                       const Settings& settings);

}  // namespace kp::drivers::storage
