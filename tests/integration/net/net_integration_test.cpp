// The network agent and phase between two network namespaces of their own (names unique to this process,
// removed at the end, whatever happens), joined by a veth pair, with the DNAT'ed service address. Needs root;
// skipped with the reason otherwise. Nothing sleeps to synchronise: the tests wait for lines the agents print
// (the server's "listening" line, the client's per-second progress), each wait with a deadline.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "drivers/net/agent_process.hpp"
#include "drivers/net/client.hpp"
#include "drivers/net/driver.hpp"
#include "drivers/net/lab_runner.hpp"
#include "drivers/net/socket.hpp"
#include "lab/netns.hpp"
#include "lab/process.hpp"

namespace kp::drivers::net {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const AgentCommand kAgent{KP_BINARY, {"agent", "net-server"}, {"agent", "net-client"}};

std::string skip_reason() {
  if (::geteuid() != 0) {
    return fmt::format("needs root to create network namespaces (running as uid {})", ::geteuid());
  }
  if (!lab::find_executable("ip")) {
    return "`ip` not found (Debian package iproute2)";
  }
  if (!lab::find_executable("nft")) {
    return "`nft` not found (Debian package nftables)";
  }
  return "";
}

// Runs `fn` on a thread that has entered the network namespace `name` (setns affects only that thread).
template <typename Fn>
void in_netns(const std::string& name, Fn fn) {
  std::thread thread([&] {
    const int fd = ::open(lab::netns_path(name).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << name;
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0);
    ::close(fd);
    fn();
  });
  thread.join();
}

// Runs a command to completion (tc, ip); its output for messages.
Result<void> run_command(const std::vector<std::string>& argv) {
  AgentSpawn spawn{*lab::find_executable(argv[0]), {argv.begin() + 1, argv.end()}, "", std::nullopt, false};
  Result<AgentProcess> process = AgentProcess::start(spawn);
  if (!process) {
    return std::unexpected(process.error());
  }
  const AgentExit exit = process->wait(real_clock(), real_clock().now() + seconds(20));
  if (exit.exit_code != 0) {
    return fail(ErrorKind::io, fmt::format("{} {}: {}", argv[0], exit.describe(), exit.err));
  }
  return {};
}

class NetLab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    reason_ = skip_reason();
    if (!reason_.empty()) {
      return;
    }
    remove_leftovers_of_dead_runs();
    state_dir_ = fs::temp_directory_path() / fmt::format("kp-net-it-{}", ::getpid());
    fs::remove_all(state_dir_);
    layout_ = test_layout(fmt::format("kpt{}", ::getpid()));
    Result<lab::NetnsRecord> up = lab::netns_up(state_dir_, layout_, real_clock());
    if (!up) {
      reason_ = "lab up failed: " + up.error().message;
      ADD_FAILURE() << reason_;
    }
  }

  static void TearDownTestSuite() {
    if (!state_dir_.empty()) {
      Result<std::vector<std::string>> down = lab::netns_down(state_dir_, real_clock());
      EXPECT_TRUE(down) << (down ? "" : down.error().message);
      EXPECT_FALSE(fs::exists(lab::netns_path(layout_.client_ns)));
      EXPECT_FALSE(fs::exists(lab::netns_path(layout_.server_ns)));
      fs::remove_all(state_dir_);
    }
  }

  void SetUp() override {
    if (!reason_.empty()) {
      GTEST_SKIP() << reason_;
    }
  }

  // A run killed before its teardown (a ctest timeout) leaves its namespaces behind. Ours are named
  // kpt<pid>a/b and kpu<pid>a/b: remove those whose process is gone, and nothing else.
  static void remove_leftovers_of_dead_runs() {
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator("/run/netns", ignored)) {
      const std::string name = entry.path().filename().string();
      if (name.size() < 5 || (!name.starts_with("kpt") && !name.starts_with("kpu")) ||
          (name.back() != 'a' && name.back() != 'b')) {
        continue;
      }
      const std::string digits = name.substr(3, name.size() - 4);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      const pid_t pid = static_cast<pid_t>(std::stol(digits));
      if (::kill(pid, 0) != 0 && errno == ESRCH) {
        EXPECT_TRUE(run_command({"ip", "netns", "del", name}));
        fs::remove_all(fs::temp_directory_path() / fmt::format("kp-net-it-{}", pid), ignored);
        fs::remove_all(fs::temp_directory_path() / fmt::format("kp-net-it-second-{}", pid), ignored);
      }
    }
  }

  static lab::NetnsLayout test_layout(const std::string& prefix) {
    lab::NetnsLayout layout;
    layout.client_ns = prefix + "a";
    layout.server_ns = prefix + "b";
    layout.client_if = prefix + "va";
    layout.server_if = prefix + "vb";
    layout.client_ip = "10.239.0.1";
    layout.server_ip = "10.239.0.2";
    layout.service_ip = "10.239.1.10";
    return layout;
  }

  // A server agent in the server namespace on its own port (tests do not share one).
  static LabServer start_server(std::uint16_t port, Duration hold = Duration::zero(), bool realtime = false) {
    Result<LabServer> server = start_lab_server(kAgent, layout_.server_ns, fmt::format("0.0.0.0:{}", port),
                                                hold, std::nullopt, real_clock(), seconds(10), realtime);
    EXPECT_TRUE(server) << (server ? "" : server.error().message);
    return std::move(*server);
  }

  static std::string pod(std::uint16_t port) { return fmt::format("{}:{}", layout_.server_ip, port); }

  static Result<ClientResult> run_client_process(const std::string& target, const TestSpec& spec) {
    engine::CancellationToken cancel;
    return run_lab_client(kAgent, layout_.client_ns, target, spec, seconds(3), std::nullopt, real_clock(),
                          cancel);
  }

  static TestSpec spec_of(Scenario scenario, Duration duration, Duration warmup = milliseconds(300)) {
    TestSpec spec;
    spec.scenario = scenario;
    spec.duration = duration;
    spec.warmup = warmup;
    if (scenario == Scenario::udp_stream) {
      spec.message_size = 1400;
    }
    return spec;
  }

  static inline std::string reason_;
  static inline fs::path state_dir_;
  static inline lab::NetnsLayout layout_;
};

