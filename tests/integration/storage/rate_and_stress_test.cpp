// The storage driver's rate and stress paths against real fio (Debian package fio): `rate: capacity` holds
// fio to capacity.storage_iops x load, and the stress search finds the breaking iodepth. Criteria rows are
// given, so a step's break does not depend on how fast this host's disk is. About 20 s in all.

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "drivers/storage/depth_search.hpp"
#include "drivers/storage/driver.hpp"
#include "drivers/storage/results.hpp"
#include "lab/process.hpp"

namespace kp::drivers::storage {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class CollectingProgress final : public engine::ProgressSink {
 public:
  void message(Phase /*phase*/, std::string_view text) override { lines.emplace_back(text); }
  std::vector<std::string> lines;
};

class StorageRateAndStress : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kp-storage-stress-it-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    volume_ = root_ / "volume";
    tmp_ = root_ / "tmp";
    fs::create_directories(volume_);
    fs::create_directories(tmp_);
    // The phase's work directory goes under TMPDIR: a private one shows whether it was removed.
    if (const char* old = std::getenv("TMPDIR")) {
      old_tmpdir_ = old;
    }
    ::setenv("TMPDIR", tmp_.c_str(), 1);
  }

  void TearDown() override {
    if (old_tmpdir_) {
      ::setenv("TMPDIR", old_tmpdir_->c_str(), 1);
    } else {
      ::unsetenv("TMPDIR");
    }
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  void expect_nothing_left(const fs::path& dir) {
    EXPECT_TRUE(fs::is_empty(dir)) << dir;
    EXPECT_TRUE(fs::is_empty(tmp_)) << "work directory left in TMPDIR";
  }

  fs::path root_;
  fs::path volume_;
  fs::path tmp_;
  std::optional<std::string> old_tmpdir_;
};

// The driver in a plan of `type`, with `settings` (YAML flow mapping, the volume added) and criteria `rows`.
struct DriverRun {
  Result<void> valid;
  Result<engine::PhaseRun> run = fail(ErrorKind::internal, "not run");
  std::vector<std::string> progress;
};

DriverRun run_driver(config::TestType type, const fs::path& lab, const std::string& settings,
                     std::vector<config::CriteriaRow> rows) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  plan.type = type;
  plan.target = config::Target::local;
  plan.capacity.storage_iops = Rate{400};
  config::PhasePlan phase_plan;
  phase_plan.phase = Phase::storage;
  phase_plan.duration = seconds(30);
  phase_plan.load = 0.5;
  phase_plan.path = "phases[0]";
  phase_plan.settings = YAML::Load(settings);
  plan.phases.push_back(phase_plan);
  engine::CancellationToken cancel;
  CollectingProgress progress;
  engine::PhaseContext context{.plan = plan,
                               .phase = plan.phases[0],
                               .clock = real_clock(),
                               .cancel = cancel,
                               .progress = progress,
                               .criteria = rows};
  std::unique_ptr<engine::Driver> driver = make_driver(plan, lab);
  DriverRun out{
      .valid = driver->validate(context), .run = fail(ErrorKind::internal, "not run"), .progress = {}};
  if (!out.valid) {
    return out;
  }
  if (Result<void> prepared = driver->prepare(context); !prepared) {
    out.valid = prepared;
    return out;
  }
  out.run = driver->run(context);
  driver->teardown(context);
  out.progress = progress.lines;
  return out;
}

config::CriteriaRow p99_row(double critical) {
  config::CriteriaRow row;
  row.metric = std::string(kRandP99);
  row.comparison = config::Comparison::less;
  row.target = critical;
  row.critical = critical;
  return row;
}

