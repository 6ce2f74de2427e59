// A real CPU quota: the net-client agent runs in a cgroup of its own limited to 5 % of a CPU (cgroup v1
// cpu.cfs_quota_us or v2 cpu.max, whichever this host has), against a net-server outside it. Its line must
// say the quota, the thread count it leaves (1), and the throttling cpu.stat counted during the run, and the
// net phase's validity rule must then call the run INVALID for it. Needs root and a writable cpu controller:
// skipped with the reason otherwise. About 2 s.

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "cli_runner.hpp"
#include "core/cpu_budget.hpp"

namespace kp::cli::testing {
namespace {

namespace fs = std::filesystem;

bool write_text(const fs::path& path, std::string_view text) {
  std::ofstream out(path);
  out << text;
  out.close();
  return static_cast<bool>(out);
}

// A cgroup limited to 5 ms of CPU per 100 ms, removed at the end.
class LimitedCgroup {
 public:
  LimitedCgroup() {
    const CpuBudget own = read_cpu_budget();
    if (::geteuid() != 0 || own.cgroup_version == 0) {
      why_not_ = "needs root and a cgroup cpu controller";
      return;
    }
    // Under the hierarchy's mount: the process's own cgroup may hold a quota of its own, which is fine.
    path_ = fs::path(own.cgroup) / ("kp-throttle-test-" + std::to_string(::getpid()));
    std::error_code error;
    if (!fs::create_directory(path_, error)) {
      why_not_ = "cannot create " + path_.string() + ": " + error.message();
      path_.clear();
      return;
    }
    const bool limited = own.cgroup_version == 2 ? write_text(path_ / "cpu.max", "5000 100000")
                                                 : write_text(path_ / "cpu.cfs_quota_us", "5000");
    if (!limited) {
      why_not_ = "cannot set a CPU quota on " + path_.string();
    }
  }
  ~LimitedCgroup() {
    if (!path_.empty()) {
      ::rmdir(path_.c_str());  // empty again once the child has exited
    }
  }
  const std::string& why_not() const { return why_not_; }
  fs::path procs() const { return path_ / "cgroup.procs"; }

 private:
  fs::path path_;
  std::string why_not_;
};

// Starts the binary with stdout on a pipe; `cgroup_procs` non-empty: the child moves itself in first.
pid_t spawn(std::vector<std::string> args, const std::string& cgroup_procs, int& out_fd) {
  args.insert(args.begin(), KP_BINARY);
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return -1;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    if (!cgroup_procs.empty()) {
      const int procs = ::open(cgroup_procs.c_str(), O_WRONLY);
      if (procs < 0 || ::write(procs, "0", 1) != 1) {
        ::_exit(126);
      }
      ::close(procs);
    }
    const int null = ::open("/dev/null", O_WRONLY);
    if (::dup2(out[1], 1) < 0 || null < 0 || ::dup2(null, 2) < 0) {
      ::_exit(127);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  out_fd = out[0];
  return child;
}

std::string read_line(int fd) {
  std::string line;
  char c = 0;
  while (::read(fd, &c, 1) == 1 && c != '\n') {
    line += c;
  }
  return line;
}

TEST(AgentThrottling, AQuotaThrottledClientSaysSoAndIsInvalid) {
  LimitedCgroup cgroup;
  if (!cgroup.why_not().empty()) {
    GTEST_SKIP() << cgroup.why_not();
  }
  int server_out = -1;
  const pid_t server = spawn({"agent", "net-server", "--listen", "127.0.0.1:0", "--once"}, "", server_out);
  ASSERT_GT(server, 0);
  const nlohmann::json listening = nlohmann::json::parse(read_line(server_out), nullptr, false);
  ASSERT_TRUE(listening.is_object() && listening.contains("listening"));
  int client_out = -1;
  const pid_t client = spawn({"agent", "net-client", "--server", listening["listening"].get<std::string>(),
                              "--scenario", "TCP_RR", "--duration", "1500ms", "--warmup", "200ms"},
                             cgroup.procs().string(), client_out);
  ASSERT_GT(client, 0);
  const std::string text = read_line(client_out);
  int status = 0;
  ::waitpid(client, &status, 0);
  ::waitpid(server, nullptr, 0);
  ::close(server_out);
  ::close(client_out);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 126) << "could not join the cgroup";
  const nlohmann::json line = nlohmann::json::parse(text, nullptr, false);
  ASSERT_TRUE(line.is_object()) << text;
  ASSERT_TRUE(line.contains("cpu_budget")) << text;
  const nlohmann::json& budget = line["cpu_budget"];
  EXPECT_DOUBLE_EQ(budget.value("quota_cpus", 0.0), 0.05) << budget.dump();
  EXPECT_EQ(budget.value("usable_cpus", 0), 1);
  EXPECT_EQ(budget.value("threads", 0), 1);  // one stream, one thread
  ASSERT_TRUE(budget["throttling"].is_object()) << budget.dump();
  EXPECT_GT(budget["throttling"].value("periods", 0), 0) << budget.dump();
  // A closed-loop TCP_RR client wants far more than 5 % of a CPU: it is stopped in most periods.
  EXPECT_GT(budget["throttling"].value("share", 0.0), 0.05) << budget.dump();
  EXPECT_GT(budget["throttling"].value("throttled_s", 0.0), 0.0) << budget.dump();
  ASSERT_TRUE(line.contains("invalid_reasons")) << text;
  EXPECT_NE(line["invalid_reasons"].dump().find("CPU quota throttled it"), std::string::npos) << text;
}

}  // namespace
}  // namespace kp::cli::testing
