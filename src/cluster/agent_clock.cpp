#include "cluster/agent_clock.hpp"

#include <fmt/format.h>

#include "kube/encoding.hpp"

namespace kp::cluster {
namespace {

double seconds_between(WallTime later, WallTime earlier) {
  return std::chrono::duration<double>(later - earlier).count();
}

std::string clock_text(std::int64_t ms) {
  return load::format_wall_ms(load::from_epoch_ms(ms));
}

}  // namespace

Result<load::AgentClock> agent_clock_from_line(const nlohmann::json& line) {
  const auto bad = [] {
    return fail(ErrorKind::protocol,
                "the agent's line has no \"clock\" {process_ms, started_ms, ended_ms} (an agent image older "
                "than this kubeproof?)");
  };
  if (!line.contains("clock") || !line["clock"].is_object()) {
    return bad();
  }
  const nlohmann::json& clock = line["clock"];
  for (const char* key : {"process_ms", "started_ms", "ended_ms"}) {
    if (!clock.contains(key) || !clock[key].is_number_integer()) {
      return bad();
    }
  }
  // Beyond what a WallTime holds, from_epoch_ms and the differences of clock_skew_reason would overflow.
  const auto in_range = [](const nlohmann::json& ms) {
    return ms.is_number_unsigned()
               ? ms.get<std::uint64_t>() <= std::uint64_t{load::kLatestEpochMs}
               : ms.get<std::int64_t>() >= 0 && ms.get<std::int64_t>() <= load::kLatestEpochMs;
  };
  for (const char* key : {"process_ms", "started_ms", "ended_ms", "start_at_ms", "kernel_start_ms"}) {
    if (clock.contains(key) && clock[key].is_number_integer() && !in_range(clock[key])) {
      return fail(
          ErrorKind::protocol,
          fmt::format("the agent's line: clock.{}: must be Unix epoch milliseconds from 0 to {}, got {}", key,
                      load::kLatestEpochMs, clock[key].dump()));
    }
  }
  load::AgentClock out;
  out.process_ms = clock["process_ms"].get<std::int64_t>();
  out.started_ms = clock["started_ms"].get<std::int64_t>();
  out.ended_ms = clock["ended_ms"].get<std::int64_t>();
  if (clock.contains("start_at_ms") && clock["start_at_ms"].is_number_integer()) {
    out.start_at_ms = clock["start_at_ms"].get<std::int64_t>();
  }
  if (clock.contains("kernel_start_ms") && clock["kernel_start_ms"].is_number_integer()) {
    out.kernel_start_ms = clock["kernel_start_ms"].get<std::int64_t>();
  }
  return out;
}

std::optional<std::string> clock_skew_reason(std::string_view agent, std::string_view node,
                                             const load::AgentClock& clock, const ClockWitness& witness) {
  const WallTime process = load::from_epoch_ms(clock.process_ms);
  const WallTime ended = load::from_epoch_ms(clock.ended_ms);
  const std::string who = fmt::format("agent {} on {}", agent, node.empty() ? "an unknown node" : node);
  const std::string why =
      fmt::format("agents of one test start together only when their nodes' clocks agree within {} ms",
                  std::chrono::duration_cast<std::chrono::milliseconds>(kMaxClockSkew).count());
  if (witness.created && *witness.created - process > kMaxClockSkew) {
    return fmt::format(
        "{}: its clock is at least {:.2f} s behind the runner's (its process began at {} by its "
        "clock, before the runner asked for the pod at {}); {}",
        who, seconds_between(*witness.created, process), clock_text(clock.process_ms),
        load::format_wall_ms(*witness.created), why);
  }
  // Only the kernel's creation of the process is before Running: main() comes after the exec and the
  // binary's start-up, which on a busy node can take longer than the runner takes to see Running.
  if (witness.seen_running && clock.kernel_start_ms &&
      load::from_epoch_ms(*clock.kernel_start_ms) - *witness.seen_running > kMaxClockSkew) {
    return fmt::format(
        "{}: its clock is at least {:.2f} s ahead of the runner's (the kernel created its process at {} "
        "by its clock, after the runner saw the pod Running at {}); {}",
        who, seconds_between(load::from_epoch_ms(*clock.kernel_start_ms), *witness.seen_running),
        clock_text(*clock.kernel_start_ms), load::format_wall_ms(*witness.seen_running), why);
  }
  if (witness.seen_log && ended - *witness.seen_log > kMaxClockSkew) {
    return fmt::format(
        "{}: its clock is at least {:.2f} s ahead of the runner's (its result is stamped {}, after "
        "the runner read it at {}); {}",
        who, seconds_between(ended, *witness.seen_log), clock_text(clock.ended_ms),
        load::format_wall_ms(*witness.seen_log), why);
  }
  if (witness.started_at && *witness.started_at - process > kMaxClockSkew) {
    return fmt::format(
        "{}: its clock is at least {:.2f} s behind the kubelet's (its process began at {} by its "
        "clock; the pod's status says the container started at {}, whole seconds); {}",
        who, seconds_between(*witness.started_at, process), clock_text(clock.process_ms),
        kube::format_rfc3339(*witness.started_at), why);
  }
  if (witness.finished_at) {
    const WallTime latest = *witness.finished_at + std::chrono::seconds(1);  // truncated to the second
    if (ended - latest > kMaxClockSkew) {
      return fmt::format(
          "{}: its clock is at least {:.2f} s ahead of the kubelet's (its result is stamped {} by "
          "its clock; the pod's status says the container finished at {}, whole seconds); {}",
          who, seconds_between(ended, latest), clock_text(clock.ended_ms),
          kube::format_rfc3339(*witness.finished_at), why);
    }
  }
  return std::nullopt;
}

}  // namespace kp::cluster
