#include "engine/exit_deferral.hpp"

#include <pthread.h>
#include <signal.h>
#include <atomic>

#include <csignal>
#include <cstdint>

namespace kp::engine {
namespace {

// One word, so the handler and the last ExitDeferral agree on who quits: the low bits count deferrals, the
// bits above hold the signal of a pending quit (0: none).
std::atomic<std::uint32_t> g_state{0};
constexpr std::uint32_t kDepthMask = 0xffff;
constexpr int kSignalShift = 16;
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

[[noreturn]] void quit_by(int signal_number) {
  std::signal(signal_number, SIG_DFL);
  // Called from the handler of this very signal, which the kernel blocks while its handler runs: unblock it,
  // or the raise stays pending and only the SIGKILL below ends the process (killed by 9, not by SIGINT).
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, signal_number);
  pthread_sigmask(SIG_UNBLOCK, &own, nullptr);
  std::raise(signal_number);
  // A blocked or ignored signal must not bring us back to a run that was told to quit.
  std::signal(SIGKILL, SIG_DFL);
  std::raise(SIGKILL);
  for (;;) {
  }
}

}  // namespace

ExitDeferral::ExitDeferral() {
  g_state.fetch_add(1);
}

ExitDeferral::~ExitDeferral() {
  const std::uint32_t before = g_state.fetch_sub(1);
  const int pending = static_cast<int>(before >> kSignalShift);
  if ((before & kDepthMask) == 1 && pending != 0) {
    quit_by(pending);
  }
}

void request_quit(int signal_number) {
  const std::uint32_t mark = static_cast<std::uint32_t>(signal_number) << kSignalShift;
  const std::uint32_t before = g_state.fetch_or(mark);
  if ((before & kDepthMask) == 0) {
    quit_by(signal_number);
  }
}

}  // namespace kp::engine
