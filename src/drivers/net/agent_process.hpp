#pragma once

// Runs an agent (`kubeproof agent net-server|net-client`) as a child process inside a named network
// namespace: fork, setns() into /run/netns/<name>, optional CPU pinning, exec. Separate processes rather than
// setns() threads in our own process, because that is what the two ends are on a cluster (two pods, a JSON
// line on stdout), because each end's CPU is then its own (getrusage per process), and because a server that
// dies cannot take the client (or kubeproof) with it.
//
// The child gets its own process group (the terminal's Ctrl-C reaches only kubeproof, which forwards a
// cancellation as SIGINT), dies with its parent (PR_SET_PDEATHSIG, tied to the thread that started it:
// start and wait from the same long-lived thread), and has stdout and stderr captured.

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::net {

struct AgentSpawn {
  std::filesystem::path binary;
  std::vector<std::string> args;  // argv[1..]
  std::string netns;              // "" = this process's namespace
  std::optional<int> cpu;         // pin to this CPU
  // Real-time scheduling (SCHED_FIFO, lowest priority) for every thread of the agent. For accuracy tests
  // on a busy host only; a measurement of the network must not flatter it this way.
  bool realtime = false;
};

struct AgentExit {
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool timed_out = false;  // we killed it: it outlived its deadline
  std::string out;         // stdout
  std::string err;         // stderr
  // "exit status 4", "killed by signal 9".
  std::string describe() const;
  // The last non-empty line of stderr, for an error message ("" when none).
  std::string last_error_line() const;
};

class AgentProcess {
 public:
  // ErrorKind::unavailable when the namespace or the binary is missing.
  static Result<AgentProcess> start(const AgentSpawn& spawn);
  AgentProcess(AgentProcess&& other) noexcept;
  AgentProcess& operator=(AgentProcess&& other) noexcept;
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;
  // Kills it (SIGKILL) if it still runs.
  ~AgentProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exited_; }

  enum class Stream { out, err };
  // The next line on stdout (e.g. the server's "listening" line) or stderr (progress) by `deadline`. An
  // error when it exits or the deadline passes first (with its stderr's last line).
  Result<std::string> read_line(Clock& clock, TimePoint deadline, Stream stream = Stream::out);
  // Waits for it to exit, collecting its output. At `deadline` it is killed (timed_out). When `cancel` is
  // requested it gets SIGINT (the agent then ends early and still prints its result) and SIGKILL if it
  // has not exited `grace` later.
  AgentExit wait(Clock& clock, TimePoint deadline, engine::CancellationToken* cancel = nullptr,
                 Duration grace = std::chrono::seconds(5));
  // SIGTERM, then SIGKILL after `grace`; collects what it printed.
  AgentExit stop(Clock& clock, Duration grace);
  // Sends a signal (tests kill the server mid-test with SIGKILL).
  void kill(int signal) const;
  // Each whole stderr line, as it arrives (called from read_line, wait and stop, on their thread): true keeps
  // it in the output, false takes it out (the client's live lines, which would fill the output of a long
  // test and hide its last error line).
  void filter_stderr(std::function<bool(std::string_view)> keep) { stderr_keep_ = std::move(keep); }

 private:
  AgentProcess() = default;
  // Reads what is available on the pipes, waiting up to `timeout`; false when both are closed.
  bool pump(Duration timeout);
  void reap(bool block);
  void filter_err(std::string_view more);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool exited_ = false;
  int status_ = 0;
  std::string out_;
  std::string err_;
  std::size_t line_consumed_ = 0;  // of out_, returned by read_line
  std::size_t err_consumed_ = 0;   // of err_, returned by read_line
  std::function<bool(std::string_view)> stderr_keep_;
  std::string err_partial_;  // with a filter: the stderr line not yet whole
};

}  // namespace kp::drivers::net
