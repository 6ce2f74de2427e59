#pragma once

// Processes of the lab's services: started detached (own session, so a Ctrl-C on `lab up` does not reach them
// and they outlive it), found again by pid file, and stopped only after checking the pid is still the same
// service (pids are recycled).

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace kp::lab {

// Starts argv[0] (searched on PATH when it has no slash) in a new session with stdin from /dev/null and
// stdout+stderr appended to `log_file`. Returns its pid.
Result<pid_t> spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log_file);

// True while the process exists and is not a zombie. Reaps it when it is our own child, so a service started
// by this process (tests) does not linger as a zombie.
bool process_alive(pid_t pid);

// The NUL-separated argv of a live process (from /proc/<pid>/cmdline); nullopt when it is gone.
std::optional<std::vector<std::string>> process_cmdline(pid_t pid);

// SIGTERM, then SIGKILL if it has not exited by `grace`; waits (polling /proc, bounded) until it is gone.
// Returns an error only if it survives SIGKILL for a further `grace`.
Result<void> terminate_process(pid_t pid, Clock& clock, Duration grace);

// Finds `name` on PATH (or checks it when it contains a slash); nullopt when absent or not executable.
std::optional<std::filesystem::path> find_executable(std::string_view name);

// Runs a short command (the openssl CLI) to completion with stdin from /dev/null and stdout+stderr appended
// to `log` (created 0600: it may echo key material). Errors name `who` ("lab: nginx"), the command and, for a
// missing binary, the Debian `package`; a non-zero exit carries the log's tail.
Result<void> run_to_completion(const std::vector<std::string>& argv, const std::filesystem::path& log,
                               std::string_view who, std::string_view package);

// The last `max_lines` lines of a text file, joined with " | ", for error messages ("" when unreadable).
std::string tail_of_file(const std::filesystem::path& file, std::size_t max_lines);

}  // namespace kp::lab