TEST_F(NetLab, ByteCountsAgreeOnBothEndsOfTheVeth) {
  LabServer server = start_server(7410);
  TestSpec stream = spec_of(Scenario::tcp_stream, seconds(1));
  stream.streams = 2;
  Result<ClientResult> tcp = run_client_process(pod(7410), stream);
  ASSERT_TRUE(tcp) << tcp.error().message;
  ASSERT_TRUE(tcp->complete) << tcp->error;
  EXPECT_GT(tcp->bytes_sent, 0u);
  EXPECT_EQ(tcp->bytes_sent, tcp->server_report->bytes_received);
  EXPECT_GT(tcp->throughput_bps, 1e8);
  EXPECT_EQ(tcp->per_second_bps.size(), 1u);

  TestSpec udp = spec_of(Scenario::udp_stream, seconds(1));
  udp.bandwidth = Bandwidth{200e6};
  Result<ClientResult> datagrams = run_client_process(pod(7410), udp);
  ASSERT_TRUE(datagrams) << datagrams.error().message;
  ASSERT_TRUE(datagrams->complete) << datagrams->error;
  EXPECT_GT(datagrams->datagrams_sent, 10000u);
  EXPECT_LE(datagrams->server_report->packets_received * 1400, datagrams->bytes_sent);
  EXPECT_EQ(datagrams->server_report->bytes_received, datagrams->server_report->packets_received * 1400);
  EXPECT_LT(datagrams->loss_ratio, 0.01);
  EXPECT_NEAR(datagrams->throughput_bps, 200e6 * (1 - datagrams->loss_ratio), 200e6 * 0.05);

  // Through the service address: the DNAT rule carries TCP and UDP alike.
  for (Scenario scenario : {Scenario::tcp_rr, Scenario::udp_rr, Scenario::tcp_crr}) {
    Result<ClientResult> rr =
        run_client_process(layout_.service_endpoint(), spec_of(scenario, milliseconds(500)));
    ASSERT_TRUE(rr) << rr.error().message;
    ASSERT_TRUE(rr->complete) << to_string(scenario) << ": " << rr->error;
    EXPECT_GT(rr->transactions, 100u);
    EXPECT_EQ(rr->transactions_total - rr->timeouts, rr->server_report->transactions) << to_string(scenario);
    EXPECT_EQ(rr->bytes_sent, rr->server_report->bytes_received) << to_string(scenario);
  }
  server.process.stop(real_clock(), seconds(3));
}

