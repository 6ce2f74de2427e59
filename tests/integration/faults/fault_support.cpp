#include "fault_support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace kp::faults {
namespace {

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int pidfd_open(pid_t pid) {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

// Waits until `fd` is readable or `timeout` passes; true when readable.
bool readable_within(int fd, Duration timeout) {
  const TimePoint deadline = real_clock().now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - real_clock().now());
    pollfd entry{fd, POLLIN, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (ready > 0) {
      return true;
    }
    if (ready == 0 || (ready < 0 && errno != EINTR)) {
      return false;
    }
  }
}

}  // namespace

TempDir::TempDir(std::string_view prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / fmt::format("{}-XXXXXX", prefix)).string();
  if (char* made = ::mkdtemp(pattern.data()); made != nullptr) {
    path_ = made;
  }
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) {
    std::filesystem::remove_all(path_, ignored);
  }
}

Running::Running(const std::filesystem::path& work_dir, std::vector<std::string> args) {
  args.insert(args.begin(), KP_BINARY);
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (!text.starts_with("KUBEPROOF_") && !text.starts_with("NO_COLOR=")) {
      env.emplace_back(text);
    }
  }
  std::vector<char*> envp;
  for (std::string& entry : env) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  const std::string dir = work_dir.string();
  int out[2];
  int err[2];
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    return;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::chdir(dir.c_str()) != 0 || ::dup2(in, 0) < 0 || ::dup2(out[1], 1) < 0 ||
        ::dup2(err[1], 2) < 0) {
      ::_exit(127);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  if (pid_ < 0) {
    ::close(out[0]);
    ::close(err[0]);
    return;
  }
  pidfd_ = pidfd_open(pid_);
  // Each reader ends at end of file, or, once the run has been reaped, when nothing more comes for a moment:
  // a grandchild that kept our pipe open must not hang the test.
  auto reader = [this](int fd, bool is_err) {
    char buffer[4096];
    for (;;) {
      pollfd entry{fd, POLLIN, 0};
      const int ready = ::poll(&entry, 1, 100);
      if ((ready == 0 && reaped_.load()) || (ready < 0 && errno != EINTR)) {
        break;
      }
      if (ready <= 0) {
        continue;
      }
      const ssize_t got = ::read(fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      std::lock_guard lock(mutex_);
      if (got <= 0) {
        break;
      }
      (is_err ? err_ : out_).append(buffer, static_cast<std::size_t>(got));
      changed_.notify_all();
    }
    std::lock_guard lock(mutex_);
    if (is_err) {
      err_closed_ = true;
    }
    changed_.notify_all();
    ::close(fd);
  };
  out_reader_ = std::thread(reader, out[0], false);
  err_reader_ = std::thread(reader, err[0], true);
}

Running::~Running() {
  if (pid_ > 0 && !done_) {
    ::kill(pid_, SIGKILL);
    reap();
  }
  if (out_reader_.joinable()) {
    out_reader_.join();
  }
  if (err_reader_.joinable()) {
    err_reader_.join();
  }
  if (pidfd_ >= 0) {
    ::close(pidfd_);
  }
}

void Running::reap() {
  int status = 0;
  pid_t got = 0;
  while ((got = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  done_ = true;
  reaped_.store(true);
  if (got == pid_ && WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (got == pid_ && WIFSIGNALED(status)) {
    signal_ = WTERMSIG(status);
  }
}

bool Running::wait_for_stderr(std::string_view needle, Duration timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_until(lock, std::chrono::steady_clock::now() + timeout, [&] {
    return err_.find(needle) != std::string::npos || err_closed_;
  }) && err_.find(needle) != std::string::npos;
}

void Running::wait_stderr_grows(std::size_t seen, Duration timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, std::chrono::steady_clock::now() + timeout,
                      [&] { return err_.size() > seen || err_closed_; });
}

std::optional<int> Running::wait(Duration timeout) {
  if (pid_ <= 0) {
    return std::nullopt;
  }
  if (!done_) {
    if (pidfd_ >= 0 && !readable_within(pidfd_, timeout)) {
      ::kill(pid_, SIGKILL);
      reap();
      return std::nullopt;
    }
    reap();
  }
  // Output still in the pipes belongs to the run.
  if (out_reader_.joinable()) {
    out_reader_.join();
  }
  if (err_reader_.joinable()) {
    err_reader_.join();
  }
  return exit_code_;
}

void Running::send(int signal_number) const {
  if (pid_ > 0 && !done_) {
    ::kill(pid_, signal_number);
  }
}

std::string Running::out() {
  std::lock_guard lock(mutex_);
  return out_;
}

std::string Running::err() {
  std::lock_guard lock(mutex_);
  return err_;
}

FaultyPeer::FaultyPeer(Fault fault, bool udp, std::uint32_t seed) : fault_(fault), udp_(udp), seed_(seed) {
  listen_fd_ = ::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
  if (listen_fd_ < 0 || stop_fd_ < 0) {
    return;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      (!udp && ::listen(listen_fd_, 1024) != 0) ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

FaultyPeer::~FaultyPeer() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  for (int fd : {listen_fd_, stop_fd_}) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
}

std::string FaultyPeer::address() const {
  return fmt::format("127.0.0.1:{}", port_);
}

std::uint64_t FaultyPeer::contacts() const {
  std::lock_guard lock(mutex_);
  return contacts_;
}

void FaultyPeer::serve() {
  std::mt19937 random(seed_);
  auto garbage = [&random](std::size_t max) {
    std::string bytes(1 + random() % max, '\0');
    for (char& byte : bytes) {
      byte = static_cast<char>(random() & 0xff);
    }
    return bytes;
  };
  std::vector<int> connections;
  for (;;) {
    std::vector<pollfd> fds = {{stop_fd_, POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (int fd : connections) {
      fds.push_back({fd, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    if (fds[0].revents != 0) {
      break;
    }
    char buffer[65536];
    if (fds[1].revents != 0) {
      if (udp_) {
        sockaddr_in from{};
        socklen_t length = sizeof from;
        ssize_t got = 0;
        while ((got = ::recvfrom(listen_fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from),
                                 &length)) >= 0) {
          std::lock_guard lock(mutex_);
          ++contacts_;
          if (fault_ == Fault::garbage) {
            const std::string reply = garbage(512);
            ::sendto(listen_fd_, reply.data(), reply.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                     length);
          }
          length = sizeof from;
        }
      } else {
        int fd = -1;
        while ((fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
          {
            std::lock_guard lock(mutex_);
            ++contacts_;
          }
          if (fault_ == Fault::garbage) {
            const std::string reply = garbage(4096);
            [[maybe_unused]] ssize_t n = ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
          }
          connections.push_back(fd);
        }
      }
    }
    std::vector<int> closed;
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) {
        continue;
      }
      const ssize_t got = ::recv(fds[i].fd, buffer, sizeof buffer, 0);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        closed.push_back(fds[i].fd);
      } else if (got > 0 && fault_ == Fault::garbage) {
        // Every request gets more garbage; a stalled peer reads (so the client's writes never block on a
        // full window) and never answers.
        const std::string reply = garbage(4096);
        [[maybe_unused]] ssize_t n = ::send(fds[i].fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      }
    }
    for (int fd : closed) {
      ::close(fd);
      connections.erase(std::find(connections.begin(), connections.end(), fd));
    }
  }
  for (int fd : connections) {
    ::close(fd);
  }
}

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      continue;
    }
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    const std::string stat = slurp(entry.path() / "stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent && state != "Z") {
      found.push_back(static_cast<pid_t>(std::atoi(name.c_str())));
    }
  }
  return found;
}

std::vector<pid_t> descendants_of(pid_t root) {
  std::vector<pid_t> all;
  std::vector<pid_t> frontier = {root};
  while (!frontier.empty()) {
    const pid_t next = frontier.back();
    frontier.pop_back();
    for (pid_t child : children_of(next)) {
      all.push_back(child);
      frontier.push_back(child);
    }
  }
  return all;
}

std::string cmdline_of(pid_t pid) {
  std::string text = slurp(fmt::format("/proc/{}/cmdline", pid));
  std::replace(text.begin(), text.end(), '\0', ' ');
  return text;
}

bool is_alive(pid_t pid) {
  const std::string stat = slurp(fmt::format("/proc/{}/stat", pid));
  const std::size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

bool gone_within(pid_t pid, Duration timeout) {
  // A pidfd becomes readable when the process exits, also for one that is not our child.
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    return errno == ESRCH || !is_alive(pid);
  }
  pollfd exited{pidfd, POLLIN, 0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  int ready = 0;
  do {
    ready = ::poll(&exited, 1, static_cast<int>(ms));
  } while (ready < 0 && errno == EINTR);
  ::close(pidfd);
  return ready > 0 || !is_alive(pid);
}

std::optional<pid_t> wait_for_child(Running& parent, std::string_view needle, Duration timeout) {
  const TimePoint deadline = real_clock().now() + timeout;
  for (;;) {
    for (pid_t child : children_of(parent.pid())) {
      if (cmdline_of(child).find(needle) != std::string::npos) {
        return child;
      }
    }
    if (real_clock().now() >= deadline || parent.exited()) {
      return std::nullopt;
    }
    // No notification exists for a new process; wake on the parent's output or every 20 ms.
    const std::size_t seen = parent.err().size();
    parent.wait_stderr_grows(seen, std::chrono::milliseconds(20));
  }
}

std::string LabService::endpoint(std::string_view role) const {
  for (const auto& [name, value] : endpoints) {
    if (name == role) {
      return value;
    }
  }
  return "";
}

std::string lab_up(const std::filesystem::path& lab_dir, const std::vector<std::string>& services) {
  std::vector<std::string> args = {"lab", "--lab-dir", lab_dir.string(), "up"};
  for (const std::string& service : services) {
    args.push_back("--service");
    args.push_back(service);
  }
  Running up(lab_dir.parent_path(), args);
  const std::optional<int> code = up.wait(std::chrono::seconds(60));
  if (code == 0) {
    return "";
  }
  return fmt::format("lab up exited {}: {}{}", code ? std::to_string(*code) : "(timeout)", up.out(),
                     up.err());
}

void lab_down(const std::filesystem::path& lab_dir) {
  Running down(lab_dir.parent_path(), {"lab", "--lab-dir", lab_dir.string(), "down"});
  down.wait(std::chrono::seconds(60));
}

std::optional<LabService> lab_service(const std::filesystem::path& lab_dir, std::string_view name) {
  const nlohmann::json record =
      nlohmann::json::parse(slurp(lab_dir / std::string(name) / "service.json"), nullptr, false);
  if (record.is_discarded() || !record.is_object()) {
    return std::nullopt;
  }
  LabService service;
  service.name = std::string(name);
  service.pid = record.value("pid", 0);
  service.command = record.value("command", std::vector<std::string>{});
  service.log_file = record.value("log_file", std::string());
  // A named copy: items() of a temporary would dangle in the range-for.
  const nlohmann::json endpoints = record.value("endpoints", nlohmann::json::object());
  for (const auto& [role, value] : endpoints.items()) {
    service.endpoints.emplace_back(role, value.get<std::string>());
  }
  return service;
}

void kill_group(pid_t leader) {
  const int pidfd = pidfd_open(leader);
  ::kill(-leader, SIGKILL);
  ::kill(leader, SIGKILL);
  if (pidfd >= 0) {
    // Not our child when `lab up` started it: the pidfd says when it is gone.
    readable_within(pidfd, std::chrono::seconds(10));
    ::close(pidfd);
  }
  int status = 0;
  ::waitpid(leader, &status, WNOHANG);
}

pid_t restart(const LabService& service) {
  std::vector<std::string> args = service.command;
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const std::string log = service.log_file.string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) {
      ::_exit(127);
    }
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  return pid;
}

bool reap_child(pid_t pid, Duration timeout) {
  const int pidfd = pidfd_open(pid);
  const bool ended = pidfd < 0 || readable_within(pidfd, timeout);
  if (pidfd >= 0) {
    ::close(pidfd);
  }
  int status = 0;
  return ended && ::waitpid(pid, &status, 0) == pid;
}

ReportCheck check_report(const std::filesystem::path& results_dir) {
  ReportCheck check;
  std::vector<std::filesystem::path> folders;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(results_dir, error)) {
    if (entry.is_directory()) {
      folders.push_back(entry.path());
    }
  }
  if (folders.size() != 1) {
    check.problem = fmt::format("{} results folders in {}", folders.size(), results_dir.string());
    return check;
  }
  for (const char* name : {"report.json", "report.html", "junit.xml", "summary.md", "metrics.prom"}) {
    if (!std::filesystem::exists(folders[0] / name) || std::filesystem::file_size(folders[0] / name) == 0) {
      check.problem = fmt::format("{} missing or empty", name);
      return check;
    }
  }
  if (slurp(folders[0] / "junit.xml").find("</testsuites>") == std::string::npos) {
    check.problem = "junit.xml is cut short";
    return check;
  }
  const nlohmann::json report = nlohmann::json::parse(slurp(folders[0] / "report.json"), nullptr, false);
  if (report.is_discarded() || report.value("schema", "") != "kubeproof.report" ||
      !report.contains("overall")) {
    check.problem = "report.json does not parse as a report";
    return check;
  }
  check.complete = true;
  check.overall = report["overall"].value("verdict", "");
  check.exit_code = report["overall"].value("exit_code", -1);
  return check;
}

std::vector<std::string> junk_in(const std::filesystem::path& results_dir) {
  std::vector<std::string> junk;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(results_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(".") || (entry.is_regular_file() && entry.file_size() == 0)) {
      junk.push_back(entry.path().string());
    }
  }
  return junk;
}

}  // namespace kp::faults
