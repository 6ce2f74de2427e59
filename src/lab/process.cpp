#include "lab/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

extern char** environ;

namespace kp::lab {
namespace {

// How often a wait for a process to exit looks again; exits take milliseconds, so this bounds the added
// delay.
constexpr Duration kPollInterval = std::chrono::milliseconds(20);

}  // namespace

Result<pid_t> spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log_file) {
  if (argv.empty()) {
    return fail(ErrorKind::internal, "spawn_detached: empty command line");
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::string log = log_file.string();
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // A new session: the service must not get the terminal's SIGINT meant for kubeproof.
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&attributes, &empty);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attributes, &defaults);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (rc != 0) {
    return fail(ErrorKind::io, fmt::format("cannot start \"{}\": {}", argv[0], std::strerror(rc)));
  }
  return pid;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) {
    return false;
  }
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) == pid) {
    return false;  // it was our child and has just been reaped
  }
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  if (!stat) {
    return false;
  }
  std::string line;
  std::getline(stat, line);
  // "pid (comm) S ...": the state follows the last ')' since comm may contain spaces and parentheses.
  std::size_t paren = line.rfind(')');
  if (paren == std::string::npos || paren + 2 >= line.size()) {
    return false;
  }
  char state = line[paren + 2];
  return state != 'Z' && state != 'X';
}

std::optional<std::vector<std::string>> process_cmdline(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  if (!file) {
    return std::nullopt;
  }
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (content.empty()) {
    return std::nullopt;  // a zombie or a kernel thread
  }
  std::vector<std::string> argv;
  std::size_t start = 0;
  while (start < content.size()) {
    std::size_t end = content.find('\0', start);
    if (end == std::string::npos) {
      end = content.size();
    }
    argv.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

Result<void> terminate_process(pid_t pid, Clock& clock, Duration grace) {
  auto wait_gone = [&](TimePoint deadline) {
    while (process_alive(pid)) {
      if (clock.now() >= deadline) {
        return false;
      }
      clock.sleep_until(std::min(deadline, clock.now() + kPollInterval));
    }
    return true;
  };
  if (!process_alive(pid)) {
    return {};
  }
  if (kill(pid, SIGTERM) != 0 && errno == ESRCH) {
    return {};
  }
  if (wait_gone(clock.now() + grace)) {
    return {};
  }
  kill(pid, SIGKILL);
  if (wait_gone(clock.now() + grace)) {
    return {};
  }
  return fail(ErrorKind::timeout, fmt::format("pid {} did not exit after SIGTERM and SIGKILL", pid));
}

std::optional<std::filesystem::path> find_executable(std::string_view name) {
  auto executable = [](const std::filesystem::path& path) {
    return access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path);
  };
  if (name.find('/') != std::string_view::npos) {
    std::filesystem::path path(name);
    if (executable(path)) {
      return std::filesystem::absolute(path);
    }
    return std::nullopt;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view paths = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (!paths.empty()) {
    std::size_t colon = paths.find(':');
    std::string_view dir = paths.substr(0, colon);
    paths.remove_prefix(colon == std::string_view::npos ? paths.size() : colon + 1);
    if (dir.empty()) {
      continue;
    }
    std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (executable(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::string tail_of_file(const std::filesystem::path& file, std::size_t max_lines) {
  std::ifstream in(file);
  if (!in) {
    return {};
  }
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) {
      continue;
    }
    lines.push_back(line);
    if (lines.size() > max_lines) {
      lines.pop_front();
    }
  }
  std::string joined;
  for (const std::string& kept : lines) {
    joined += (joined.empty() ? "" : " | ") + kept;
  }
  return joined;
}

Result<void> run_to_completion(const std::vector<std::string>& argv, const std::filesystem::path& log,
                               std::string_view who, std::string_view package) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::string log_path = log.string();
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return fail(ErrorKind::unavailable, fmt::format("{}: cannot run \"{}\": {} (Debian package {})", who,
                                                    argv[0], std::strerror(rc), package));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(ErrorKind::io,
                fmt::format("{}: \"{} {}\" failed; see {}: {}", who, argv[0], argv.size() > 1 ? argv[1] : "",
                            log.string(), tail_of_file(log, 3)));
  }
  return {};
}

}  // namespace kp::lab
