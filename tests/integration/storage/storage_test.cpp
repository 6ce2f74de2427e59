// The storage phase against real fio (Debian package `fio`), with small, short jobs in a private temp dir:
// every metric present and plausible, and each failure (fio missing, not fio, exits non-zero, truncated
// output, hangs, read-only path, full path, cancellation) a clear error that leaves nothing behind.
// Read-only and full paths are tmpfs mounts made here (root is not stopped by file modes); every mount is
// undone in the fixture's TearDown, whatever the test did.

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "drivers/storage/agent.hpp"
#include "drivers/storage/driver.hpp"
#include "drivers/storage/storage_phase.hpp"
#include "engine/orchestrator.hpp"
#include "lab/process.hpp"

namespace kp::drivers::storage {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

class CollectingProgress final : public engine::ProgressSink {
 public:
  void message(Phase /*phase*/, std::string_view text) override { lines.emplace_back(text); }
  std::vector<std::string> lines;
};

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code code;
  for (const auto& entry : fs::directory_iterator(dir, code)) {
    out.push_back(entry.path().filename().string());
  }
  return out;
}

class StorageIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kp-storage-it-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    volume_ = root_ / "volume";
    local_ = root_ / "local";
    tmp_ = root_ / "tmp";
    fs::create_directories(volume_);
    fs::create_directories(local_);
    fs::create_directories(tmp_);
    // The phase's work directory goes under TMPDIR: a private one shows whether it was removed.
    if (const char* old = std::getenv("TMPDIR")) {
      old_tmpdir_ = old;
    }
    ::setenv("TMPDIR", tmp_.c_str(), 1);
    if (const char* path = std::getenv("PATH")) {
      old_path_ = path;
    }
  }

  void TearDown() override {
    for (auto mount = mounts_.rbegin(); mount != mounts_.rend(); ++mount) {
      ::umount2(mount->c_str(), MNT_DETACH);
    }
    if (old_tmpdir_) {
      ::setenv("TMPDIR", old_tmpdir_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
    ::setenv("PATH", old_path_.c_str(), 1);
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  static bool have_fio() { return lab::find_executable("fio").has_value(); }

  // A tmpfs of `size` at root/<name>; false (and the test skips) where mounting is not permitted.
  bool mount_tmpfs(const std::string& name, const std::string& size, bool read_only) {
    const fs::path dir = root_ / name;
    fs::create_directories(dir);
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, fmt::format("size={}", size).c_str()) != 0) {
      return false;
    }
    mounts_.push_back(dir);
    if (read_only && ::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) {
      return false;
    }
    return true;
  }

  // A stand-in for fio: answers --version like fio, then runs `body` (sh) with $out = the --output file.
  fs::path fake_fio(const std::string& body) {
    const fs::path script = root_ / "fake-fio";
    std::ofstream(script)
        << "#!/bin/sh\n"
           "if [ \"$1\" = --version ]; then echo fio-3.33; exit 0; fi\n"
           "for a in \"$@\"; do case \"$a\" in --output=*) out=\"${a#--output=}\";; esac; done\n"
        << body << "\n";
    fs::permissions(script, fs::perms::owner_all);
    return script;
  }

  // Small and short: 64 MiB file, 1 s per job after a 0.5 s ramp, a 2 MiB etcd check.
  Settings small_settings() const {
    Settings settings;
    settings.volume = volume_;
    settings.size = 64 * kMiB;
    settings.runtime = seconds(1);
    settings.ramp_time = milliseconds(500);
    settings.iodepth = 16;
    settings.etcd_size = 2 * kMiB;
    return settings;
  }

  Result<StorageResult> run_phase(Settings settings, engine::CancellationToken& cancel) {
    JobSet jobs = plan_jobs(settings, config::TestType::smoke, seconds(30));
    StoragePhase phase(std::move(settings), std::move(jobs), real_clock(),
                       [this](std::string_view text) { progress_.emplace_back(text); });
    if (Result<void> prepared = phase.prepare(); !prepared) {
      return std::unexpected(prepared.error());
    }
    Result<StorageResult> result = phase.run(cancel);
    phase.teardown();
    return result;
  }

  Error run_error(Settings settings) {
    engine::CancellationToken cancel;
    Result<StorageResult> result = run_phase(std::move(settings), cancel);
    EXPECT_FALSE(result) << "expected an error";
    return result ? Error{} : result.error();
  }

  void expect_nothing_left(const fs::path& dir) {
    EXPECT_EQ(entries(dir), std::vector<std::string>{}) << dir;
    EXPECT_EQ(entries(tmp_), std::vector<std::string>{}) << "work directory left in TMPDIR";
  }

  fs::path root_;
  fs::path volume_;
  fs::path local_;
  fs::path tmp_;
  std::vector<fs::path> mounts_;
  std::optional<std::string> old_tmpdir_;
  std::string old_path_;
  std::vector<std::string> progress_;
};

