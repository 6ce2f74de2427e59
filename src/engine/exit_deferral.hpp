#pragma once

// Cleanup that a second Ctrl-C must not cut in half. The first Ctrl-C cancels the run (CancellationToken);
// a second one normally ends the process at once. While an ExitDeferral exists, that second one waits until
// the last ExitDeferral is gone instead, so steps that leave junk when killed half-way finish first: fio's
// scratch files on the volume under test and its work folder (a stopped fio exits within its stop grace),
// the report files (written as one set). Each such step is short and bounded, so "at once" stays true to
// within seconds.
//
// The signal handler calls request_quit(), which is async-signal-safe (lock-free atomics, signal, raise).
// Without a handler that calls it (an agent, a test), an ExitDeferral does nothing.

namespace kp::engine {

class ExitDeferral {
 public:
  ExitDeferral();
  ~ExitDeferral();
  ExitDeferral(const ExitDeferral&) = delete;
  ExitDeferral& operator=(const ExitDeferral&) = delete;
};

// From a signal handler: end the process by `signal_number` (its default action) now, or, while an
// ExitDeferral exists, as the last one goes. Returns only when the quit was deferred.
void request_quit(int signal_number);

}  // namespace kp::engine
