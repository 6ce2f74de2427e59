#include "drivers/net/agent_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "lab/netns.hpp"

extern char** environ;

namespace kp::drivers::net {
namespace {

void close_fd(int& fd) {
  if (fd >= 0) {
    ::close(fd);
    fd = -1;
  }
}

// What the child reports through the exec-error pipe when it fails before exec.
struct ChildFailure {
  int step = 0;  // 1 setns, 2 affinity, 3 exec, 4 real-time scheduling
  int error = 0;
};

}  // namespace

std::string AgentExit::describe() const {
  if (timed_out) {
    return "killed after its deadline";
  }
  if (signal) {
    return fmt::format("killed by signal {} ({})", *signal, strsignal(*signal));
  }
  if (exit_code) {
    return fmt::format("exit status {}", *exit_code);
  }
  return "still running";
}

std::string AgentExit::last_error_line() const {
  std::size_t end = err.size();
  while (end > 0) {
    while (end > 0 && (err[end - 1] == '\n' || err[end - 1] == '\r')) {
      --end;
    }
    const std::size_t start = err.rfind('\n', end == 0 ? 0 : end - 1);
    const std::size_t from = start == std::string::npos ? 0 : start + 1;
    if (end > from) {
      return err.substr(from, end - from);
    }
    if (start == std::string::npos) {
      break;
    }
    end = start;
  }
  return "";
}

Result<AgentProcess> AgentProcess::start(const AgentSpawn& spawn) {
  std::error_code ignored;
  if (!std::filesystem::exists(spawn.binary, ignored) || ::access(spawn.binary.c_str(), X_OK) != 0) {
    return fail(ErrorKind::unavailable,
                fmt::format("agent binary \"{}\" is missing or not executable", spawn.binary.string()));
  }
  int netns_fd = -1;
  if (!spawn.netns.empty()) {
    const std::string path = lab::netns_path(spawn.netns).string();
    netns_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (netns_fd < 0) {
      return fail(ErrorKind::unavailable,
                  fmt::format("network namespace {} ({}): {}", spawn.netns, path, std::strerror(errno)));
    }
  }
  int out_pipe[2];
  int err_pipe[2];
  int exec_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(exec_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    if (netns_fd >= 0) {
      ::close(netns_fd);
    }
    return fail(ErrorKind::io, fmt::format("pipe: {}", std::strerror(error)));
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> argv_strings;
  argv_strings.push_back(spawn.binary.string());
  argv_strings.insert(argv_strings.end(), spawn.args.begin(), spawn.args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_strings) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (spawn.cpu) {
    CPU_SET(*spawn.cpu, &cpus);
  }
  sched_param realtime{};
  realtime.sched_priority = sched_get_priority_min(SCHED_FIFO);
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    for (int fd :
         {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], exec_pipe[0], exec_pipe[1], netns_fd}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    return fail(ErrorKind::io, fmt::format("fork: {}", std::strerror(error)));
  }
  if (pid == 0) {
    auto die = [&](int step) {
      ChildFailure failure{step, errno};
      [[maybe_unused]] ssize_t n = ::write(exec_pipe[1], &failure, sizeof failure);
      ::_exit(127);
    };
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);  // the parent died before prctl took effect
    }
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) {
      die(1);
    }
    if (spawn.cpu && ::sched_setaffinity(0, sizeof cpus, &cpus) != 0) {
      die(2);
    }
    if (spawn.realtime && ::sched_setscheduler(0, SCHED_FIFO, &realtime) != 0) {
      die(4);
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDIN_FILENO);
    }
    ::dup2(out_pipe[1], STDOUT_FILENO);
    ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(argv[0], argv.data(), environ);
    die(3);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(exec_pipe[1]);
  if (netns_fd >= 0) {
    ::close(netns_fd);
  }
  // The exec pipe closes on a successful exec (CLOEXEC); otherwise it carries why the child gave up.
  ChildFailure failure;
  ssize_t n = 0;
  do {
    n = ::read(exec_pipe[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  ::close(exec_pipe[0]);
  AgentProcess process;
  process.pid_ = pid;
  process.out_fd_ = out_pipe[0];
  process.err_fd_ = err_pipe[0];
  if (n == static_cast<ssize_t>(sizeof failure)) {
    process.reap(true);
    static constexpr const char* kSteps[] = {"", "setns into the network namespace", "pinning to a CPU",
                                             "exec", "real-time scheduling"};
    return fail(failure.step == 1 ? ErrorKind::unavailable : ErrorKind::io,
                fmt::format("starting {}{}: {}: {}", spawn.binary.filename().string(),
                            spawn.netns.empty() ? "" : " in " + spawn.netns, kSteps[failure.step],
                            std::strerror(failure.error)));
  }
  return process;
}

AgentProcess::AgentProcess(AgentProcess&& other) noexcept {
  *this = std::move(other);
}

AgentProcess& AgentProcess::operator=(AgentProcess&& other) noexcept {
  if (this != &other) {
    pid_ = std::exchange(other.pid_, -1);
    out_fd_ = std::exchange(other.out_fd_, -1);
    err_fd_ = std::exchange(other.err_fd_, -1);
    exited_ = std::exchange(other.exited_, false);
    status_ = other.status_;
    out_ = std::move(other.out_);
    err_ = std::move(other.err_);
    line_consumed_ = other.line_consumed_;
    err_consumed_ = other.err_consumed_;
    stderr_keep_ = std::move(other.stderr_keep_);
    err_partial_ = std::move(other.err_partial_);
  }
  return *this;
}

AgentProcess::~AgentProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  close_fd(out_fd_);
  close_fd(err_fd_);
}

void AgentProcess::kill(int signal) const {
  if (running()) {
    ::kill(pid_, signal);
  }
}

void AgentProcess::reap(bool block) {
  if (pid_ <= 0 || exited_) {
    return;
  }
  int status = 0;
  pid_t done = 0;
  do {
    done = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == pid_) {
    exited_ = true;
    status_ = status;
  }
}

bool AgentProcess::pump(Duration timeout) {
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  if (out_fd_ < 0 && err_fd_ < 0) {
    return false;
  }
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(std::max(timeout, Duration::zero())).count();
  if (::poll(fds, 2, static_cast<int>(std::min<long long>(ms, 1000))) <= 0) {
    return true;
  }
  char buffer[16384];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || fds[i].revents == 0) {
      continue;
    }
    const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
    if (n > 0 && i == 1 && stderr_keep_) {
      filter_err(std::string_view(buffer, static_cast<std::size_t>(n)));
    } else if (n > 0) {
      (i == 0 ? out_ : err_).append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      close_fd(i == 0 ? out_fd_ : err_fd_);
      if (i == 1) {
        err_ += std::exchange(err_partial_, {});  // a last line without its newline is still output
      }
    }
  }
  return out_fd_ >= 0 || err_fd_ >= 0;
}

