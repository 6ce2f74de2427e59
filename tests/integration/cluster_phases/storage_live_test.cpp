// The storage phase on --target cluster hands its agent pods' live counts to the run's sink while fio runs:
// the driver against the API server fixture's process kubelet (the agent is a real process running real fio
// on the claim's directory), with a sink that records every hand-over. The agent reads fio's status dumps
// once a second and prints them as `kp-live` lines naming the job; kubeproof follows the pod's log, so the
// first count arrives well before the result line (which carries fio's exact per-second series).

#include <unistd.h>

#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "core/finished_series.hpp"
#include "drivers/storage/driver.hpp"
#include "fake_apiserver.hpp"

namespace kp {
namespace {

using std::chrono::seconds;

class Watched final : public engine::ProgressSink, public LiveSink, public FinishedSeriesSink {
 public:
  void message(Phase /*phase*/, std::string_view /*text*/) override {}
  LiveSink* live_sink() override { return this; }
  void add(const LiveDelta& delta) override {
    const std::lock_guard lock(mutex);
    if (!first_live) {
      first_live = real_clock().now();
    }
    all_storage_and_later = all_storage_and_later && delta.phase == Phase::storage && delta.finished_later;
    live_series.insert(std::string(delta.series));
    ok += delta.ok;
    ++handovers;
  }
  void finished(const FinishedSeries& series) override {
    const std::lock_guard lock(mutex);
    if (!first_finished) {
      first_finished = real_clock().now();
    }
    finished_series.insert(series.series);
  }

  std::mutex mutex;
  std::optional<TimePoint> first_live;
  std::optional<TimePoint> first_finished;
  bool all_storage_and_later = true;
  std::set<std::string> live_series;
  std::set<std::string> finished_series;
  std::uint64_t ok = 0;
  int handovers = 0;
};

TEST(ClusterStorageLive, AgentPodsHandEachJobsLiveCountsOverWhileFioRuns) {
  if (::geteuid() != 0 || ::access("/usr/bin/fio", X_OK) != 0) {
    GTEST_SKIP() << "needs root (the fixture's kubelet makes network namespaces) and fio";
  }
  testing::FakeApiserver server(
      "storage-live", {{"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent-storage"}}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  // Two jobs of 4 s each, one after the other: each names its own series in the agent's lines.
  Result<config::Plan> plan = config::parse_plan(R"(name: storage-live
type: smoke
target: cluster
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
phases:
  - phase: storage
    duration: 1m
    load: 10%
    settings: {size: 16MiB, runtime: 4s, ramp_time: 0s, workloads: [randread, randwrite]}
)",
                                                 "storage-live.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  drivers::storage::DriverOptions options;
  options.kubeconfig = server.kubeconfig();
  options.run_id = "kp-storagelive";
  options.image = {"localhost/kubeproof-agent:test", "IfNotPresent", "localhost/kubeproof-agent-storage:test"};
  std::unique_ptr<engine::Driver> driver = drivers::storage::driver_factory(options)(*plan);
  engine::CancellationToken cancel;
  Watched watched;
  engine::PhaseContext context{*plan, plan->phases.front(), real_clock(), cancel, watched};
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> ran = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(ran) << ran.error().message;

  const std::lock_guard lock(watched.mutex);
  ASSERT_TRUE(watched.first_live.has_value()) << "no live count from the agent pod";
  ASSERT_TRUE(watched.first_finished.has_value()) << "no per-second series from the agent's result line";
  // Two 4 s jobs with a status dump a second: the first count is several seconds ahead of the result. Counts
  // read from the log only after the pod ended would come within milliseconds of it.
  EXPECT_LT(*watched.first_live + seconds(2), *watched.first_finished);
  EXPECT_TRUE(watched.all_storage_and_later);
  EXPECT_GT(watched.ok, 0U) << "fio's completed I/Os";
  EXPECT_GE(watched.handovers, 4);  // two 4 s jobs, each at least twice
  // Each job's counts under its own series, named as the result's series are.
  EXPECT_EQ(watched.live_series, (std::set<std::string>{"randread-4k", "randwrite-4k"}));
  EXPECT_EQ(watched.finished_series, watched.live_series);
}

}  // namespace
}  // namespace kp
