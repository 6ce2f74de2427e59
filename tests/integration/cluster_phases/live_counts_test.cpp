// The network and storage phases on --target cluster hand their agent pods' live counts to the run's sink
// while the agents run: the drivers against the API server fixture's process kubelet (the agents are real
// processes: net clients and servers in network namespaces, the storage agent running real fio on the claim's
// directory), with a sink that records every hand-over. The counts come from the pods' logs, followed as the
// agents print their `kp-live` lines, so the first arrives well before the result (the exact per-second
// series, handed over when the pod's result line has been read). The storage agent names each fio job's
// series in its lines.

#include <unistd.h>

#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "core/finished_series.hpp"
#include "drivers/net/driver.hpp"
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
    phases.insert(delta.phase);
    all_finished_later = all_finished_later && delta.finished_later;
    series.insert(std::string(delta.series));
    ok += delta.ok;
    bytes += delta.bytes;
    ++handovers;
  }
  void finished(const FinishedSeries& finished) override {
    const std::lock_guard lock(mutex);
    if (!first_finished) {
      first_finished = real_clock().now();
    }
    finished_series.insert(finished.series);
  }
  // Every hand-over was of `phase` and marked as followed by the exact series.
  bool all_of(Phase phase) const { return phases == std::set<Phase>{phase} && all_finished_later; }

  std::mutex mutex;
  std::optional<TimePoint> first_live;
  std::optional<TimePoint> first_finished;
  std::set<Phase> phases;
  bool all_finished_later = true;
  std::set<std::string> series;
  std::set<std::string> finished_series;
  std::uint64_t ok = 0;
  std::uint64_t bytes = 0;
  int handovers = 0;
};

// The plan's one phase through the driver, as the orchestrator runs it, with `watched` as its progress sink.
Result<engine::PhaseRun> run_phase(engine::Driver& driver, const config::Plan& plan, Watched& watched) {
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases.front(), real_clock(), cancel, watched};
  if (Result<void> valid = driver.validate(context); !valid) {
    return std::unexpected(valid.error());
  }
  if (Result<void> prepared = driver.prepare(context); !prepared) {
    driver.teardown(context);
    return std::unexpected(prepared.error());
  }
  Result<engine::PhaseRun> ran = driver.run(context);
  driver.teardown(context);
  return ran;
}

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
  Watched watched;
  Result<engine::PhaseRun> ran = run_phase(*driver, *plan, watched);
  ASSERT_TRUE(ran) << ran.error().message;
  EXPECT_TRUE(ran->invalid_reasons.empty()) << ran->invalid_reasons.front();

  const std::lock_guard lock(watched.mutex);
  ASSERT_TRUE(watched.first_live.has_value()) << "no live count from any client pod";
  ASSERT_TRUE(watched.first_finished.has_value());
  // A 4 s window hands over once a second: the first count is about 3 s ahead of the result. Counts read from
  // the log only after the pod ended would come within milliseconds of it.
  EXPECT_LT(*watched.first_live + seconds(1), *watched.first_finished);
  EXPECT_TRUE(watched.all_of(Phase::network));
  EXPECT_GT(watched.bytes, 0U) << "TCP_STREAM's bytes";
  EXPECT_GT(watched.ok, 0U) << "TCP_RR's transactions";
  EXPECT_GE(watched.handovers, 6);  // three tests of 4 s, each at least twice
  bool named_by_test = false;
  for (const std::string& name : watched.series) {
    named_by_test = named_by_test || name.starts_with("TCP_STREAM to ");
  }
  EXPECT_TRUE(named_by_test) << *watched.series.begin();
}

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
  options.image = {"localhost/kubeproof-agent:test", "IfNotPresent",
                   "localhost/kubeproof-agent-storage:test"};
  std::unique_ptr<engine::Driver> driver = drivers::storage::driver_factory(options)(*plan);
  Watched watched;
  Result<engine::PhaseRun> ran = run_phase(*driver, *plan, watched);
  ASSERT_TRUE(ran) << ran.error().message;

  const std::lock_guard lock(watched.mutex);
  ASSERT_TRUE(watched.first_live.has_value()) << "no live count from the agent pod";
  ASSERT_TRUE(watched.first_finished.has_value()) << "no per-second series from the agent's result line";
  // Two 4 s jobs with a status dump a second: the first count is several seconds ahead of the result. Counts
  // read from the log only after the pod ended would come within milliseconds of it.
  EXPECT_LT(*watched.first_live + seconds(2), *watched.first_finished);
  EXPECT_TRUE(watched.all_of(Phase::storage));
  EXPECT_GT(watched.ok, 0U) << "fio's completed I/Os";
  EXPECT_GE(watched.handovers, 4);  // two 4 s jobs, each at least twice
  // Each job's counts under its own series, named as the result's series are.
  EXPECT_EQ(watched.series, (std::set<std::string>{"randread-4k", "randwrite-4k"}));
  EXPECT_EQ(watched.finished_series, watched.series);
}

}  // namespace
}  // namespace kp