// The client process's live lines reach kubeproof's sink while it runs (the phase's live view): every
// transaction of the window once, and none of those lines left in what the process printed.
TEST_F(NetLab, TheClientProcessHandsItsLiveCountsToTheSink) {
  struct Collected final : LiveSink {
    void add(const LiveDelta& delta) override {
      std::lock_guard lock(mutex);
      ok += delta.ok;
      bytes += delta.bytes;
      series.insert(std::string(delta.series));
      later = later && delta.finished_later && delta.phase == Phase::network;
      ++handovers;
    }
    std::mutex mutex;
    std::uint64_t ok = 0, bytes = 0;
    int handovers = 0;
    bool later = true;
    std::set<std::string> series;
  };
  LabServer server = start_server(7416);
  engine::CancellationToken cancel;
  Collected rr;
  TestSpec transactions = spec_of(Scenario::tcp_rr, milliseconds(2500));
  transactions.streams = 2;
  Result<ClientResult> r = run_lab_client(kAgent, layout_.client_ns, pod(7416), transactions, seconds(3),
                                          std::nullopt, real_clock(), cancel, &rr, "TCP_RR to pod");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  EXPECT_EQ(rr.ok, r->transactions);
  EXPECT_GE(rr.handovers, 4);  // two streams, each at least once a second over 2.5 s
  EXPECT_EQ(rr.series, std::set<std::string>{"TCP_RR to pod"});
  EXPECT_TRUE(rr.later);

  Collected stream;
  Result<ClientResult> s =
      run_lab_client(kAgent, layout_.client_ns, pod(7416), spec_of(Scenario::tcp_stream, milliseconds(2500)),
                     seconds(3), std::nullopt, real_clock(), cancel, &stream, "TCP_STREAM to pod");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->complete) << s->error;
  EXPECT_EQ(stream.handovers, 2);  // two whole seconds of the window
  EXPECT_GT(stream.bytes, 0u);
  EXPECT_LT(stream.bytes, s->bytes_sent);
  server.process.stop(real_clock(), seconds(3));
}

