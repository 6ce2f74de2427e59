#include "drivers/etcd/run_plan.hpp"

#include <fmt/format.h>

namespace kp::drivers::etcd {
namespace {

Stage steady(std::string name, double read_fraction, Duration duration, const load::Schedule& schedule,
             const Settings& settings) {
  return Stage{.name = std::move(name),
               .read_fraction = read_fraction,
               .rate = schedule.rate(),
               .duration = duration,
               .total = settings.total,
               .factor = schedule.steps.empty() ? 1.0 : schedule.steps.front().factor,
               .stress_step = false,
               .bisection = false};
}

}  // namespace

std::string_view series_of(double read_fraction) {
  if (read_fraction <= 0) {
    return "writes";
  }
  return read_fraction >= 1 ? "reads" : "requests";
}

Result<RunPlan> plan_run(const Settings& settings, const PlanInput& input) {
  const bool both = settings.workload == Workload::write_then_read;
  auto resolve = [&](Duration duration) {
    return load::resolve_schedule(
        load::ScheduleInput{.rate = settings.rate,
                            .capacity = load::capacity_ref("capacity.etcd_ops", input.capacity),
                            .load = input.load,
                            .type = input.type,
                            .duration = duration,
                            .stress = settings.stress,
                            .where = input.where,
                            .owner = "the etcd phase"});
  };
  // write-then-read splits the duration between the two series, so each schedule gets its half.
  const Duration first = both ? input.duration / 2 : input.duration;
  const Duration second = input.duration - first;
  Result<load::Schedule> schedule = resolve(first);
  if (!schedule) {
    return std::unexpected(schedule.error());
  }
  RunPlan plan;
  plan.notes = schedule->notes;
  if (schedule->stress()) {
    auto series = [&](double read_fraction, load::Schedule each) {
      const bool reads = read_fraction >= 1;
      return StressSeries{.series = std::string(series_of(read_fraction)),
                          .metric = reads ? "etcd.read.breaking_rate" : "etcd.write.breaking_rate",
                          .read_fraction = read_fraction,
                          .schedule = std::move(each)};
    };
    switch (settings.workload) {
      case Workload::write:
        plan.stress.push_back(series(0.0, *schedule));
        break;
      case Workload::read:
        plan.stress.push_back(series(1.0, *schedule));
        break;
      case Workload::mixed:
        plan.stress.push_back(series(settings.read_fraction, *schedule));
        break;
      case Workload::write_then_read: {
        Result<load::Schedule> reads = resolve(second);
        if (!reads) {
          return std::unexpected(reads.error());
        }
        plan.stress.push_back(series(0.0, *schedule));
        plan.stress.push_back(series(1.0, std::move(*reads)));
        break;
      }
    }
    return plan;
  }
  switch (settings.workload) {
    case Workload::write:
      plan.stages.push_back(steady("write", 0.0, input.duration, *schedule, settings));
      break;
    case Workload::read:
      plan.stages.push_back(steady("read", 1.0, input.duration, *schedule, settings));
      break;
    case Workload::mixed:
      plan.stages.push_back(steady("mixed", settings.read_fraction, input.duration, *schedule, settings));
      break;
    case Workload::write_then_read:
      plan.stages.push_back(steady("write", 0.0, first, *schedule, settings));
      plan.stages.push_back(steady("read", 1.0, second, *schedule, settings));
      break;
  }
  return plan;
}

}  // namespace kp::drivers::etcd
