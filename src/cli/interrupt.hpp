#pragma once

// Ctrl-C during a run: the first SIGINT (or SIGTERM) asks the run to stop. The current phase keeps what it
// measured, the rest are skipped, and the reports are still written. A second one ends the process at once,
// the way an unhandled SIGINT would, except that a step of cleanup under way (an engine::ExitDeferral: fio's
// scratch files, the report set) is finished first.
//
// The signal handler only does what is async-signal-safe: it counts and writes one byte to a pipe. A watcher
// thread reads the pipe and calls CancellationToken::request(), which takes a mutex and so must not run
// inside a handler.

#include <csignal>
#include <thread>

#include "engine/cancellation.hpp"

namespace kp::cli {

class InterruptWatcher {
 public:
  // Installs the handlers; at most one watcher exists at a time.
  explicit InterruptWatcher(engine::CancellationToken& token);
  // Restores the previous handlers and joins the watcher thread.
  ~InterruptWatcher();

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  // False when the handlers could not be installed (no pipe, or another watcher exists): the run then goes on
  // with the default Ctrl-C behaviour.
  bool active() const { return active_; }

 private:
  void watch();

  engine::CancellationToken& token_;
  bool active_ = false;
  int read_fd_ = -1;
  int write_fd_ = -1;
  struct sigaction previous_int_ {};
  struct sigaction previous_term_ {};
  std::thread thread_;
};

}  // namespace kp::cli
