#pragma once

// Helpers of the fault tests (issue 18 item 3): the real kubeproof binary run in the background with its
// output captured as it comes, faulty peers (a TCP or UDP listener that answers garbage or never answers:
// not a mock of the system under test but a broken server), the processes a run started, and services the
// test starts and kills itself. Everything is bounded in time; waits are on file descriptors (pidfd, pipes,
// poll), never sleeps.

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/clock.hpp"

namespace kp::faults {

// A folder of the test's own under $TMPDIR, removed at the end.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// kubeproof (KP_BINARY) with `args`, in `work_dir`, stdin /dev/null, stdout and stderr read by threads as
// they come. The destructor kills it (SIGKILL) if it still runs.
class Running {
 public:
  Running(const std::filesystem::path& work_dir, std::vector<std::string> args);
  ~Running();
  Running(const Running&) = delete;
  Running& operator=(const Running&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // True once `needle` has appeared on stderr, false if `timeout` passed or the process ended first.
  bool wait_for_stderr(std::string_view needle, Duration timeout);
  // The exit code; nullopt if it did not end within `timeout` (it is then killed) or died of a signal
  // (`signalled` says which).
  std::optional<int> wait(Duration timeout);
  // Returns when stderr is longer than `seen` bytes, it closed, or `timeout` passed.
  void wait_stderr_grows(std::size_t seen, Duration timeout);
  bool exited() const { return done_; }
  std::optional<int> signalled() const { return signal_; }
  void send(int signal_number) const;
  std::string out();
  std::string err();

 private:
  void reap();

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool done_ = false;
  std::atomic<bool> reaped_{false};
  std::optional<int> exit_code_;
  std::optional<int> signal_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string out_;
  std::string err_;
  bool err_closed_ = false;
  std::thread out_reader_;
  std::thread err_reader_;
};

// A broken server on 127.0.0.1 (an ephemeral port): `garbage` answers every connection (TCP) or datagram
// (UDP) with random bytes, `stall` accepts connections (or takes datagrams) and never answers.
enum class Fault { garbage, stall };

class FaultyPeer {
 public:
  FaultyPeer(Fault fault, bool udp, std::uint32_t seed);
  ~FaultyPeer();
  FaultyPeer(const FaultyPeer&) = delete;
  FaultyPeer& operator=(const FaultyPeer&) = delete;

  bool ok() const { return port_ != 0; }
  std::uint16_t port() const { return port_; }
  std::string address() const;  // "127.0.0.1:PORT"
  // What it saw: connections accepted (TCP) or datagrams received (UDP), and bytes sent.
  std::uint64_t contacts() const;

 private:
  void serve();

  Fault fault_;
  bool udp_;
  std::uint32_t seed_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::uint64_t contacts_ = 0;
  std::thread thread_;
};

// Processes on this host.
std::vector<pid_t> children_of(pid_t parent);
std::vector<pid_t> descendants_of(pid_t root);
std::string cmdline_of(pid_t pid);  // arguments joined by spaces; empty when gone
// Alive and not a zombie.
bool is_alive(pid_t pid);
// Whether `pid` is gone (or a zombie) within `timeout` (a pidfd tells of the exit, also of a process that is
// not our child).
bool gone_within(pid_t pid, Duration timeout);
// The first direct child of `parent` whose command line contains `needle`, waited for up to `timeout`
// (re-checked each time the parent's stderr grows, or every 20 ms: /proc has no change notification).
std::optional<pid_t> wait_for_child(Running& parent, std::string_view needle, Duration timeout);

// A lab service started with `kubeproof lab up --lab-dir DIR --service NAME`: its pid and command line, from
// service.json, so a test can kill its process group and start the same command again (a restart).
struct LabService {
  std::string name;
  pid_t pid = 0;
  std::vector<std::string> command;
  std::filesystem::path log_file;
  std::string endpoint(std::string_view role) const;
  std::vector<std::pair<std::string, std::string>> endpoints;
};

// Starts `services` in `lab_dir` (own free ports); an error message on failure.
std::string lab_up(const std::filesystem::path& lab_dir, const std::vector<std::string>& services);
void lab_down(const std::filesystem::path& lab_dir);
std::optional<LabService> lab_service(const std::filesystem::path& lab_dir, std::string_view name);
// Kills the service's whole process group (SIGKILL) and waits until it is gone.
void kill_group(pid_t leader);
// Starts the recorded command again (own session, output appended to its log); the new pid.
pid_t restart(const LabService& service);
// Waits up to `timeout` for `pid` (our child) to end; false if it still runs.
bool reap_child(pid_t pid, Duration timeout);

// The report: report.json of the run's results folder (`results/` under the work dir given --results).
struct ReportCheck {
  bool complete = false;  // parsed as a whole JSON document of the report schema
  std::string overall;    // overall.verdict
  int exit_code = -1;     // overall.exit_code
  std::string problem;    // why not complete
};
ReportCheck check_report(const std::filesystem::path& results_dir);
// Every file of the results folder that is a leftover temporary file ('.name.XXXXXX') or empty.
std::vector<std::string> junk_in(const std::filesystem::path& results_dir);

}  // namespace kp::faults
