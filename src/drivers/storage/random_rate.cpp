#include "drivers/storage/random_rate.hpp"

#include <fmt/format.h>

#include "load/schedule.hpp"

namespace kp::drivers::storage {

Result<RandomRate> resolve_random_rate(const config::Plan& plan, const config::PhasePlan& phase,
                                       const Settings& settings) {
  RandomRate out;
  if (settings.rate.is_max()) {
    out.notes.push_back(
        fmt::format("rate max: the random 4K jobs run closed loop at iodepth {} x {} job{} (the IOPS rows "
                    "measure what the "
                    "volume can do)",
                    settings.iodepth, settings.numjobs, settings.numjobs == 1 ? "" : "s"));
    return out;
  }
  const bool stress = plan.type == config::TestType::stress;
  Result<load::Schedule> schedule = load::resolve_schedule(load::ScheduleInput{
      .rate = settings.rate,
      .capacity = load::capacity_ref("capacity.storage_iops", plan.capacity.storage_iops, "IOPS"),
      .load = phase.load,
      // Stress ramps the queue depth, not the rate: the jobs keep the steady capacity x load.
      .type = stress ? config::TestType::load : plan.type,
      .duration = phase.duration,
      .stress = {},
      .where = plan.source.string(),
      .owner = "the storage phase"});
  if (!schedule) {
    return std::unexpected(schedule.error());
  }
  out.rate = schedule->rate();
  for (const std::string& note : schedule->notes) {
    out.notes.push_back(fmt::format("random 4K jobs: {} (fio rate_iops, each job){}", note,
                                    stress ? "; the stress search over iodepth runs closed loop" : ""));
  }
  return out;
}

}  // namespace kp::drivers::storage
