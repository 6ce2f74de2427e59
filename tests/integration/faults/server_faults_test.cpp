// Issue 18 item 3: per phase, the server is killed mid-phase, restarted mid-phase, answers garbage or stalls
// (accepts and never answers); fio is killed. Each run is the real `kubeproof run --only PHASE` of a 3 s
// phase against services of the test's own (a lab in a temp dir on free ports, or a faulty peer on an
// ephemeral port), so killing them breaks no other test. Expected every time: the run ends within the
// phase's duration plus a bounded grace, the verdict is FAIL or INVALID with a reason (never PASS), or the
// driver's own error when the server was broken before the load started, errors are counted, the reports
// are written whole, and nothing the run started is left running.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <ostream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "lab/netns.hpp"
#include "phase_runs.hpp"

namespace kp::faults {
namespace {

// The moment of a fault within the phase: a point in time the test chooses, not a wait for something.
void at(Duration after_start) {
  std::this_thread::sleep_for(after_start);
}

std::string missing(const std::vector<const char*>& tools) {
  for (const char* tool : tools) {
    bool found = false;
    for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"}) {
      found = found || ::access((std::string(dir) + tool).c_str(), X_OK) == 0;
    }
    if (!found) {
      return fmt::format("needs {} (scripts/install-deps.sh)", tool);
    }
  }
  return "";
}

// A folder of the test's own with the lab dir `kubeproof run --lab-dir` requires (empty unless started), and
// what the test started again (restarts), stopped at the end.
class FaultFixture {
 protected:
  ~FaultFixture() {
    for (pid_t pid : restarted_) {
      kill_group(pid);
      reap_child(pid, std::chrono::seconds(10));
    }
    if (lab_started_) {
      lab_down(lab());
    }
  }
  std::filesystem::path lab() const { return dir_.path() / "lab"; }

