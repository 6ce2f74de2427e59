#include "drivers/storage/child_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "core/fd.hpp"

extern char** environ;

namespace kp::drivers::storage {
namespace {

// How often the wait loop looks at the child. Exit and cancellation have no common thing to block on (the
// token wakes a condition variable, the child a SIGCHLD we do not own), so it polls; 50 ms bounds how late a
// stop or an exit is noticed, against runs that last seconds to minutes.
constexpr Duration kPollInterval = std::chrono::milliseconds(50);

// Why the child could not become the program, sent over a close-on-exec pipe.
struct StartFailure {
  int stage = 0;  // 1: chdir, 2: exec
  int error = 0;
};

// Runs in the forked child: only async-signal-safe calls until exec.
[[noreturn]] void become_child(pid_t parent, int null_fd, int out_fd, int report_fd, const char* cwd,
                               const char* binary, char* const* argv) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) {
    ::_exit(127);  // the parent died before PDEATHSIG was armed
  }
  // The caller may block or handle signals (the CLI's Ctrl-C watcher); the program starts with defaults so
  // our SIGINT reaches it.
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction defaults {};
  defaults.sa_handler = SIG_DFL;
  for (int signal_number : {SIGINT, SIGTERM, SIGPIPE, SIGHUP}) {
    ::sigaction(signal_number, &defaults, nullptr);
  }
  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(out_fd, STDOUT_FILENO);
  ::dup2(out_fd, STDERR_FILENO);
  StartFailure failure;
  if (cwd[0] != '\0' && ::chdir(cwd) != 0) {
    failure = StartFailure{1, errno};
  } else {
    ::execve(binary, argv, environ);
    failure = StartFailure{2, errno};
  }
  [[maybe_unused]] ssize_t written = ::write(report_fd, &failure, sizeof failure);
  ::_exit(127);
}

}  // namespace

std::string ChildExit::describe() const {
  if (exit_code) {
    return fmt::format("exit status {}", *exit_code);
  }
  if (signal) {
    return fmt::format("killed by signal {} ({})", *signal, ::strsignal(*signal));
  }
  return "an unknown end";
}

Result<ChildExit> run_child(const ChildSpec& spec, Clock& clock, engine::CancellationToken& cancel) {
  // Everything the child needs is prepared here: after fork it may not allocate.
  const std::string binary = spec.binary.string();
  const std::string cwd = spec.working_dir.string();
  std::vector<std::string> words = {binary};
  words.insert(words.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (std::string& word : words) {
    argv.push_back(word.data());
  }
  argv.push_back(nullptr);

  Fd out(::open(spec.output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (out.get() < 0) {
    return fail(ErrorKind::io,
                fmt::format("cannot create {}: {}", spec.output_file.string(), std::strerror(errno)));
  }
  Fd null_input(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (null_input.get() < 0) {
    return fail(ErrorKind::io, fmt::format("cannot open /dev/null: {}", std::strerror(errno)));
  }
  int report[2] = {-1, -1};
  if (::pipe2(report, O_CLOEXEC) != 0) {
    return fail(ErrorKind::io, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  }
  Fd report_read(report[0]);
  Fd report_write(report[1]);

  const TimePoint started = clock.now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return fail(ErrorKind::io, fmt::format("cannot start {}: fork: {}", binary, std::strerror(errno)));
  }
  if (pid == 0) {
    become_child(parent, null_input.get(), out.get(), report_write.get(), cwd.c_str(), binary.c_str(),
                 argv.data());
  }
  // Also from here, so a stop sent before the child ran its setpgid still finds the group.
  ::setpgid(pid, pid);
  report_write.reset();
  out.reset();
  null_input.reset();

  StartFailure failure;
  ssize_t got = 0;
  do {
    got = ::read(report_read.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (failure.stage == 1) {
      return fail(ErrorKind::io,
                  fmt::format("cannot run {} in {}: {}", binary, cwd, std::strerror(failure.error)));
    }
    const bool missing = failure.error == ENOENT || failure.error == EACCES || failure.error == ENOEXEC ||
                         failure.error == ENOTDIR;
    return fail(missing ? ErrorKind::unavailable : ErrorKind::io,
                fmt::format("cannot run {}: {}", binary, std::strerror(failure.error)));
  }

  ChildExit result;
  const TimePoint deadline = started + spec.timeout;
  bool stopping = false;
  bool killed = false;
  TimePoint kill_at{};
  int status = 0;
  while (true) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      break;
    }
    if (done < 0 && errno != EINTR) {
      return fail(ErrorKind::internal,
                  fmt::format("waiting for {} (pid {}): {}", binary, pid, std::strerror(errno)));
    }
    const TimePoint now = clock.now();
    if (spec.on_tick) {
      spec.on_tick(now);
    }
    if (!stopping && (cancel.requested() || now >= deadline)) {
      result.cancelled = cancel.requested();
      result.timed_out = !result.cancelled;
      ::kill(-pid, SIGINT);
      stopping = true;
      kill_at = now + spec.stop_grace;
    } else if (stopping && !killed && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      killed = true;
    }
    const TimePoint tick = now + kPollInterval;
    if (stopping) {
      clock.sleep_until(tick);
    } else {
      cancel.wait_until(clock, std::min(tick, deadline));
    }
  }
  if (killed) {
    // fio's job processes share the group and may outlive a killed parent.
    ::kill(-pid, SIGKILL);
  }
  result.elapsed = clock.now() - started;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace kp::drivers::storage
