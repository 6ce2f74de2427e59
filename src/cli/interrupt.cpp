#include "cli/interrupt.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "engine/exit_deferral.hpp"

namespace kp::cli {
namespace {

// Shared with the signal handler, so plain lock-free atomics and a file descriptor only.
std::atomic<int> g_interrupts{0};
std::atomic<int> g_wake_fd{-1};
std::atomic<bool> g_installed{false};

constexpr char kInterrupted = 'i';
constexpr char kDeferred = 'd';
constexpr char kQuit = 'q';

void wake(char byte) {
  int fd = g_wake_fd.load();
  if (fd >= 0) {
    ssize_t ignored = ::write(fd, &byte, 1);
    static_cast<void>(ignored);
  }
}

extern "C" void on_interrupt(int signal_number) {
  int saved_errno = errno;
  if (g_interrupts.fetch_add(1) >= 1) {
    // Second interrupt: die of the signal (exit status 128 + signal, as the shell expects), now or as soon as
    // a step of cleanup under way is done (engine/exit_deferral.hpp).
    engine::request_quit(signal_number);
    wake(kDeferred);
    errno = saved_errno;
    return;
  }
  wake(kInterrupted);
  errno = saved_errno;
}

}  // namespace

InterruptWatcher::InterruptWatcher(engine::CancellationToken& token) : token_(token) {
  if (g_installed.exchange(true)) {
    return;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    g_installed.store(false);
    return;
  }
  read_fd_ = fds[0];
  write_fd_ = fds[1];
  // The handler must never block, even if the pipe were somehow full.
  ::fcntl(write_fd_, F_SETFL, ::fcntl(write_fd_, F_GETFL) | O_NONBLOCK);
  g_interrupts.store(0);
  g_wake_fd.store(write_fd_);

  struct sigaction action {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, &previous_int_);
  ::sigaction(SIGTERM, &action, &previous_term_);
  active_ = true;
  thread_ = std::thread([this] { watch(); });
}

InterruptWatcher::~InterruptWatcher() {
  if (!active_) {
    return;
  }
  ::sigaction(SIGINT, &previous_int_, nullptr);
  ::sigaction(SIGTERM, &previous_term_, nullptr);
  g_wake_fd.store(-1);
  char byte = kQuit;
  while (::write(write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  ::close(read_fd_);
  ::close(write_fd_);
  g_installed.store(false);
}

void InterruptWatcher::watch() {
  for (;;) {
    char byte = 0;
    ssize_t got = ::read(read_fd_, &byte, 1);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got <= 0 || byte == kQuit) {
      return;
    }
    if (byte == kDeferred) {
      std::fputs("kubeproof: quitting as soon as the cleanup under way is done\n", stderr);
      continue;
    }
    std::fputs(
        "kubeproof: interrupted: stopping the current phase, then writing the reports "
        "(press Ctrl-C again to quit at once)\n",
        stderr);
    token_.request();
  }
}

}  // namespace kp::cli