// A token bucket on the veth sets the link's rate, and the measured goodput must be that rate's payload
// share. 200 Mbit/s rather than the spec's 1 Gbit/s: at 1 Gbit/s the shaper is not the only limit on a busy
// 2-vCPU VM (iperf3 through the same tbf measured 855-944 of 956 Mbit/s over eight runs, and CI once measured
// the agent 6 % under), while at 200 Mbit/s it is (iperf3: 191 of 191.3 Mbit/s in eight of eight runs), so a
// tight bound checks the instrument rather than the host.
TEST_F(NetLab, TokenBucketRateIsTheMeasuredGoodput) {
  LabServer server = start_server(7411);
  // tbf on the client's veth end, in the client namespace (egress towards the server).
  const std::vector<std::string> add = {
      "ip",   "netns", "exec", layout_.client_ns, "tc",    "qdisc", "add",     "dev", layout_.client_if,
      "root", "tbf",   "rate", "200mbit",         "burst", "256kb", "latency", "50ms"};
  ASSERT_TRUE(run_command(add));
  Result<ClientResult> r =
      run_client_process(pod(7411), spec_of(Scenario::tcp_stream, seconds(3), milliseconds(500)));
  EXPECT_TRUE(run_command(
      {"ip", "netns", "exec", layout_.client_ns, "tc", "qdisc", "del", "dev", layout_.client_if, "root"}));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  // tbf counts whole frames; the payload of a 1514-byte frame is 1448 bytes (TCP timestamps on), so the best
  // goodput is 200e6 * 1448 / 1514 = 191.3 Mbit/s. The bucket's 256 KB burst adds at most 0.7 Mbit/s over the
  // 3 s window; 1 % either way leaves room for that and for the window's edges.
  constexpr double kRate = 200e6;
  constexpr double kBestGoodput = kRate * 1448 / 1514;
  const double goodput = r->throughput_bps;
  std::printf("tbf 200mbit: TCP_STREAM goodput %.2f Mbit/s (%+.2f %% of the best %.2f; %llu retransmits)\n",
              goodput / 1e6, (goodput / kBestGoodput - 1) * 100, kBestGoodput / 1e6,
              static_cast<unsigned long long>(r->retransmits));
  EXPECT_NEAR(goodput, kBestGoodput, 0.01 * kBestGoodput) << summary(*r);
  EXPECT_LE(goodput, kRate);
  server.process.stop(real_clock(), seconds(3));
}

// Asks the kernel to keep every CPU in its polling idle state (cpuidle's PM QoS, as tuned's
// latency-performance profile and cyclictest do) while it lives: a guest vCPU that halts is descheduled by
// the host and its wake-up costs tens of microseconds. Best effort: without /dev/cpu_dma_latency the test
// runs as before.
class CpuIdleLatencyRequest {
 public:
  CpuIdleLatencyRequest() : fd_(::open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC)) {
    const std::int32_t zero = 0;
    if (fd_ >= 0 && ::write(fd_, &zero, sizeof zero) != sizeof zero) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~CpuIdleLatencyRequest() {
    if (fd_ >= 0) {
      ::close(fd_);  // closing withdraws the request
    }
  }
  CpuIdleLatencyRequest(const CpuIdleLatencyRequest&) = delete;
  CpuIdleLatencyRequest& operator=(const CpuIdleLatencyRequest&) = delete;
  bool active() const { return fd_ >= 0; }

 private:
  int fd_;
};

