#include "drivers/storage/driver.hpp"

#include "drivers/storage/jobs.hpp"
#include "drivers/storage/random_rate.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::storage {
namespace {

class NoProgress final : public engine::ProgressSink {
 public:
  void message(Phase /*phase*/, std::string_view /*text*/) override {}
};

// Validates the storage phase of a plan given as text, the way the orchestrator does before anything runs.
Result<void> validate_plan(const std::string& yaml) {
  Result<config::Plan> plan = config::parse_plan(yaml, "plans/x.yaml");
  if (!plan) {
    return std::unexpected(plan.error());
  }
  engine::CancellationToken cancel;
  NoProgress progress;
  FakeClock clock;
  const engine::PhaseContext context{
      .plan = *plan, .phase = plan->phases.at(0), .clock = clock, .cancel = cancel, .progress = progress};
  std::unique_ptr<engine::Driver> driver = make_driver(*plan, "/nonexistent-lab");
  EXPECT_EQ(driver->phase(), Phase::storage);
  return driver->validate(context);
}

constexpr std::string_view kPlanHead =
    "type: smoke\n"
    "phases:\n"
    "  - phase: storage\n"
    "    settings:\n";

TEST(StorageDriver, SettingsErrorsCarryThePlansFileLineAndPath) {
  Result<void> valid = validate_plan(std::string(kPlanHead) + "      size: 1GiB\n      iodepth: deep\n");
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_EQ(
      valid.error().message,
      "plans/x.yaml:6: phases[0].settings.iodepth: must be a whole number within 1..4096, got \"deep\"");
}

TEST(StorageDriver, AMissingVolumeIsAnInputErrorBeforeAnythingRuns) {
  Result<void> valid = validate_plan(std::string(kPlanHead) + "      volume: /nonexistent/pv\n");
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_EQ(
      valid.error().message,
      "plans/x.yaml:5: phases[0].settings.volume: must be an existing directory (No such file or directory), "
      "got \"/nonexistent/pv\"");
}

TEST(StorageDriver, NoSettingsAreFine) {
  Result<void> valid = validate_plan("type: smoke\nphases:\n  - phase: storage\n");
  EXPECT_TRUE(valid) << valid.error().message;
}

// --target cluster: a host path as the volume is refused before anything runs (the volume is a claim there),
// and the cluster comes from --kubeconfig (a missing file is named).
TEST(StorageDriver, ClusterTargetRefusesHostPathsAndNamesTheKubeconfig) {
  Result<config::Plan> plan = config::parse_plan(
      "type: smoke\ntarget: cluster\nphases:\n  - phase: storage\n    settings: {volume: /mnt/pv}\n",
      "plans/x.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  engine::CancellationToken cancel;
  NoProgress progress;
  FakeClock clock;
  engine::PhaseContext context{
      .plan = *plan, .phase = plan->phases.at(0), .clock = clock, .cancel = cancel, .progress = progress};
  std::unique_ptr<engine::Driver> driver = make_driver(*plan, "/nonexistent-lab");
  Result<void> valid = driver->validate(context);
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_NE(valid.error().message.find("on --target cluster the volume is a PersistentVolumeClaim"),
            std::string::npos)
      << valid.error().message;

  Result<config::Plan> good = config::parse_plan(
      "type: smoke\ntarget: cluster\nphases:\n  - phase: storage\n    settings: {storage_class: fast}\n",
      "plans/x.yaml");
  ASSERT_TRUE(good) << good.error().message;
  engine::PhaseContext good_context{
      .plan = *good, .phase = good->phases.at(0), .clock = clock, .cancel = cancel, .progress = progress};
  DriverOptions options;
  options.lab_dir = "/nonexistent-lab";
  options.kubeconfig = "/nonexistent-lab/missing-kubeconfig";
  options.run_id = "kp-unit";
  std::unique_ptr<engine::Driver> cluster = driver_factory(options)(*good);
  ASSERT_TRUE(cluster->validate(good_context));
  Result<void> prepared = cluster->prepare(good_context);
  ASSERT_FALSE(prepared);
  EXPECT_NE(prepared.error().message.find("missing-kubeconfig"), std::string::npos)
      << prepared.error().message;
  cluster->teardown(good_context);
}

Result<RandomRate> rate_of(const std::string& yaml) {
  Result<config::Plan> plan = config::parse_plan(yaml, "plans/x.yaml");
  if (!plan) {
    return std::unexpected(plan.error());
  }
  const config::YamlField field(plan->phases.at(0).settings, "plans/x.yaml", "phases[0].settings");
  Result<Settings> settings = parse_settings(field);
  if (!settings) {
    return std::unexpected(settings.error());
  }
  return resolve_random_rate(*plan, plan->phases.at(0), *settings);
}

// The same `load:` as every phase: with `rate: capacity`, the random jobs run at capacity.storage_iops x
// load.
TEST(StorageDriver, LoadMeansCapacityTimesLoadWhenTheRateDerivesFromCapacity) {
  Result<RandomRate> rate = rate_of(
      "type: load\ncapacity:\n  storage_iops: 10k\nphases:\n  - phase: storage\n    load: 80%\n"
      "    settings:\n      rate: capacity\n");
  ASSERT_TRUE(rate) << rate.error().message;
  ASSERT_TRUE(rate->rate);
  EXPECT_DOUBLE_EQ(rate->rate->per_second, 8e3);
  ASSERT_EQ(rate->notes.size(), 1u);
  EXPECT_EQ(
      rate->notes[0],
      "random 4K jobs: rate 8000 IOPS = capacity.storage_iops 10k IOPS x 80% (fio rate_iops, each job)");
  // ... and fio is asked for exactly that, split over the clones, and the IOPS rows say it was offered.
  Settings settings;
  settings.numjobs = 2;
  const JobSet jobs = plan_jobs(settings, config::TestType::load, std::chrono::minutes(30),
                                JobPlanOptions{.random_rate = rate->rate, .search_slots = 0});
  EXPECT_EQ(jobs.jobs[0].rate_iops, 4000);
  EXPECT_EQ(jobs.jobs[0].offered_iops(), 8e3);

  // Stress keeps the steady capacity x load (150 %) for its jobs; the ramp is the iodepth search.
  rate = rate_of(
      "type: stress\ncapacity:\n  storage_iops: 10k\nphases:\n  - phase: storage\n    load: 150%\n"
      "    settings:\n      rate: capacity\n");
  ASSERT_TRUE(rate) << rate.error().message;
  EXPECT_DOUBLE_EQ(rate->rate->per_second, 15e3);
}

TEST(StorageDriver, RateDefaultsToClosedLoopAndAnExplicitRateIgnoresCapacity) {
  Result<RandomRate> rate = rate_of("type: load\nphases:\n  - phase: storage\n");
  ASSERT_TRUE(rate) << rate.error().message;
  EXPECT_FALSE(rate->rate);
  EXPECT_EQ(
      rate->notes.at(0),
      "rate max: the random 4K jobs run closed loop at iodepth 32 x 1 job (the IOPS rows measure what the "
      "volume can do)");
  rate = rate_of("type: load\nphases:\n  - phase: storage\n    settings:\n      rate: 2500\n");
  ASSERT_TRUE(rate) << rate.error().message;
  EXPECT_DOUBLE_EQ(rate->rate->per_second, 2500);
}

TEST(StorageDriver, ARateFromAMissingCapacityIsAnInputError) {
  Result<void> valid = validate_plan(std::string(kPlanHead) + "      rate: capacity\n");
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_EQ(valid.error().message,
            "plans/x.yaml:3: capacity.storage_iops: is required for the storage phase's rate (capacity x "
            "load), got "
            "nothing");
}

TEST(StorageDriver, TheLabVolumeIsUnderTheLabDir) {
  EXPECT_EQ(lab_volume_dir(".kubeproof/lab"), std::filesystem::path(".kubeproof/lab/volume"));
}

}  // namespace
}  // namespace kp::drivers::storage
