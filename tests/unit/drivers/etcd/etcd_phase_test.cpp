#include "drivers/etcd/etcd_phase.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/metric_catalog.hpp"

namespace kp::drivers::etcd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A stage whose `ok` requests took `latency` each (intended == sent), with `errors` failures.
StageResult stage_with(std::string name, double read_fraction, std::optional<double> rate, std::uint64_t ok,
                       Duration latency, Duration elapsed, std::uint64_t errors = 0) {
  StageResult result;
  result.stage.name = std::move(name);
  result.stage.read_fraction = read_fraction;
  if (rate) {
    result.stage.rate = Rate{*rate};
  }
  result.elapsed = elapsed;
  OperationStats& stats = read_fraction >= 1.0 ? result.range : result.put;
  TimePoint t0{};
  for (std::uint64_t i = 0; i < ok; ++i) {
    stats.latency.record(t0, t0, t0 + latency);
  }
  stats.ok = ok;
  stats.errors = errors;
  result.issued = ok + errors;
  return result;
}

const Measurement* find(const engine::PhaseRun& run, std::string_view id) {
  for (const Measurement& m : run.measurements) {
    if (m.metric == id) {
      return &m;
    }
  }
  return nullptr;
}

TEST(EtcdPhaseRun, EveryCatalogMetricFromStagesAndServer) {
  std::vector<StageResult> stages = {stage_with("write", 0.0, 150, 1500, milliseconds(3), seconds(10)),
                                     stage_with("read", 1.0, 150, 1500, milliseconds(1), seconds(10))};
  ServerDelta server;
  server.fsync_p99 = 0.002;
  server.fsync_count = 1500;
  server.leader_changes = 0;
  server.has_leader = 1;
  server.backend_commit_p99 = 0.004;
  engine::PhaseRun run = build_run(stages, server, Settings{}, RunShape{}, "");
  ASSERT_NE(find(run, "etcd.write.p99"), nullptr);
  EXPECT_NEAR(find(run, "etcd.write.p99")->value, 0.003, 0.003 * 0.001);
  EXPECT_TRUE(find(run, "etcd.write.p99")->histogram.has_value());
  EXPECT_EQ(find(run, "etcd.write.p99")->source, "client");
  EXPECT_NEAR(find(run, "etcd.read.p99")->value, 0.001, 0.001 * 0.001);
  EXPECT_DOUBLE_EQ(find(run, "etcd.write.throughput")->value, 150.0);
  EXPECT_DOUBLE_EQ(find(run, "etcd.read.throughput")->value, 150.0);
  EXPECT_DOUBLE_EQ(find(run, "etcd.fsync.p99")->value, 0.002);
  EXPECT_EQ(find(run, "etcd.fsync.p99")->source, "server /metrics");
  EXPECT_DOUBLE_EQ(find(run, "etcd.leader_changes")->value, 0.0);
  EXPECT_TRUE(run.invalid_reasons.empty());
  // Informational ids appear as measurements once the catalog has them, as notes until then.
  for (std::string_view id : {"etcd.error_rate", "etcd.backend_commit.p99", "etcd.has_leader"}) {
    if (config::find_metric(id) != nullptr) {
      EXPECT_NE(find(run, id), nullptr) << id;
    } else {
      EXPECT_NE(run.measurements.front().note.find(std::string(id) + " = "), std::string::npos) << id;
    }
  }
}

TEST(EtcdPhaseRun, StoppedEarlyAndUnreachedRatesAreInvalid) {
  StageResult dead = stage_with("write", 0.0, 150, 300, milliseconds(3), seconds(5), 450);
  dead.stopped_early = "no request succeeded for 3s";
  StageResult slow = stage_with("read", 1.0, 1000, 5000, milliseconds(1), seconds(10));  // 500/s of 1000/s
  engine::PhaseRun run = build_run({dead, slow}, std::nullopt, Settings{}, RunShape{}, "GET x: refused");
  ASSERT_EQ(run.invalid_reasons.size(), 2u);
  EXPECT_EQ(run.invalid_reasons[0], "write stage stopped after 5.00s: no request succeeded for 3s");
  EXPECT_EQ(run.invalid_reasons[1], "read stage achieved 500/s of the intended 1000/s");
  EXPECT_EQ(find(run, "etcd.fsync.p99"), nullptr);  // not measured, never invented
  EXPECT_NE(run.measurements.front().note.find("server metrics not measured: GET x: refused"),
            std::string::npos);
}

TEST(EtcdPhaseRun, StressReportsTheBreakingRateAndJudgesTheNominalStep) {
  auto step = [](double factor, Duration p99) {
    StageResult s = stage_with(fmt::format("write x{:g}", factor), 0.0, 1000 * factor,
                               static_cast<std::uint64_t>(1000 * factor * 10), p99, seconds(10));
    s.stage.factor = factor;
    s.stage.stress_step = true;
    return s;
  };
  std::vector<StageResult> stages = {step(0.5, milliseconds(5)), step(1.0, milliseconds(20)),
                                     step(2.0, milliseconds(80))};
  engine::PhaseRun run = build_run(stages, std::nullopt, Settings{}, RunShape{}, "");
  EXPECT_NEAR(find(run, "etcd.write.p99")->value, 0.020, 0.020 * 0.001);  // the x1 step
  EXPECT_DOUBLE_EQ(find(run, "etcd.write.throughput")->value, 1000.0);
  std::string breaking = "etcd.write.breaking_rate";
  if (config::find_metric(breaking) != nullptr) {
    EXPECT_DOUBLE_EQ(find(run, breaking)->value, 2000.0);
  } else {
    EXPECT_NE(run.measurements.front().note.find("etcd.write.breaking_rate = 2000"), std::string::npos)
        << run.measurements.front().note;
  }
}

TEST(EtcdPhaseRun, DescribeStage) {
  StageResult s = stage_with("write", 0.0, 150, 1500, milliseconds(2), seconds(10));
  EXPECT_EQ(describe_stage(s).substr(0, 45), "write at 150/s for 10.00s; put 1500 ok, 0 err");
}

TEST(EtcdPhaseRun, DefaultMetricsUrl) {
  EXPECT_EQ(default_metrics_url({"127.0.0.1:2379"}, TlsFiles{}), "http://127.0.0.1:2379/metrics");
  EXPECT_EQ(default_metrics_url({"https://10.0.0.1:2379"}, TlsFiles{}), "https://10.0.0.1:2379/metrics");
  EXPECT_EQ(
      default_metrics_url({"10.0.0.1:2379"}, TlsFiles{.ca_file = "ca.crt", .cert_file = {}, .key_file = {}}),
      "https://10.0.0.1:2379/metrics");
}

}  // namespace
}  // namespace kp::drivers::etcd