// This checks the instrument: that the measured round trip grows by exactly the hold. So both ends share one
// CPU at real-time priority: on a busy shared VM a normal thread that slept 5 ms can be woken milliseconds
// late, and a wake-up across vCPUs costs tens of microseconds; that would be the host, not the agent, in the
// figure (bench/compare-net.sh pins the same way for the same reason).
// The reference run holds too (kControl), so that both runs give the CPU away for a comparable time while
// they wait: whatever runs there meanwhile (another build, another guest on the host) evicts the caches, and
// a reply sent after that costs more than one sent back to back. Timestamps at both ends on this 2-vCPU VM
// under load: the server's send -> the client's recv return took 45-50 us at P50 after a 5 ms wait, 12 us
// with the CPU kept busy by a spinner of our own. Against a reference that never waits, the 5 ms hold came
// out +1.0-1.9 % at P50 and +1.7-4.1 % at P99 (over 2 % in 38 of 45 attempts); a 2 ms reference halved that
// (eviction grows with the time away and levels off); a 5 ms one left -0.5..+1.1 % (13 runs). On a quiet
// machine the CPU idles instead and the vCPU halts: that path took 47-71 us at P50 in a loopback replica,
// 13-18 us with /dev/cpu_dma_latency held at 0 (which under load changes nothing: the CPU never idles).
TEST_F(NetLab, AServerHoldingEachResponseAddsTheHoldToP50AndP99) {
  constexpr Duration kHold = milliseconds(5);
  constexpr Duration kControl = milliseconds(5);
  const int cpu = static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) - 1;
  const CpuIdleLatencyRequest idle_latency;
  std::printf("/dev/cpu_dma_latency 0: %s\n", idle_latency.active() ? "held" : "not available");
  auto start = [&](std::uint16_t port, Duration hold) {
    Result<LabServer> server = start_lab_server(kAgent, layout_.server_ns, fmt::format("0.0.0.0:{}", port),
                                                hold, cpu, real_clock(), seconds(10), /*realtime=*/true);
    EXPECT_TRUE(server) << (server ? "" : server.error().message);
    return std::move(*server);
  };
  LabServer reference = start(7412, kControl);
  LabServer holding = start(7413, kControl + kHold);
  for (Scenario scenario : {Scenario::tcp_rr, Scenario::udp_rr}) {
    // 5 s at 10 ms a round trip: about 500 samples, so P99 rests on five of them, not on one outlier.
    const TestSpec spec = spec_of(scenario, seconds(5));
    // A systematic error fails every attempt; a stall of the shared VM (another tenant, a throttled vCPU)
    // fails one. So the instrument gets three attempts, and every attempt's figures are printed.
    std::string failures;
    for (int attempt = 1; attempt <= 3; ++attempt) {
      Result<ClientResult> base = fail(ErrorKind::internal, "not run");
      Result<ClientResult> held = fail(ErrorKind::internal, "not run");
      in_netns(layout_.client_ns, [&] {
        // The client's workers inherit this thread's CPU and scheduling.
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        EXPECT_EQ(::pthread_setaffinity_np(::pthread_self(), sizeof set, &set), 0);
        EXPECT_TRUE(use_realtime_scheduling_on_this_thread());
        engine::CancellationToken cancel;
        base = run_client(ClientOptions{pod(7412), spec, seconds(3)}, real_clock(), cancel, {});
        held = run_client(ClientOptions{pod(7413), spec, seconds(3)}, real_clock(), cancel, {});
      });
      ASSERT_TRUE(base && held) << (base ? held.error().message : base.error().message);
      ASSERT_TRUE(base->complete && held->complete) << base->error << held->error;
      EXPECT_EQ(base->server_hold, kControl);
      EXPECT_EQ(held->server_hold, kControl + kHold);
      failures.clear();
      for (double percentile : {50.0, 99.0}) {
        const double added = double(held->latency.corrected.value_at_percentile(percentile) -
                                    base->latency.corrected.value_at_percentile(percentile));
        const double error = (added - double(kHold.count())) / double(kHold.count());
        std::printf("%s attempt %d P%.0f: the 5 ms hold added %.1f us (%+.2f %%)\n",
                    std::string(to_string(scenario)).c_str(), attempt, percentile, added / 1e3, error * 100);
        if (std::abs(error) > 0.02) {
          failures += fmt::format(
              "P{:.0f} added {:.1f} us ({:+.2f} %, more than 2 % off); without hold: {}; with "
              "hold: {}\n",
              percentile, added / 1e3, error * 100, summary(*base), summary(*held));
        }
      }
      if (failures.empty()) {
        break;
      }
    }
    EXPECT_EQ(failures, "") << to_string(scenario);
  }
  reference.process.stop(real_clock(), seconds(3));
  holding.process.stop(real_clock(), seconds(3));
}

