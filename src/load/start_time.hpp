#pragma once

// One wall-clock start time for every agent of one test (`--start-at`), so that agents in many pods, started
// by the pod runner one after another, measure over the same window. Read one way by every agent (as
// rate_setting.hpp reads `--rate`): Unix epoch milliseconds, "1733140800123". The runner picks it (now plus a
// lead long enough for every pod to be Running) and passes the same value to all of a test's agents.
//
// Bounds: a start more than kStartAtMaxAhead ahead is refused at once (a typo, or a clock years off); an
// agent that is ready more than kStartAtMaxLate after the start is refused too (its window would not line up
// with the others': the runner's lead was too short). Both are one line naming the flag and the value.
//
// The agent reports its clock's view of the run (AgentClock) in its JSON line; the runner compares it with
// its own clock and the pod's status times (cluster/agent_clock.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace kp::load {

inline constexpr Duration kStartAtMaxAhead = std::chrono::minutes(10);
inline constexpr Duration kStartAtMaxLate = std::chrono::seconds(1);

// Milliseconds since the Unix epoch of a wall time, and back.
std::int64_t epoch_ms(WallTime time);
WallTime from_epoch_ms(std::int64_t ms);

// The latest epoch millisecond a WallTime holds (its int64 nanoseconds end on 2262-04-11). Epoch times read
// from outside (--start-at, an agent's clock) must lie in [0, kLatestEpochMs]: a clock before 1970 is as
// wrong as one past 2262, and within that range the difference of any two is a Duration too.
inline constexpr std::int64_t kLatestEpochMs = 9'223'372'036'854;

// `--start-at` (ErrorKind::usage naming `flag`, without dashes): digits only, epoch milliseconds, within
// kStartAtMaxAhead of `now`:
//   --start-at: not Unix epoch milliseconds (e.g. 1733140800123), got "soon"
//   --start-at: past the latest time this agent can hold (9223372036854, in 2262), got "..."
//   --start-at: 2026-12-02T14:20:00.000Z is 3h0m ahead of this agent's clock (at most 10m), got "..."
Result<WallTime> parse_start_at(std::string_view flag, std::string_view text, WallTime now);

// "2026-12-02T14:20:00.123Z", for messages and reports.
std::string format_wall_ms(WallTime time);

// When to begin, on the monotonic clock: `start` seen from `clock` now. An agent that is already more than
// kStartAtMaxLate past `start` gets ErrorKind::timeout:
//   --start-at: 2026-12-02T14:20:00.000Z passed 3.2 s before this agent was ready (more than 1 s: its window
//   would not line up with the other agents'; the runner's lead was too short)
Result<TimePoint> start_deadline(WallTime start, const Clock& clock);

// What an agent's clock saw, for its JSON line ("clock"): the start asked for, when its process began, when
// its measurement began (after the wait) and when it ended. Epoch milliseconds by the agent's own clock.
struct AgentClock {
  std::optional<std::int64_t> start_at_ms;  // --start-at, when given
  std::int64_t process_ms = 0;              // the agent's main() (after the exec and the binary's start-up)
  // When the kernel created the agent's process (/proc/self/stat starttime, 10 ms ticks): before the
  // container was reported Running, where main() may come hundreds of ms after it on a busy node. Unset when
  // it cannot be read (not Linux, or an agent older than this field).
  std::optional<std::int64_t> kernel_start_ms;
  std::int64_t started_ms = 0;  // the measurement's start (the end of the wait)
  std::int64_t ended_ms = 0;    // the result's time, just before the line is printed
};

// The wall time (epoch ms, by this machine's clock) at which the kernel created this process: its starttime
// from /proc/self/stat against CLOCK_BOOTTIME. nullopt when /proc cannot be read.
std::optional<std::int64_t> process_start_epoch_ms();

}  // namespace kp::load