// `rate: capacity` with load 50 % of capacity.storage_iops 400: fio is held to 200 IOPS, and the IOPS row
// says what was offered.
TEST_F(StorageRateAndStress, ARateFromCapacityHoldsFioToCapacityTimesLoad) {
  ASSERT_TRUE(lab::find_executable("fio")) << "fio is not installed (Debian package fio)";
  const DriverRun ran = run_driver(
      config::TestType::smoke, root_ / "lab",
      fmt::format(
          "{{volume: {}, workloads: [randread], size: 16MiB, runtime: 2s, ramp_time: 0s, rate: capacity}}",
          volume_.string()),
      {});
  ASSERT_TRUE(ran.valid) << ran.valid.error().message;
  ASSERT_TRUE(ran.run) << ran.run.error().message;
  const Measurement* iops = nullptr;
  for (const Measurement& m : ran.run->measurements) {
    iops = m.metric == kRandReadIops ? &m : iops;
  }
  ASSERT_NE(iops, nullptr);
  EXPECT_EQ(iops->offered, 200);
  EXPECT_GT(iops->value, 150);
  EXPECT_LT(iops->value, 210) << "fio held to rate_iops=200";
  ASSERT_GE(ran.run->notes.size(), 2u);
  EXPECT_EQ(ran.run->notes[0],
            "random 4K jobs: rate 200 IOPS = capacity.storage_iops 400 IOPS x 50% (fio rate_iops, each job)");
  EXPECT_TRUE(ran.run->notes[1].starts_with("randread-4k I/Os: offered 200/s")) << ran.run->notes[1];
  expect_nothing_left(volume_);
}

// Stress with a Critical level no device meets (1 us): depth 1 already breaks, and nothing lies below it to
// bisect, so the breaking iodepth is 1 with no step held.
TEST_F(StorageRateAndStress, StressFindsTheBreakingIodepthWithRealFio) {
  ASSERT_TRUE(lab::find_executable("fio")) << "fio is not installed (Debian package fio)";
  const DriverRun ran = run_driver(
      config::TestType::stress, root_ / "lab",
      fmt::format("{{volume: {}, workloads: [randread, seqread], size: 16MiB, runtime: 1s, ramp_time: 0s, "
                  "iodepth: 4, stress: {{steps: [25%, 100%], bisect: 2}}}}",
                  volume_.string()),
      {p99_row(1e-6)});
  ASSERT_TRUE(ran.valid) << ran.valid.error().message;
  ASSERT_TRUE(ran.run) << ran.run.error().message;
  ASSERT_EQ(ran.run->stress.size(), 1u);
  const load::StressResult& search = ran.run->stress[0];
  ASSERT_EQ(search.steps.size(), 1u);
  EXPECT_EQ(search.steps[0].level, 1);
  EXPECT_GT(search.steps[0].achieved, 10);
  EXPECT_TRUE(search.steps[0].broke.starts_with("P99 ")) << search.steps[0].broke;
  EXPECT_EQ(search.breaking_level, 1);
  const Measurement* breaking = nullptr;
  for (const Measurement& m : ran.run->measurements) {
    breaking = m.metric == "storage.rand_4k.breaking_iodepth" ? &m : breaking;
  }
  ASSERT_NE(breaking, nullptr);
  EXPECT_EQ(breaking->value, 1);
  EXPECT_TRUE(breaking->note.ends_with("no step held")) << breaking->note;
  expect_nothing_left(volume_);
}

// A Critical level every step meets (10 s): the ramp runs to its end, there is no breaking point and no
// measurement made up for one; the main jobs are still measured.
TEST_F(StorageRateAndStress, StressWithEveryStepHeldReportsNoBreakingPoint) {
  ASSERT_TRUE(lab::find_executable("fio")) << "fio is not installed (Debian package fio)";
  const DriverRun ran = run_driver(
      config::TestType::stress, root_ / "lab",
      fmt::format(
          "{{volume: {}, workloads: [randwrite], size: 16MiB, runtime: 1s, ramp_time: 0s, iodepth: 2, "
          "stress: {{steps: [50%, 100%, 200%]}}}}",
          volume_.string()),
      {p99_row(10)});
  ASSERT_TRUE(ran.valid) << ran.valid.error().message;
  ASSERT_TRUE(ran.run) << ran.run.error().message;
  ASSERT_EQ(ran.run->stress.size(), 1u);
  const load::StressResult& search = ran.run->stress[0];
  ASSERT_EQ(search.steps.size(), 3u);
  EXPECT_EQ(search.steps[2].level, 4);
  EXPECT_FALSE(search.breaking_level);
  EXPECT_EQ(search.last_held, 4);
  for (const Measurement& m : ran.run->measurements) {
    EXPECT_NE(m.metric, "storage.rand_4k.breaking_iodepth");
  }
  bool iops = false;
  for (const Measurement& m : ran.run->measurements) {
    iops = iops || m.metric == kRandWriteIops;
  }
  EXPECT_TRUE(iops);
  expect_nothing_left(volume_);
}

}  // namespace
}  // namespace kp::drivers::storage