TEST_F(NetLab, AServerKilledMidTestGivesAClearErrorAndPartialResultsInBoundedTime) {
  std::uint16_t port = 7420;
  for (Scenario scenario : {Scenario::tcp_stream, Scenario::tcp_rr, Scenario::udp_rr, Scenario::tcp_crr}) {
    LabServer server = start_server(port);
    TestSpec spec = spec_of(scenario, seconds(20), milliseconds(200));
    std::optional<TimePoint> killed_at;
    Result<ClientResult> r = fail(ErrorKind::internal, "not run");
    in_netns(layout_.client_ns, [&] {
      engine::CancellationToken cancel;
      ClientOptions options{pod(port), spec, seconds(3)};
      r = run_client(options, real_clock(), cancel, [&](const ProgressSample& sample) {
        if (sample.second == 1) {
          server.process.kill(SIGKILL);
          killed_at = real_clock().now();
        }
      });
    });
    ASSERT_TRUE(killed_at) << to_string(scenario);
    const Duration reaction = real_clock().now() - *killed_at;
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_LT(reaction, seconds(3)) << to_string(scenario);
    EXPECT_FALSE(r->complete);
    EXPECT_FALSE(r->server_report);
    // One line naming what broke and when: "the server closed the control connection (1.02s into the 20.00s
    // window)" or "stream 0: the server closed the connection (...)".
    EXPECT_NE(r->error.find("server"), std::string::npos) << r->error;
    EXPECT_NE(r->error.find("into the 20.00s window)"), std::string::npos) << r->error;
    EXPECT_EQ(r->error.find('\n'), std::string::npos);
    EXPECT_GE(r->measured, seconds(1));
    EXPECT_LT(r->measured, seconds(3));
    if (is_stream(scenario)) {
      EXPECT_GT(r->throughput_bps, 0) << "partial: what the receiver acknowledged";
      EXPECT_EQ(r->throughput_source, "sender (acked)");
    } else {
      EXPECT_GT(r->transactions, 0u) << "partial: the transactions before the kill";
      EXPECT_EQ(r->latency.corrected.count(), r->transactions);
    }
    ++port;
  }
}

TEST_F(NetLab, TheAgentProcessPrintsPartialResultsAndOneErrorLineWhenItsServerDies) {
  LabServer server = start_server(7430);
  AgentSpawn spawn{kAgent.binary, kAgent.client_args, layout_.client_ns, std::nullopt, false};
  const std::vector<std::string> flags =
      client_flags(spec_of(Scenario::tcp_rr, seconds(20), milliseconds(200)), pod(7430), seconds(3));
  spawn.args.insert(spawn.args.end(), flags.begin(), flags.end());
  Result<AgentProcess> client = AgentProcess::start(spawn);
  ASSERT_TRUE(client) << client.error().message;
  // The first progress line: the window has run a second.
  Result<std::string> progress =
      client->read_line(real_clock(), real_clock().now() + seconds(10), AgentProcess::Stream::err);
  ASSERT_TRUE(progress) << progress.error().message;
  EXPECT_EQ(progress->rfind("net-client: 1s ", 0), 0u) << *progress;
  server.process.kill(SIGKILL);
  const TimePoint killed = real_clock().now();
  const AgentExit exit = client->wait(real_clock(), killed + seconds(10));
  EXPECT_LT(real_clock().now() - killed, seconds(3));
  EXPECT_EQ(exit.exit_code, 4) << exit.describe();
  Result<ClientResult> r = result_from_json_line(exit.out);
  ASSERT_TRUE(r) << r.error().message << ": " << exit.out;
  EXPECT_FALSE(r->complete);
  EXPECT_GT(r->transactions, 0u);
  EXPECT_EQ(exit.last_error_line(), "kubeproof: " + r->error);
}

