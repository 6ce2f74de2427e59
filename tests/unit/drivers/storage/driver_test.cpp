#include "drivers/storage/driver.hpp"

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

TEST(StorageDriver, ClusterTargetIsSkippedWithTheWayAround) {
  Result<config::Plan> plan =
      config::parse_plan("type: smoke\ntarget: cluster\nphases:\n  - phase: storage\n", "plans/x.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  engine::CancellationToken cancel;
  NoProgress progress;
  FakeClock clock;
  engine::PhaseContext context{
      .plan = *plan, .phase = plan->phases.at(0), .clock = clock, .cancel = cancel, .progress = progress};
  std::unique_ptr<engine::Driver> driver = make_driver(*plan, "/nonexistent-lab");
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);
  EXPECT_TRUE(prepared.error().message.find("kubeproof agent storage --dir") != std::string::npos)
      << prepared.error().message;
  driver->teardown(context);
}

TEST(StorageDriver, TheLabVolumeIsUnderTheLabDir) {
  EXPECT_EQ(lab_volume_dir(".kubeproof/lab"), std::filesystem::path(".kubeproof/lab/volume"));
}

}  // namespace
}  // namespace kp::drivers::storage
