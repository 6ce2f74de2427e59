// Issue 18 item 3: Ctrl-C at random points of each phase. `kubeproof run --only PHASE` of a short phase gets
// SIGINT after a random delay (seeded; the seed is printed, so a failure replays with
// KP_FAULT_SEED=<seed>), over several seeds per phase (KP_FAULT_SEEDS=N for more). Expected: exit 4, the
// reports of what was measured written whole (never a partial file), every process the run started gone,
// and on --target cluster (the API server fixture's process kubelet) no namespace of the run left. Some
// seeds send a second SIGINT during the cleanup: the process may then end at once, but still leaves no
// partial report set, no temporary file and no process behind.

#include <unistd.h>

#include <cstdlib>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "lab/netns.hpp"
#include "phase_runs.hpp"

namespace kp::faults {
namespace {

int seeds_per_phase() {
  const char* given = std::getenv("KP_FAULT_SEEDS");
  return given != nullptr && std::atoi(given) > 0 ? std::atoi(given) : 3;
}

std::uint32_t first_seed() {
  const char* given = std::getenv("KP_FAULT_SEED");
  if (given != nullptr && *given != '\0') {
    return static_cast<std::uint32_t>(std::strtoul(given, nullptr, 10));
  }
  return std::random_device{}();
}

bool have(const char* tool) {
  for (const char* dir : {"/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"}) {
    if (::access((std::string(dir) + tool).c_str(), X_OK) == 0) {
      return true;
    }
  }
  return false;
}

// What one interrupted run is checked for.
struct Interrupted {
  std::uint32_t seed = 0;
  Duration delay{0};
  bool second = false;  // a second SIGINT during the cleanup
};

// The lab every Ctrl-C run of this suite shares: etcd, the two unbounds, nginx and (as root) network
// namespaces named kpflt-*, in a temp state dir on free ports.
class CtrlC : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("kpflt-ctrlc");
    lab_error_ = lab_up(dir_->path() / "lab", {"etcd", "unbound-zone", "unbound", "nginx"});
    if (::geteuid() == 0 && have("ip") && have("nft")) {
      lab::NetnsLayout layout;
      layout.client_ns = "kpflt-a";
      layout.server_ns = "kpflt-b";
      layout.client_if = "kpflt-va";
      layout.server_if = "kpflt-vb";
      layout.client_ip = "10.239.0.1";
      layout.server_ip = "10.239.0.2";
      layout.service_ip = "10.239.1.10";
      // A namespace of this name left by a killed earlier run of this test would be refused: remove it.
      for (const std::string& ns : {layout.client_ns, layout.server_ns}) {
        const std::string command = fmt::format("ip netns del {} 2>/dev/null", ns);
        [[maybe_unused]] int ignored = std::system(command.c_str());
      }
      Result<lab::NetnsRecord> made = lab::netns_up(dir_->path() / "lab", layout, real_clock());
      netns_error_ = made ? "" : made.error().message;
    } else {
      netns_error_ = "needs root, ip and nft for network namespaces";
    }
  }
  static void TearDownTestSuite() {
    static_cast<void>(lab::netns_down(dir_->path() / "lab", real_clock()));
    lab_down(dir_->path() / "lab");
    delete dir_;
  }