TEST_F(NetLab, BadParametersGetOneLineErrors) {
  LabServer server = start_server(7440);
  struct Case {
    std::vector<std::string> flags;
    int exit_code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--server", pod(7440), "--scenario", "TCP_RR", "--request-size", "0"},
       2,
       "--request-size: must be > 0, got 0"},
      {{"--server", pod(7440), "--message-size", "0"}, 2, "--message-size: must be > 0, got 0"},
      {{"--server", pod(7440), "--scenario", "TCP_FOO"},
       2,
       "--scenario: must be one of TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, TCP_CRR, got \"TCP_FOO\""},
      // Nothing listens there: the server's namespace answers with a reset at once.
      {{"--server", pod(7441)}, 4, fmt::format("cannot connect to {}: Connection refused", pod(7441))},
      // No host has that address: nothing answers, the connect timeout bounds the wait.
      {{"--server", "10.239.0.99:7440", "--connect-timeout", "1s"},
       4,
       "cannot connect to 10.239.0.99:7440: no answer within 1.00s"},
  };
  for (const Case& c : cases) {
    AgentSpawn spawn{kAgent.binary, kAgent.client_args, layout_.client_ns, std::nullopt, false};
    spawn.args.insert(spawn.args.end(), c.flags.begin(), c.flags.end());
    Result<AgentProcess> client = AgentProcess::start(spawn);
    ASSERT_TRUE(client) << client.error().message;
    const AgentExit exit = client->wait(real_clock(), real_clock().now() + seconds(10));
    EXPECT_EQ(exit.exit_code, c.exit_code) << c.message << ": " << exit.err;
    EXPECT_EQ(exit.err, "kubeproof: " + c.message + "\n");
    // And one JSON line on stdout with the same error (what the pod runner reads from a pod's log).
    ASSERT_FALSE(exit.out.empty()) << c.message;
    EXPECT_EQ(exit.out.find('\n'), exit.out.size() - 1) << exit.out;
    const nlohmann::json line = nlohmann::json::parse(exit.out, nullptr, false);
    ASSERT_TRUE(line.is_object()) << exit.out;
    EXPECT_EQ(line.value("kind", ""), "kubeproof.agent.net-client");
    EXPECT_EQ(line.value("error", ""), c.message);
  }
  server.process.stop(real_clock(), seconds(3));
}

TEST_F(NetLab, ThePhaseMeasuresItsThreeRowsInTheLab) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  config::PhasePlan phase;
  phase.phase = Phase::network;
  phase.path = "phases[2]";
  phase.duration = seconds(3);
  phase.settings = YAML::Load("duration: 1s\nwarmup: 200ms\n");
  class Progress final : public engine::ProgressSink {
   public:
    void message(Phase, std::string_view text) override { lines.emplace_back(text); }
    std::vector<std::string> lines;
  } progress;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, phase, real_clock(), cancel, progress};
  std::unique_ptr<engine::Driver> driver = make_driver(plan, state_dir_, kAgent);
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> run = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(run->invalid_reasons.empty()) << run->invalid_reasons.front();
  ASSERT_EQ(run->measurements.size(), 3u);
  EXPECT_EQ(run->measurements[0].metric, "net.pod_to_pod.throughput");
  EXPECT_GT(run->measurements[0].value, 1e8);
  EXPECT_EQ(run->measurements[1].metric, "net.pod_to_pod.latency.p99");
  EXPECT_EQ(run->measurements[2].metric, "net.pod_to_service.latency.p99");
  for (int i : {1, 2}) {
    const Measurement& m = run->measurements[i];
    EXPECT_GT(m.value, 0);
    EXPECT_LT(m.value, 0.1);
    ASSERT_TRUE(m.histogram);
    EXPECT_NEAR(m.value, double(m.histogram->value_at_percentile(99)) / 1e9, 1e-12);
  }
  EXPECT_NE(run->measurements[2].source.find("DNAT 10.239.1.10:80 -> 10.239.0.2:7410"), std::string::npos)
      << run->measurements[2].source;
  // The server is gone after teardown: its port answers no more.
  Result<ClientResult> after =
      run_client_process(layout_.server_endpoint(), spec_of(Scenario::tcp_rr, seconds(1)));
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().message,
            fmt::format("cannot connect to {}: Connection refused", layout_.server_endpoint()));
}

