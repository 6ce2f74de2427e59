#pragma once

// Does an agent's clock agree with the runner's? Agents of one test start at one wall-clock time
// (load/start_time.hpp), so a node whose clock is off by more than kMaxClockSkew moves its agent's window
// against the others' and the merged rate is no longer one window's: the phase is INVALID with the reason.
//
// What can be known, and how well. A container shares its node's clock (Linux has no per-container
// CLOCK_REALTIME), so the question is the node's clock against the runner's. The agent reports its own view
// ("clock" in its JSON line: load::AgentClock); the runner brackets the same instants with times it knows:
//   - its own clock: the agent's process began after the runner asked for the pod (`created`) and before the
//     runner saw the pod Running (`seen_running`); its line was printed before the runner read it
//     (`seen_log`). These bounds are exact in the runner's clock but as wide as the pod's start-up.
//   - the pod's status (the kubelet's view, by the node's clock): containerStatuses[].state startedAt and
//     finishedAt. The API writes them in whole seconds, truncated, so the container started within the second
//     after `startedAt`: an agent whose process began more than kMaxClockSkew before `startedAt` has a clock
//     behind the kubelet's, and one whose line is stamped more than 1 s + kMaxClockSkew after `finishedAt` is
//     ahead of it. Nothing finer can be read from the status: a skew inside that second goes unseen there.
// Each bound is one-sided, so a skew is reported only when it is certain (at least kMaxClockSkew beyond the
// bound), never guessed from the middle of an interval.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "load/start_time.hpp"

namespace kp::cluster {

inline constexpr Duration kMaxClockSkew = std::chrono::milliseconds(100);

// What the runner knows about one agent pod's life, by its own clock and from the pod's status.
struct ClockWitness {
  // Unset: not known (the bound is not checked).
  std::optional<WallTime> created;       // runner: just before the pod's create request
  std::optional<WallTime> seen_running;  // runner: when it saw the pod Running (or already ended)
  std::optional<WallTime> seen_log;      // runner: when it read the agent's line
  std::optional<WallTime> started_at;    // status: the container's startedAt (kubelet, whole seconds)
  std::optional<WallTime> finished_at;   // status: the container's finishedAt (kubelet, whole seconds)
};

// The agent's "clock" object from its JSON line; ErrorKind::protocol when it is missing or malformed (an
// agent image older than the runner).
Result<load::AgentClock> agent_clock_from_line(const nlohmann::json& line);

// nullopt when every bound holds; else one line naming the agent, its node, the bound broken and by how much:
//   "agent http-0-1 on node-b: its clock is at least 1.90 s behind the kubelet's (its process began at
//   14:20:00.100Z by its clock; the pod's status says the container started at 14:20:02Z, whole seconds);
//   agents of one test start together only when their nodes' clocks agree within 100 ms"
std::optional<std::string> clock_skew_reason(std::string_view agent, std::string_view node,
                                             const load::AgentClock& clock, const ClockWitness& witness);

}  // namespace kp::cluster
