#include "drivers/etcd/driver.hpp"

#include <gtest/gtest.h>

#include "engine/driver.hpp"

namespace kp::drivers::etcd {
namespace {

class SilentSink final : public engine::ProgressSink {
 public:
  void message(Phase /*phase*/, std::string_view /*text*/) override {}
};

// A rate that derives from capacity.etcd_ops and a plan that states none: an input error before anything
// runs, one line naming the file and the field, never an assumed capacity.
TEST(EtcdDriver, AMissingCapacityIsAnInputErrorAtValidate) {
  config::Plan plan;
  plan.source = "plans/x.yaml";
  plan.type = config::TestType::load;
  plan.target = config::Target::local;
  config::PhasePlan phase;
  phase.phase = Phase::etcd;
  phase.path = "phases[0]";
  phase.load = 0.8;
  phase.duration = std::chrono::minutes(1);
  plan.phases.push_back(phase);
  SilentSink sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases[0], real_clock(), cancel, sink};
  std::unique_ptr<engine::Driver> driver = make_driver(plan, "/nonexistent-lab");
  Result<void> valid = driver->validate(context);
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_EQ(valid.error().message,
            "plans/x.yaml: capacity.etcd_ops: is required for the etcd phase's rate (capacity x load), got "
            "nothing");

  plan.capacity.etcd_ops = Rate{5000};
  EXPECT_TRUE(driver->validate(context));
  // An explicit rate needs no capacity.
  plan.capacity.etcd_ops.reset();
  plan.phases[0].settings = YAML::Load("rate: 2k/s\n");
  EXPECT_TRUE(driver->validate(context));
}

}  // namespace
}  // namespace kp::drivers::etcd