#define REQUIRE_FIO()                                                                       \
  do {                                                                                      \
    if (!have_fio()) {                                                                      \
      GTEST_FAIL() << "fio is not installed (Debian package fio; scripts/install-deps.sh)"; \
    }                                                                                       \
  } while (false)

TEST_F(StorageIntegration, DriverMeasuresEveryMetricPlausibly) {
  REQUIRE_FIO();
  config::Plan plan;
  plan.source = "plans/it.yaml";
  plan.type = config::TestType::smoke;
  plan.target = config::Target::local;
  config::PhasePlan phase_plan;
  phase_plan.phase = Phase::storage;
  phase_plan.duration = seconds(30);
  phase_plan.path = "phases[0]";
  phase_plan.settings = YAML::Load(
      fmt::format("{{volume: {}, size: 64MiB, runtime: 1s, ramp_time: 500ms, iodepth: 16, etcd_size: 2MiB}}",
                  volume_.string()));
  plan.phases.push_back(phase_plan);
  engine::CancellationToken cancel;
  CollectingProgress progress;
  engine::PhaseContext context{
      .plan = plan, .phase = plan.phases[0], .clock = real_clock(), .cancel = cancel, .progress = progress};

  std::unique_ptr<engine::Driver> driver = make_driver(plan, root_ / "lab");
  ASSERT_EQ(driver->phase(), Phase::storage);
  Result<void> valid = driver->validate(context);
  ASSERT_TRUE(valid) << valid.error().message;
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  EXPECT_FALSE(entries(volume_).empty()) << "prepare makes the test directory";
  Result<engine::PhaseRun> run = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_TRUE(run->invalid_reasons.empty());

  std::map<std::string, Measurement> by_id;
  for (const Measurement& m : run->measurements) {
    by_id[m.metric] = m;
  }
  for (std::string_view id :
       {kRandReadIops, kRandWriteIops, kRandP99, kSeqWriteBandwidth, kSeqReadBandwidth, kEtcdFsyncP99}) {
    ASSERT_TRUE(by_id.contains(std::string(id))) << id;
    EXPECT_TRUE(by_id[std::string(id)].source.starts_with("fio-3")) << by_id[std::string(id)].source;
  }
  EXPECT_GT(by_id[std::string(kRandReadIops)].value, 100);
  EXPECT_GT(by_id[std::string(kRandWriteIops)].value, 100);
  // A P99 between 1 µs and 10 s: in seconds, not ns or ms.
  for (std::string_view id : {kRandP99, kEtcdFsyncP99}) {
    EXPECT_GT(by_id[std::string(id)].value, 1e-6) << id;
    EXPECT_LT(by_id[std::string(id)].value, 10) << id;
    ASSERT_TRUE(by_id[std::string(id)].histogram) << id;
    EXPECT_GT(by_id[std::string(id)].histogram->count(), 0u) << id;
  }
  // Bandwidth in bits/s, at least 1 MB/s.
  EXPECT_GT(by_id[std::string(kSeqWriteBandwidth)].value, 8e6);
  EXPECT_GT(by_id[std::string(kSeqReadBandwidth)].value, 8e6);
  EXPECT_FALSE(progress.lines.empty());

  expect_nothing_left(volume_);
}