  TempDir dir_{"kpflt-server"};
  bool lab_started_ = false;
  std::vector<pid_t> restarted_;
};

// --- the lab services and faulty peers, one table ---------------------------------------------------------

enum class Break {
  killed,     // the lab's server process group is killed 1.5 s into the phase
  restarted,  // killed as above, and the same command started again 300 ms later
  garbage,    // a peer of the test's own answers every request with random bytes
  stall,      // a peer of the test's own accepts (or takes datagrams) and never answers
};

struct ServerCase {
  const char* name;  // the test's name
  const char* phase;
  Break fault;
  // The lab services to start (the last is the one killed), and the binary they need; empty for a peer.
  std::vector<std::string> lab;
  const char* tool;
  // The phase's settings (a YAML flow mapping's contents): `bounds` always, `peer_key` naming the peer's
  // address where the fault is a peer (its value is `peer_value`, "{}" standing for 127.0.0.1:PORT).
  const char* bounds;
  const char* peer_key;
  const char* peer_value;
  bool udp;
  // The informational or judged row that must have counted the failures; empty: the driver fails before the
  // load starts (a server broken from the first byte), and its reason must say which server and what.
  const char* errors_row;
  // In the driver's reason when errors_row is empty: what it found ("{}" stands for 127.0.0.1:PORT).
  const char* said;
};

std::ostream& operator<<(std::ostream& out, const ServerCase& param) {
  return out << param.name;
}

// request_timeout bounds a call to a dead or silent etcd; failure_window ends a stage no request succeeds in.
constexpr const char* kEtcdBounds = "failure_window: 1s, request_timeout: 500ms";
constexpr const char* kDnsBounds = "failure_window: 1s, timeout: 500ms";
constexpr const char* kIngressBounds = "timeout: 500ms";

class ServerFaults : public FaultFixture, public ::testing::TestWithParam<ServerCase> {
 protected:
  // Kills the service at `kill_after` and, for a restart, starts the same command again `down_for` later.
  std::function<void(Running&)> kill_then(const std::string& name, Duration kill_after,
                                          std::optional<Duration> down_for) {
    LabService victim = lab_service(lab(), name).value_or(LabService{});
    return [this, victim, kill_after, down_for](Running&) {
      at(kill_after);
      kill_group(victim.pid);
      if (down_for) {
        at(*down_for);
        restarted_.push_back(restart(victim));
      }
    };
  }
};

TEST_P(ServerFaults, EndsClearlyWithTheErrorsCounted) {
  const ServerCase& param = GetParam();
  std::optional<FaultyPeer> peer;
  std::string settings = param.bounds;
  std::function<void(Running&)> during;
  if (param.fault == Break::garbage || param.fault == Break::stall) {
    peer.emplace(param.fault == Break::garbage ? Fault::garbage : Fault::stall, param.udp, 18);
    ASSERT_TRUE(peer->ok());
    settings = fmt::format("{}: {}, {}", param.peer_key,
                           fmt::format(fmt::runtime(param.peer_value), peer->address()), param.bounds);
  } else {
    if (std::string why = missing({param.tool}); !why.empty()) {
      GTEST_SKIP() << why;
    }
    lab_started_ = true;
    ASSERT_EQ(lab_up(lab(), param.lab), "");
    during =
        kill_then(param.lab.back(), std::chrono::milliseconds(1500),
                  param.fault == Break::restarted ? std::optional<Duration>(std::chrono::milliseconds(300))
                                                  : std::nullopt);
  }
  PhaseOutcome outcome = run_phase(dir_.path(), param.phase, fmt::format("{{{}}}", settings), during);
  expect_clear_failure(outcome, param.phase);
  if (*param.errors_row != '\0') {
    EXPECT_GT(measured(outcome.phase, param.errors_row).value_or(0), 0) << outcome.phase.dump(1);
  } else {
    // Broken before the load started: the phase is the driver's error, and its reason says what happened.
    EXPECT_EQ(outcome.phase.value("status", ""), "error") << outcome.phase.dump(1);
    const std::string said = fmt::format(fmt::runtime(param.said), peer ? peer->address() : "");
    EXPECT_NE(reasons_of(outcome.phase).find(said), std::string::npos)
        << "expected \"" << said << "\" in: " << reasons_of(outcome.phase);
  }
  if (peer) {
    EXPECT_GT(peer->contacts(), 0u);
  }
  expect_nothing_left(outcome);
}

// One row a case: name, phase, fault, lab services (the last one killed), the binary they need, the settings'
// bounds, the peer's settings key and value, UDP, the row that counts the errors or the driver's reason.
// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Servers, ServerFaults,
    ::testing::Values(
        ServerCase{"EtcdKilledMidPhase", "etcd", Break::killed, {"etcd"}, "etcd", kEtcdBounds, "", "", false, "etcd.error_rate", ""},
        ServerCase{"EtcdRestartedMidPhase", "etcd", Break::restarted, {"etcd"}, "etcd", kEtcdBounds, "", "", false, "etcd.error_rate", ""},
        ServerCase{"EtcdAnswersGarbage", "etcd", Break::garbage, {}, "", kEtcdBounds, "endpoints", "[{}]", false, "", "prepare failed: etcd {}: "},
        ServerCase{"EtcdStalls", "etcd", Break::stall, {}, "", kEtcdBounds, "endpoints", "[{}]", false, "", "prepare failed: etcd {}: "},
        ServerCase{"UnboundKilledMidPhase", "dns", Break::killed, {"unbound-zone", "unbound"}, "unbound", kDnsBounds, "", "", false, "dns.loss_rate", ""},
        ServerCase{"UnboundRestartedMidPhase", "dns", Break::restarted, {"unbound-zone", "unbound"}, "unbound", kDnsBounds, "", "", false, "dns.loss_rate", ""},
        ServerCase{"DnsServerAnswersGarbage", "dns", Break::garbage, {}, "", kDnsBounds, "server", "\"{}\"", true, "dns.loss_rate", ""},
        ServerCase{"DnsServerStalls", "dns", Break::stall, {}, "", kDnsBounds, "server", "\"{}\"", true, "dns.loss_rate", ""},
        ServerCase{"NginxKilledMidPhase", "ingress", Break::killed, {"nginx"}, "nginx", kIngressBounds, "", "", false, "ingress.error_rate_5xx", ""},
        ServerCase{"NginxRestartedMidPhase", "ingress", Break::restarted, {"nginx"}, "nginx", kIngressBounds, "", "", false, "ingress.error_rate_5xx", ""},
        ServerCase{"IngressAnswersGarbage", "ingress", Break::garbage, {}, "", kIngressBounds, "url", "\"http://{}/\"", false, "", "prepare failed: ingress: http://{}/: "},
        ServerCase{"IngressStalls", "ingress", Break::stall, {}, "", kIngressBounds, "url", "\"http://{}/\"", false, "", "prepare failed: ingress: http://{}/: "}),
    [](const ::testing::TestParamInfo<ServerCase>& info) { return std::string(info.param.name); });
// clang-format on

// --- storage (fio) ----------------------------------------------------------------------------------------

class FioFaults : public FaultFixture, public ::testing::Test {};

TEST_F(FioFaults, KilledMidPhase) {
  if (std::string why = missing({"fio"}); !why.empty()) {
    GTEST_SKIP() << why;
  }
  std::filesystem::create_directories(dir_.path() / "volume");
  PhaseOutcome outcome = run_phase(
      dir_.path(), "storage",
      fmt::format(
          "{{volume: \"{}\", size: 16MiB, runtime: 1s, ramp_time: 0s, etcd_size: 1MiB, direct: false}}",
          (dir_.path() / "volume").string()),
      [](Running& run) {
        // A job run (not prepare's `fio --version`): its JSON output flag names it.
        std::optional<pid_t> fio = wait_for_child(run, "--output-format", std::chrono::seconds(20));
        ASSERT_TRUE(fio.has_value()) << run.err();
        // fio forks its job workers: the whole group, as an OOM kill or a crash would end it.
        ::kill(-*fio, SIGKILL);
        ::kill(*fio, SIGKILL);
      });
  expect_clear_failure(outcome, "storage");
  EXPECT_NE(reasons_of(outcome.phase).find("fio"), std::string::npos) << reasons_of(outcome.phase);
  expect_nothing_left(outcome);
  // No scratch files left on the volume.
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path() / "volume"));
}