void AgentProcess::filter_err(std::string_view more) {
  err_partial_.append(more);
  std::size_t from = 0;
  for (std::size_t newline = err_partial_.find('\n'); newline != std::string::npos;
       newline = err_partial_.find('\n', from)) {
    const std::string_view line(err_partial_.data() + from, newline - from);
    if (stderr_keep_(line)) {
      err_.append(line).push_back('\n');
    }
    from = newline + 1;
  }
  err_partial_.erase(0, from);
}

Result<std::string> AgentProcess::read_line(Clock& clock, TimePoint deadline, Stream stream) {
  std::string& text = stream == Stream::out ? out_ : err_;
  std::size_t& consumed = stream == Stream::out ? line_consumed_ : err_consumed_;
  while (true) {
    const std::size_t newline = text.find('\n', consumed);
    if (newline != std::string::npos) {
      std::string line = text.substr(consumed, newline - consumed);
      consumed = newline + 1;
      return line;
    }
    const TimePoint now = clock.now();
    if (now >= deadline) {
      return fail(ErrorKind::timeout,
                  fmt::format("the agent (pid {}) printed nothing within its deadline", pid_));
    }
    if (!pump(std::min<Duration>(deadline - now, std::chrono::milliseconds(100)))) {
      reap(true);
      AgentExit exit;
      exit.err = err_;
      const std::string reason = exit.last_error_line();
      return fail(ErrorKind::unavailable,
                  fmt::format("the agent exited before it was ready ({}){}",
                              WIFEXITED(status_) ? fmt::format("exit status {}", WEXITSTATUS(status_))
                                                 : std::string("killed"),
                              reason.empty() ? "" : ": " + reason));
    }
  }
}

AgentExit AgentProcess::wait(Clock& clock, TimePoint deadline, engine::CancellationToken* cancel,
                             Duration grace) {
  AgentExit result;
  bool interrupted = false;
  TimePoint kill_at = deadline;
  while (pump(std::chrono::milliseconds(50))) {
    const TimePoint now = clock.now();
    if (cancel != nullptr && cancel->requested() && !interrupted) {
      interrupted = true;
      ::kill(pid_, SIGINT);
      kill_at = std::min(kill_at, now + grace);
    }
    if (now >= kill_at) {
      result.timed_out = !interrupted;
      ::kill(pid_, SIGKILL);
      break;
    }
  }
  // Output is closed (or it was killed): collect the exit (bounded: a child that closed its output but lives
  // on is killed at its deadline), then whatever is still buffered.
  while (true) {
    reap(false);
    if (exited_) {
      break;
    }
    if (clock.now() >= kill_at) {
      result.timed_out = !interrupted;
      ::kill(pid_, SIGKILL);
      reap(true);
      break;
    }
    clock.sleep_until(clock.now() + std::chrono::milliseconds(10));
  }
  while (pump(std::chrono::milliseconds(10))) {
  }
  result.out = out_.substr(std::min(line_consumed_, out_.size()));
  result.err = err_;
  if (WIFEXITED(status_)) {
    result.exit_code = WEXITSTATUS(status_);
  } else if (WIFSIGNALED(status_)) {
    result.signal = WTERMSIG(status_);
  }
  return result;
}

AgentExit AgentProcess::stop(Clock& clock, Duration grace) {
  if (running()) {
    ::kill(pid_, SIGTERM);
  }
  return wait(clock, clock.now() + grace);
}

}  // namespace kp::drivers::net