// What `kubeproof run --target local --only storage --tier nvme` does, minus the CLI: the shipped smoke plan
// (shortened, with a small file), the orchestrator, the driver from the factory, the shipped criteria.
TEST_F(StorageIntegration, SmokePlanGivesTheStorageRowsOfTheChosenTier) {
  REQUIRE_FIO();
  Result<config::Plan> plan = config::load_plan(std::string(KP_SOURCE_DIR) + "/plans/smoke.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(config::apply_duration_scale(*plan, 0.05));
  for (config::PhasePlan& phase : plan->phases) {
    if (phase.phase == Phase::storage) {
      phase.settings = YAML::Load("{size: 64MiB, etcd_size: 2MiB}");
    }
  }
  Result<config::Criteria> criteria =
      config::load_criteria(std::string(KP_SOURCE_DIR) + "/criteria/default.yaml");
  ASSERT_TRUE(criteria) << criteria.error().message;
  config::TierSelection tiers;
  tiers.chosen["storage_tier"] = "nvme";
  Result<std::vector<config::CriteriaRow>> rows = criteria->active_rows(tiers);
  ASSERT_TRUE(rows) << rows.error().message;

  CollectingProgress progress;
  engine::Orchestrator orchestrator(
      {{Phase::storage, driver_factory(root_ / "lab")}}, *rows,
      engine::OrchestratorOptions{.continue_on_fail = false, .only = {Phase::storage}}, real_clock(),
      progress);
  engine::CancellationToken cancel;
  Result<engine::RunResult> run = orchestrator.run(*plan, cancel);
  ASSERT_TRUE(run) << run.error().message;
  const eval::PhaseEvaluation& storage = run->evaluation.phases[static_cast<int>(Phase::storage)];
  ASSERT_EQ(storage.phase, Phase::storage);
  EXPECT_EQ(storage.status, eval::PhaseStatus::completed) << storage.reason;
  ASSERT_EQ(storage.rows.size(), 5u);
  for (const eval::RowResult& row : storage.rows) {
    ASSERT_TRUE(row.row.tier) << row.row.metric;
    EXPECT_EQ(row.row.tier->name, "nvme") << row.row.metric;
    EXPECT_TRUE(row.measured) << row.row.metric;
    EXPECT_NE(row.verdict, eval::Verdict::not_measured) << row.row.metric;
  }
  ASSERT_EQ(storage.informational.size(), 1u);
  EXPECT_EQ(storage.informational[0].metric, kEtcdFsyncP99);
  // The lab's volume directory is made on demand and left empty.
  expect_nothing_left(root_ / "lab" / "volume");
}

TEST_F(StorageIntegration, BandwidthIsIopsTimesBlockSizeAndCompareToGivesRatios) {
  REQUIRE_FIO();
  AgentOptions options;
  options.dir = volume_.string();
  options.compare_to = local_.string();
  options.workloads = "randread,seqwrite";
  options.size = "64MiB";
  options.runtime = "1s";
  options.ramp_time = "500ms";
  engine::CancellationToken cancel;
  Result<StorageResult> result = run_agent(options, real_clock(), cancel, nullptr);
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(result->jobs.size(), 2u);
  ASSERT_EQ(result->compare_jobs.size(), 2u);
  for (const std::vector<JobSummary>* jobs : {&result->jobs, &result->compare_jobs}) {
    for (const JobSummary& job : *jobs) {
      const double expected = job.iops * static_cast<double>(job.job.block_size);
      EXPECT_NEAR(job.bytes_per_second, expected, expected * 0.03) << job.job.name;
      EXPECT_GT(job.iops, 0) << job.job.name;
      ASSERT_TRUE(job.p99) << job.job.name;
      EXPECT_GT(*job.p99, 0) << job.job.name;
    }
  }
  // One row per metric measured on both paths: randread IOPS, the P99 and seqwrite bandwidth.
  ASSERT_EQ(result->comparison.size(), 3u);
  for (const ComparisonRow& row : result->comparison) {
    EXPECT_GT(row.ratio, 0) << row.metric;
    EXPECT_DOUBLE_EQ(row.ratio, row.volume / row.local) << row.metric;
  }
  // Both directories are on the same disk here, and the report says so.
  bool same_device = false;
  for (const std::string& warning : result->warnings) {
    same_device = same_device || warning.find("are on the same device") != std::string::npos;
  }
  EXPECT_TRUE(same_device);
  for (const Measurement& m : result->run.measurements) {
    EXPECT_NE(m.note.find(fmt::format("of {}", local_.string())), std::string::npos)
        << m.metric << ": " << m.note;
  }
  const nlohmann::json line = nlohmann::json::parse(agent_json_line(*result));
  EXPECT_EQ(line["jobs"].size(), 4u);
  EXPECT_EQ(line["comparison"].size(), 3u);
  expect_nothing_left(volume_);
  EXPECT_EQ(entries(local_), std::vector<std::string>{});
}

TEST_F(StorageIntegration, FioNotOnPathIsUnavailable) {
  ::setenv("PATH", (root_ / "empty-bin").c_str(), 1);
  Error error = run_error(small_settings());
  EXPECT_EQ(error.kind, ErrorKind::unavailable);
  EXPECT_EQ(error.message,
            "storage: fio not found on PATH (install the Debian package fio, or set fio_binary to its path)");
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, FioBinaryPointingNowhereIsUnavailable) {
  Settings settings = small_settings();
  settings.fio_binary = (root_ / "nowhere" / "fio").string();
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::unavailable);
  EXPECT_EQ(error.message,
            fmt::format("storage: fio_binary \"{}\": not found or not executable", settings.fio_binary));
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, ABinaryThatIsNotFioIsUnavailable) {
  const fs::path other = root_ / "other-tool";
  std::ofstream(other) << "#!/bin/sh\necho 'other-tool 1.0'\n";
  fs::permissions(other, fs::perms::owner_all);
  Settings settings = small_settings();
  settings.fio_binary = other.string();
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::unavailable);
  EXPECT_EQ(error.message,
            fmt::format("storage: {} does not look like fio: `--version` gave exit status 0 and printed "
                        "\"other-tool 1.0\"",
                        other.string()));
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, FioExitingNonZeroIsAnErrorWithWhatItSaid) {
  Settings settings = small_settings();
  settings.fio_binary = fake_fio(
                            "echo 'fio: engine libaio not loadable' >&2\n"
                            "echo 'fio: failed to load engine' >&2\n"
                            "exit 1")
                            .string();
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::io);
  EXPECT_EQ(error.message,
            fmt::format("storage: fio failed on volume {} (exit status 1); fio said: fio: engine libaio "
                        "not loadable | fio: failed to load engine",
                        volume_.string()));
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, AJobErrorNamesTheJob) {
  Settings settings = small_settings();
  const std::string fixture = std::string(KP_SOURCE_DIR) + "/tests/fixtures/fio/fio_enospc.json";
  settings.fio_binary = fake_fio(fmt::format("cat '{}' > \"$out\"\nexit 3", fixture)).string();
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::io);
  EXPECT_EQ(
      error.message,
      fmt::format(
          "storage: fio failed on volume {}: job \"randread-4k\" stopped with error 28 (No space left on "
          "device); fio said: fio: ENOSPC on laying out file, stopping | fio: pid=0, "
          "err=28/file:filesetup.c:240, func=write, error=No space left on device",
          volume_.string()));
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, TruncatedOutputNamesTheJobAndField) {
  Settings settings = small_settings();
  const std::string fixture = std::string(KP_SOURCE_DIR) + "/tests/fixtures/fio/kubeproof_jsonplus.json";
  // The first 3000 bytes: cut inside the first job's read latency bins.
  settings.fio_binary = fake_fio(fmt::format("head -c 3000 '{}' > \"$out\"\nexit 0", fixture)).string();
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::protocol);
  EXPECT_TRUE(
      error.message.starts_with(fmt::format("storage: fio output for volume {}: truncated or not JSON at "
                                            "byte 3000, inside jobs[0] \"randread-4k\" at "
                                            "read.clat_ns.bins",
                                            volume_.string())))
      << error.message;
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, AHungFioIsStoppedAtTheTimeout) {
  Settings settings = small_settings();
  settings.fio_binary = fake_fio("sleep 60").string();
  settings.timeout = seconds(1);
  const TimePoint start = real_clock().now();
  Error error = run_error(settings);
  EXPECT_LT(real_clock().now() - start, seconds(10));
  EXPECT_EQ(error.kind, ErrorKind::timeout);
  EXPECT_EQ(error.message,
            fmt::format("storage: fio on volume {} did not finish within 1.00s (timeout); stopped it",
                        volume_.string()));
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, ReadOnlyPathIsAClearError) {
  if (!mount_tmpfs("ro", "4m", true)) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)";
  }
  Settings settings = small_settings();
  settings.volume = root_ / "ro";
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::io);
  EXPECT_EQ(error.message,
            fmt::format("storage: volume {}: read-only file system; the storage phase writes its test "
                        "files there",
                        settings.volume.string()));
  expect_nothing_left(settings.volume);
}