// --- network (the net-server agent) -----------------------------------------------------------------------

// Network namespaces of this suite's own (kpflt-s*), so killing the agent in them touches no other test. The
// parameter: whether the killed net-server is started again 300 ms later.
class NetServerFaults : public FaultFixture, public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || !missing({"ip", "nft"}).empty()) {
      GTEST_SKIP() << "needs root, ip and nft for network namespaces";
    }
    layout_.client_ns = "kpflt-sa";
    layout_.server_ns = "kpflt-sb";
    layout_.client_if = "kpflt-sva";
    layout_.server_if = "kpflt-svb";
    layout_.client_ip = "10.239.2.1";
    layout_.server_ip = "10.239.2.2";
    layout_.service_ip = "10.239.3.10";
    for (const std::string& ns : {layout_.client_ns, layout_.server_ns}) {
      const std::string command = fmt::format("ip netns del {} 2>/dev/null", ns);
      [[maybe_unused]] int ignored = std::system(command.c_str());
    }
    lab_started_ = true;
    Result<lab::NetnsRecord> made = lab::netns_up(lab(), layout_, real_clock());
    ASSERT_TRUE(made.has_value()) << made.error().message;
  }
  void TearDown() override { static_cast<void>(lab::netns_down(lab(), real_clock())); }
  // The run's net-server, killed `after` the phase started; restarted in its namespace `down_for` later.
  std::function<void(Running&)> kill_server(Duration after, std::optional<Duration> down_for) {
    return [this, after, down_for](Running& run) {
      std::optional<pid_t> server = wait_for_child(run, "net-server", std::chrono::seconds(20));
      ASSERT_TRUE(server.has_value()) << run.err();
      at(after);
      for (pid_t child : children_of(run.pid())) {
        if (cmdline_of(child).find("net-server") != std::string::npos) {
          ::kill(child, SIGKILL);
        }
      }
      if (down_for) {
        at(*down_for);
        LabService again;
        again.command = {"ip",
                         "netns",
                         "exec",
                         layout_.server_ns,
                         KP_BINARY,
                         "agent",
                         "net-server",
                         "--listen",
                         fmt::format("0.0.0.0:{}", layout_.server_port)};
        again.log_file = dir_.path() / "net-server-again.log";
        restarted_.push_back(restart(again));
      }
    };
  }
  lab::NetnsLayout layout_;
};

TEST_P(NetServerFaults, KilledMidPhase) {
  const std::optional<Duration> down_for =
      GetParam() ? std::optional<Duration>(std::chrono::milliseconds(300)) : std::nullopt;
  PhaseOutcome outcome =
      run_phase(dir_.path(), "network", "{warmup: 100ms, connect_timeout: 1s, response_timeout: 500ms}",
                kill_server(std::chrono::milliseconds(800), down_for));
  expect_clear_failure(outcome, "network");
  expect_nothing_left(outcome);
}

INSTANTIATE_TEST_SUITE_P(Agents, NetServerFaults, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "Restarted" : "NotRestarted");
                         });

// A garbage or silent peer in place of net-server: the client agent (what the phase runs per test) ends in
// bounded time with its one JSON failure line and a non-zero exit, never hangs.
class NetClientFaults : public ::testing::TestWithParam<Fault> {};

TEST_P(NetClientFaults, ClientGivesUp) {
  FaultyPeer peer(GetParam(), false, 18);
  ASSERT_TRUE(peer.ok());
  TempDir work("kpflt-net-client");
  for (const char* scenario : {"TCP_STREAM", "TCP_RR", "UDP_RR"}) {
    SCOPED_TRACE(scenario);
    const TimePoint start = real_clock().now();
    Running client(work.path(),
                   {"agent", "net-client", "--server", peer.address(), "--scenario", scenario, "--duration",
                    "1s", "--connect-timeout", "1s", "--response-timeout", "500ms"});
    const std::optional<int> code = client.wait(std::chrono::seconds(20));
    ASSERT_TRUE(code.has_value()) << "net-client did not end in 20 s; stderr:\n" << client.err();
    EXPECT_LT(real_clock().now() - start, std::chrono::seconds(20));
    EXPECT_EQ(*code, 4) << client.out() << client.err();
    const nlohmann::json line = nlohmann::json::parse(client.out(), nullptr, false);
    ASSERT_TRUE(line.is_object()) << "stdout: " << client.out() << "\nstderr: " << client.err();
    EXPECT_TRUE(line.contains("error") || !line.value("complete", true)) << line.dump();
  }
  EXPECT_GT(peer.contacts(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Peers, NetClientFaults, ::testing::Values(Fault::garbage, Fault::stall),
                         [](const ::testing::TestParamInfo<Fault>& info) {
                           return std::string(info.param == Fault::garbage ? "ServerAnswersGarbage"
                                                                           : "ServerStalls");
                         });

}  // namespace
}  // namespace kp::faults