  // Runs `phase` in a fresh folder, interrupts it as `how` says and checks the outcome.
  static void interrupt(std::string_view phase, std::string_view settings, const Interrupted& how) {
    SCOPED_TRACE(fmt::format("{}: seed {} (KP_FAULT_SEED={} replays it): SIGINT {} ms after the start{}",
                             phase, how.seed, how.seed,
                             std::chrono::duration_cast<std::chrono::milliseconds>(how.delay).count(),
                             how.second ? ", a second one during the cleanup" : ""));
    TempDir work("kpflt-run");
    std::filesystem::create_directory_symlink(dir_->path() / "lab", work.path() / "lab");
    std::filesystem::create_directories(work.path() / "volume");
    std::mt19937 random(how.seed);
    PhaseOutcome outcome = run_phase(work.path(), phase, settings, [&](Running& run) {
      std::this_thread::sleep_for(how.delay);  // the random moment of the Ctrl-C, not a synchronisation
      run.send(SIGINT);
      if (how.second) {
        // Once the first one is taken ("interrupted: stopping ..."), the second lands in the cleanup.
        run.wait_for_stderr("interrupted: stopping", std::chrono::seconds(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
        run.send(SIGINT);
      }
    });
    ASSERT_TRUE(outcome.exit_code.has_value() || outcome.signal == SIGINT)
        << "did not end within the phase plus the grace; stderr:\n"
        << outcome.err;
    EXPECT_LT(outcome.took, kPhaseDuration + kGrace);
    expect_nothing_left(outcome);
    EXPECT_EQ(junk_in(work.path() / "results"), std::vector<std::string>{}) << outcome.err;
    if (std::filesystem::exists(work.path() / "volume")) {
      EXPECT_TRUE(std::filesystem::is_empty(work.path() / "volume")) << "fio's scratch files were left";
    }
    if (outcome.signal == SIGINT) {
      // Quit at once on the second Ctrl-C: then either no report set or a whole one, never part of one.
      EXPECT_TRUE(how.second);
      EXPECT_TRUE(outcome.files.complete || !std::filesystem::exists(work.path() / "results") ||
                  std::filesystem::is_empty(work.path() / "results"))
          << outcome.files.problem;
      return;
    }
    EXPECT_EQ(outcome.exit_code, 4) << outcome.err;
    EXPECT_TRUE(outcome.files.complete) << outcome.files.problem << "\n" << outcome.err;
    EXPECT_EQ(outcome.files.exit_code, 4);
    EXPECT_EQ(outcome.files.overall, "ABORTED") << outcome.err;
    ASSERT_TRUE(outcome.report.is_object()) << "stdout is not the JSON report; stderr:\n" << outcome.err;
  }

  static void over_seeds(std::string_view phase, std::string_view settings) {
    const std::uint32_t seed = first_seed();
    for (int i = 0; i < seeds_per_phase(); ++i) {
      Interrupted how;
      how.seed = seed + static_cast<std::uint32_t>(i);
      std::mt19937 random(how.seed);
      // Anywhere from the phase's start (prepare) to shortly before its planned end.
      how.delay = std::chrono::milliseconds(random() % 2800);
      how.second = random() % 3 == 0;
      std::printf("[ seed     ] %.*s: %u\n", static_cast<int>(phase.size()), phase.data(), how.seed);
      interrupt(phase, settings, how);
      if (HasFatalFailure()) {
        return;
      }
    }
  }

  static TempDir* dir_;
  static std::string lab_error_;
  static std::string netns_error_;
};

TempDir* CtrlC::dir_ = nullptr;
std::string CtrlC::lab_error_;
std::string CtrlC::netns_error_;

TEST_F(CtrlC, Etcd) {
  if (!lab_error_.empty()) {
    GTEST_SKIP() << lab_error_;
  }
  over_seeds("etcd", "{}");
}

// A Ctrl-C 0.3 s in once measured the cache still cold (hit ratio 43 %, beyond critical): the cut sample must
// leave the run ABORTED (exit 4), with that row named in the reason, not a FAIL (eval/evaluation.hpp).
TEST_F(CtrlC, Dns) {
  if (!lab_error_.empty()) {
    GTEST_SKIP() << lab_error_;
  }
  over_seeds("dns", "{}");
}

TEST_F(CtrlC, Ingress) {
  if (!lab_error_.empty()) {
    GTEST_SKIP() << lab_error_;
  }
  over_seeds("ingress", "{}");
}

TEST_F(CtrlC, Storage) {
  if (!have("fio")) {
    GTEST_SKIP() << "needs fio";
  }
  over_seeds("storage",
             "{volume: volume, size: 16MiB, runtime: 1s, ramp_time: 0s, etcd_size: 1MiB, direct: false}");
}

TEST_F(CtrlC, Network) {
  if (!netns_error_.empty()) {
    GTEST_SKIP() << netns_error_;
  }
  over_seeds("network", "{warmup: 100ms}");
}

}  // namespace
}  // namespace kp::faults
