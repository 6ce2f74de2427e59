// The network phase on --target cluster hands its client pods' live counts to the run's sink while they run:
// the driver against the API server fixture's process kubelet (the agents are real processes in network
// namespaces), with a sink that records every hand-over. The counts come from the pods' logs, followed as the
// agents print their `kp-live` lines, so the first arrives well before the test's result (its exact
// per-second series, handed over when the pod's result line has been read).

#include <unistd.h>

#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "core/finished_series.hpp"
#include "drivers/net/driver.hpp"
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
    all_network_and_later = all_network_and_later && delta.phase == Phase::network && delta.finished_later;
    series.insert(std::string(delta.series));
    ok += delta.ok;
    bytes += delta.bytes;
    ++handovers;
  }
  void finished(const FinishedSeries& /*series*/) override {
    const std::lock_guard lock(mutex);
    if (!first_finished) {
      first_finished = real_clock().now();
    }
  }

  std::mutex mutex;
  std::optional<TimePoint> first_live;
  std::optional<TimePoint> first_finished;
  bool all_network_and_later = true;
  std::set<std::string> series;
  std::uint64_t ok = 0;
  std::uint64_t bytes = 0;
  int handovers = 0;
};

TEST(ClusterNetLive, ClientPodsHandTheirLiveCountsOverWhileTheyRun) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  testing::FakeApiserver server("net-live",
                                {{"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent"}}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<config::Plan> plan = config::parse_plan(R"(name: net-live
type: smoke
target: cluster
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity: {pod_network: 1Gbps}
phases:
  - phase: network
    duration: 1m
    load: 10%
    settings: {duration: 4s, warmup: 200ms, placements: [same-node]}
)",
                                                 "net-live.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  drivers::net::ClusterOptions cluster;
  cluster.kubeconfig = server.kubeconfig();
  cluster.run_id = "kp-netlive";
  cluster.image = {"localhost/kubeproof-agent:test", "IfNotPresent", ""};
  std::unique_ptr<engine::Driver> driver =
      drivers::net::make_driver(*plan, "/nonexistent-lab", drivers::net::AgentCommand::self(), cluster);
  engine::CancellationToken cancel;
  Watched watched;
  engine::PhaseContext context{*plan, plan->phases.front(), real_clock(), cancel, watched};
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> ran = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_TRUE(ran->invalid_reasons.empty()) << ran->invalid_reasons.front();

  const std::lock_guard lock(watched.mutex);
  ASSERT_TRUE(watched.first_live.has_value()) << "no live count from any client pod";
  ASSERT_TRUE(watched.first_finished.has_value());
  // A 4 s window hands over once a second: the first count is about 3 s ahead of the result. Counts read from
  // the log only after the pod ended would come within milliseconds of it.
  EXPECT_LT(*watched.first_live + seconds(1), *watched.first_finished);
  EXPECT_TRUE(watched.all_network_and_later);
  EXPECT_GT(watched.bytes, 0U) << "TCP_STREAM's bytes";
  EXPECT_GT(watched.ok, 0U) << "TCP_RR's transactions";
  EXPECT_GE(watched.handovers, 6);  // three tests of 4 s, each at least twice
  bool named_by_test = false;
  for (const std::string& name : watched.series) {
    named_by_test = named_by_test || name.starts_with("TCP_STREAM to ");
  }
  EXPECT_TRUE(named_by_test) << *watched.series.begin();
}

}  // namespace
}  // namespace kp