TEST_F(StorageIntegration, FullPathIsAClearErrorBeforeWritingAnything) {
  if (!mount_tmpfs("full", "1m", false)) {
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)";
  }
  Settings settings = small_settings();
  settings.volume = root_ / "full";
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::io);
  EXPECT_EQ(error.message,
            fmt::format("storage: volume {}: only 1MiB free, the test files need 67.66MiB (lower size, "
                        "or free space there)",
                        settings.volume.string()));
  expect_nothing_left(settings.volume);
}

TEST_F(StorageIntegration, MissingCompareToPathIsAnInputError) {
  REQUIRE_FIO();
  Settings settings = small_settings();
  settings.compare_to = root_ / "no-such-dir";
  Error error = run_error(settings);
  EXPECT_EQ(error.kind, ErrorKind::input);
  EXPECT_EQ(error.message,
            fmt::format("storage: compare_to {}: No such file or directory", settings.compare_to->string()));
  expect_nothing_left(volume_);
}

TEST_F(StorageIntegration, CancellationKeepsWhatFinishedAndCleansUp) {
  REQUIRE_FIO();
  Settings settings = small_settings();
  settings.runtime = seconds(3);
  settings.workloads = {Workload::randread, Workload::randwrite};
  engine::CancellationToken cancel;
  // Cancel during the first job's measured second: once fio has laid the test file out (it grows to its full
  // size), after the 0.5 s ramp. Waiting for the file rather than a fixed time keeps this true on a busy
  // machine.
  std::thread canceller([this, &cancel] {
    const TimePoint give_up = real_clock().now() + seconds(60);
    while (real_clock().now() < give_up) {
      bool laid_out = false;
      std::error_code code;
      for (const auto& scratch : fs::directory_iterator(volume_, code)) {
        std::error_code size_code;
        laid_out = laid_out || fs::file_size(scratch.path() / "kubeproof-fio.dat", size_code) == 64 * kMiB;
      }
      if (laid_out) {
        break;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    std::this_thread::sleep_for(milliseconds(1500));
    cancel.request();
  });
  const TimePoint start = real_clock().now();
  Result<StorageResult> result = run_phase(settings, cancel);
  canceller.join();
  ASSERT_TRUE(result) << result.error().message;
  // Two 3 s jobs would take over 7 s; the stop comes about 2 s into the first.
  EXPECT_LT(real_clock().now() - start, seconds(6));
  EXPECT_TRUE(result->cancelled);
  ASSERT_EQ(result->jobs.size(), 1u);
  EXPECT_EQ(result->jobs[0].job.name, "randread-4k");
  EXPECT_GT(result->jobs[0].iops, 0);
  expect_nothing_left(volume_);
}

}  // namespace
}  // namespace kp::drivers::storage
