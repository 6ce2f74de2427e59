#pragma once

// Runs a program to completion as our child, without a shell: bounded by a timeout and stopped on
// cancellation. It gets its own process group (so a stop reaches the workers fio forks, and the terminal's
// Ctrl-C reaches only us, who then stop it in order) and dies with us (PR_SET_PDEATHSIG), so no run of
// ours leaves a program writing to a disk behind it.

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::storage {

struct ChildSpec {
  std::filesystem::path binary;   // run as given: resolve PATH names before (find_executable)
  std::vector<std::string> args;  // argv[1..]
  std::filesystem::path working_dir;
  std::filesystem::path output_file;  // stdout and stderr, truncated first; stdin is /dev/null
  Duration timeout{std::chrono::minutes(10)};
  // On timeout or cancellation the child gets SIGINT (fio then stops its jobs and still writes its results),
  // and SIGKILL if it has not exited this long after.
  Duration stop_grace{std::chrono::seconds(10)};
  // Called from the wait loop each time it looks at the child (every 50 ms), with the clock's now: the
  // storage phase follows fio's output file from here (fio_live.hpp). Empty: nothing.
  std::function<void(TimePoint)> on_tick;
};

struct ChildExit {
  std::optional<int> exit_code;  // set when it exited
  std::optional<int> signal;     // set when a signal ended it
  bool timed_out = false;        // we stopped it: the timeout passed
  bool cancelled = false;        // we stopped it: cancellation was requested
  Duration elapsed{0};

  bool success() const { return exit_code == 0 && !timed_out && !cancelled; }
  // "exit status 3", "killed by signal 9 (Killed)".
  std::string describe() const;
};

// Starts the child and waits for it. An error means it could not be started (ErrorKind::unavailable when the
// binary is missing or not executable, else io); how it ended is in ChildExit.
Result<ChildExit> run_child(const ChildSpec& spec, Clock& clock, engine::CancellationToken& cancel);

}  // namespace kp::drivers::storage