TEST_F(NetLab, StressFindsBothBreakingPointsWithEveryStep) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  plan.type = config::TestType::stress;
  plan.capacity.pod_network = Bandwidth{5e9};
  config::PhasePlan phase;
  phase.phase = Phase::network;
  phase.path = "phases[2]";
  phase.duration = seconds(4);
  phase.load = 1.5;
  phase.settings = YAML::Load(
      "duration: 1s\nwarmup: 200ms\nstress_streams: [1, 2]\nstress:\n  steps: [100%, 200%]\n  bisect: 1\n");
  class Progress final : public engine::ProgressSink {
   public:
    void message(Phase, std::string_view text) override { lines.emplace_back(text); }
    std::vector<std::string> lines;
  } progress;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, phase, real_clock(), cancel, progress};
  std::unique_ptr<engine::Driver> driver = make_driver(plan, state_dir_, kAgent);
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> run = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_EQ(run->stress.size(), 2u);
  const load::StressResult& streams = run->stress[0];
  EXPECT_EQ(streams.metric, "net.pod_to_pod.breaking_streams");
  ASSERT_FALSE(streams.steps.empty());
  EXPECT_EQ(streams.steps[0].level, 1);
  EXPECT_GT(streams.steps[0].achieved, 1e8);
  ASSERT_TRUE(streams.steps[0].p99);  // the TCP_RR beside it was measured
  EXPECT_FALSE(streams.note.empty());
  const load::StressResult& rate = run->stress[1];
  EXPECT_EQ(rate.metric, "net.pod_to_pod.breaking_rate");
  ASSERT_FALSE(rate.steps.empty());
  // The ramp starts at the closed-loop rate the first latency test measured, and every step says what it did.
  EXPECT_GT(rate.steps[0].offered, 100);
  EXPECT_GT(rate.steps[0].achieved, 0);
  EXPECT_FALSE(rate.note.empty());
  bool throughput = false;
  for (const Measurement& m : run->measurements) {
    throughput = throughput || m.metric == "net.pod_to_pod.throughput";
    if (m.metric == "net.pod_to_pod.breaking_streams" || m.metric == "net.pod_to_pod.breaking_rate") {
      EXPECT_GT(m.value, 0);
    }
  }
  EXPECT_TRUE(throughput);
  bool capacity_note = false;
  for (const std::string& note : run->notes) {
    capacity_note =
        capacity_note || note.find("capacity.pod_network 5.00Gbps x load 150 %") != std::string::npos;
  }
  EXPECT_TRUE(capacity_note);
}

TEST_F(NetLab, LabUpRefusesClashesAndDownIsIdempotent) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("kp-net-it-second-{}", ::getpid());
  fs::remove_all(dir);
  const lab::NetnsLayout layout = test_layout(fmt::format("kpu{}", ::getpid()));
  Result<lab::NetnsRecord> up = lab::netns_up(dir, layout, real_clock());
  ASSERT_TRUE(up) << up.error().message;
  const lab::NetnsStatus status = lab::netns_status(dir, real_clock());
  EXPECT_TRUE(status.healthy) << status.detail;
  EXPECT_EQ(status.detail, fmt::format("up: {} 10.239.0.1 <-> {} 10.239.0.2, service 10.239.1.10:80 -> "
                                       "10.239.0.2:7410 (nftables DNAT)",
                                       layout.client_ns, layout.server_ns));
  Result<lab::NetnsRecord> again = lab::netns_up(dir, layout, real_clock());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::usage);
  // Another state dir with the same names: the namespaces are not its own.
  const fs::path other = dir.string() + "-other";
  Result<lab::NetnsRecord> clash = lab::netns_up(other, layout, real_clock());
  ASSERT_FALSE(clash);
  EXPECT_EQ(
      clash.error().message,
      fmt::format("network namespace {} already exists and is not this lab's: remove it with `ip netns del "
                  "{}` or choose other names",
                  layout.client_ns, layout.client_ns));
  Result<std::vector<std::string>> down = lab::netns_down(dir, real_clock());
  ASSERT_TRUE(down) << down.error().message;
  EXPECT_EQ(*down,
            (std::vector<std::string>{fmt::format("network namespace {}: removed", layout.client_ns),
                                      fmt::format("network namespace {}: removed", layout.server_ns)}));
  EXPECT_FALSE(fs::exists(lab::netns_path(layout.client_ns)));
  EXPECT_FALSE(fs::exists(lab::netns_path(layout.server_ns)));
  Result<std::vector<std::string>> twice = lab::netns_down(dir, real_clock());
  ASSERT_TRUE(twice);
  EXPECT_EQ(*twice, std::vector<std::string>{"network namespaces: not set up"});
  fs::remove_all(dir);
  fs::remove_all(other);
}

}  // namespace
}  // namespace kp::drivers::net
