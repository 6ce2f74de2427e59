#include "drivers/etcd/results.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/metric_catalog.hpp"
#include "drivers/etcd/etcd_phase.hpp"

namespace kp::drivers::etcd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The shipped etcd rows, written out so these tests do not depend on where criteria/default.yaml is.
std::vector<config::CriteriaRow> etcd_rows() {
  auto row = [](std::string metric, double target, double critical) {
    config::CriteriaRow r;
    r.metric = std::move(metric);
    r.comparison = config::Comparison::less;
    r.target = target;
    r.critical = critical;
    return r;
  };
  return {row("etcd.write.p99", 0.025, 0.050), row("etcd.read.p99", 0.010, 0.025),
          row("etcd.fsync.p99", 0.010, 0.025)};
}

// A stage whose `ok` requests took `latency` each (intended == sent), with `errors` failures; open loop
// stages sent every request on time.
StageResult stage_with(std::string name, double read_fraction, std::optional<double> rate, std::uint64_t ok,
                       Duration latency, Duration elapsed, std::uint64_t errors = 0) {
  StageResult result;
  result.stage.name = std::move(name);
  result.stage.read_fraction = read_fraction;
  result.stage.duration = elapsed;
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
  if (rate) {
    result.sends.due = ok + errors;
    result.sends.sent = ok + errors;
    result.sends.own_lateness.record(std::int64_t{20'000}, ok + errors);  // 20 us late each
  }
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

bool has_note(const engine::PhaseRun& run, std::string_view text) {
  for (const std::string& note : run.notes) {
    if (note.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

class EtcdPhaseRun : public ::testing::Test {
 protected:
  std::vector<config::CriteriaRow> rows_ = etcd_rows();
  load::CriteriaView criteria_{rows_};
};

TEST_F(EtcdPhaseRun, EveryCatalogMetricFromStagesAndServer) {
  RunRecord record;
  record.stages = {stage_with("write", 0.0, 150, 1500, milliseconds(3), seconds(10)),
                   stage_with("read", 1.0, 150, 1500, milliseconds(1), seconds(10))};
  ServerDelta server;
  server.fsync_p99 = 0.002;
  server.fsync_count = 1500;
  server.leader_changes = 0;
  server.has_leader = 1;
  server.backend_commit_p99 = 0.004;
  record.server = server;
  RunPlan plan;
  plan.notes = {"rate 150/s = capacity.etcd_ops 1.5k/s x 10%"};
  engine::PhaseRun run = build_run(record, Settings{}, plan, criteria_);
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
  for (std::string_view id : {"etcd.error_rate", "etcd.backend_commit.p99", "etcd.has_leader"}) {
    EXPECT_NE(find(run, id), nullptr) << id;
  }
  // Each generator states what it did, and the schedule says where its rate came from.
  ASSERT_EQ(run.notes.size(), 3u);
  EXPECT_TRUE(run.notes[0].starts_with("writes: offered 150/s, sent 150/s (100.00 % of due, 1500 of 1500)"))
      << run.notes[0];
  EXPECT_NE(run.notes[0].find("limit 2.50ms: 10 % of the 25.00ms target"), std::string::npos) << run.notes[0];
  EXPECT_TRUE(run.notes[1].starts_with("reads: offered 150/s")) << run.notes[1];
  EXPECT_NE(run.notes[1].find("limit 1.00ms: 10 % of the 10.00ms target"), std::string::npos) << run.notes[1];
  EXPECT_EQ(run.notes[2], "rate 150/s = capacity.etcd_ops 1.5k/s x 10%");
}

TEST_F(EtcdPhaseRun, TheLeaderWatchGivesLeaderChangesWithTheirTimeAndTheMembers) {
  RunRecord record;
  record.stages = {stage_with("write", 0.0, 150, 1500, milliseconds(3), seconds(10))};
  ServerDelta server;
  server.leader_changes = 0;  // the first member's own counter: it was the one stopped, so it saw none
  record.server = server;
  LeaderJudgement leader;
  leader.changes = 1;
  leader.note = "1 election at 2026-12-03T04:00:01.000Z (...): leader a -> b, term 3, seen by b:1";
  leader.notes = {"etcd leader at the end: member b at b:1, term 3"};
  record.leader = leader;
  record.members = 3;
  RunPlan plan;
  plan.notes = {"rate 150/s = capacity.etcd_ops 1.5k/s x 10%"};
  engine::PhaseRun run = build_run(record, Settings{}, plan, criteria_);
  ASSERT_NE(find(run, "etcd.leader_changes"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "etcd.leader_changes")->value, 1.0);  // the watch's, not the one page's 0
  EXPECT_EQ(find(run, "etcd.leader_changes")->note, leader.note);
  EXPECT_EQ(find(run, "etcd.leader_changes")->source, "server /metrics, Maintenance Status");
  ASSERT_NE(find(run, "etcd.members"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "etcd.members")->value, 3.0);
  // The generator's statement stays first; the leader's notes come after the rate's origin.
  ASSERT_EQ(run.notes.size(), 3u);
  EXPECT_TRUE(run.notes[0].starts_with("writes: offered 150/s")) << run.notes[0];
  EXPECT_EQ(run.notes[2], "etcd leader at the end: member b at b:1, term 3");
}

TEST_F(EtcdPhaseRun, AStoppedStageIsInvalidAndARateTheServerCouldNotTakeIsItsResult) {
  RunRecord record;
  StageResult dead = stage_with("write", 0.0, 150, 300, milliseconds(3), seconds(5), 450);
  dead.stopped_early = "no request succeeded for 3s";
  // Reads at 1000/s for 10 s against a server that answered 500/s: every slot stayed busy, so half the sends
  // waited for the server and 5000 never went out. The server's result, never INVALID.
  StageResult slow = stage_with("read", 1.0, 1000, 5000, milliseconds(1), seconds(10));
  slow.sends.due = 10000;
  slow.sends.queued_for_server = 9000;
  slow.sends.unsent_for_server = 5000;
  record.stages = {dead, slow};
  record.scrape_problem = "GET x: refused";
  engine::PhaseRun run = build_run(record, Settings{}, RunPlan{}, criteria_);
  ASSERT_EQ(run.invalid_reasons.size(), 1u) << run.invalid_reasons.back();
  EXPECT_EQ(run.invalid_reasons[0], "write stage stopped after 5.00s: no request succeeded for 3s");
  EXPECT_TRUE(has_note(run,
                       "9000 queued for a connection (the server's latency, counted in it), 5000 never "
                       "sent: every connection stayed busy (the server's)"));
  EXPECT_EQ(find(run, "etcd.fsync.p99"), nullptr);  // not measured, never invented
  EXPECT_NE(run.measurements.front().note.find("server metrics not measured: GET x: refused"),
            std::string::npos);
}

// The one validity rule, each side of its boundary: own lateness P99 above 10 % of the tightest target the
// series feeds (writes 25 ms -> 2.5 ms, reads 10 ms -> 1 ms) is INVALID; below it, a note.
TEST_F(EtcdPhaseRun, OwnLatenessIsJudgedAgainstTheSeriesTightestTarget) {
  auto with_lateness = [](StageResult stage, Duration late) {
    stage.sends.own_lateness = Histogram();
    stage.sends.own_lateness.record(late.count(), stage.sends.sent);
    return stage;
  };
  RunRecord record;
  record.stages = {with_lateness(stage_with("write", 0.0, 1000, 10000, milliseconds(3), seconds(10)),
                                 std::chrono::microseconds(2400)),
                   with_lateness(stage_with("read", 1.0, 1000, 10000, milliseconds(1), seconds(10)),
                                 std::chrono::microseconds(900))};
  EXPECT_TRUE(build_run(record, Settings{}, RunPlan{}, criteria_).invalid_reasons.empty());

  record.stages[1] = with_lateness(record.stages[1], std::chrono::microseconds(1200));
  engine::PhaseRun run = build_run(record, Settings{}, RunPlan{}, criteria_);
  ASSERT_EQ(run.invalid_reasons.size(), 1u);
  EXPECT_TRUE(
      run.invalid_reasons[0].starts_with("the load generator's own send lateness P99 1.20ms is above "
                                         "1.00ms (10 % of the tightest latency target, 10.00ms)"))
      << run.invalid_reasons[0];

  // An own shortfall in sending (not the server's) is stated; no etcd rate is judged, so it is not INVALID.
  record.stages[1] = with_lateness(record.stages[1], std::chrono::microseconds(100));
  record.stages[1].sends.due = 20000;
  run = build_run(record, Settings{}, RunPlan{}, criteria_);
  EXPECT_TRUE(run.invalid_reasons.empty()) << run.invalid_reasons.front();
  EXPECT_TRUE(has_note(run, "reads: offered 2000/s, sent 1000/s (50.00 % of due, 10000 of 20000)"))
      << fmt::format("{}", fmt::join(run.notes, " | "));
}

TEST_F(EtcdPhaseRun, StressReportsEachSearchAndJudgesTheCapacityStep) {
  auto step = [](double factor, Duration p99, bool bisection = false) {
    StageResult s = stage_with(fmt::format("writes x{:g}", factor), 0.0, 1000 * factor,
                               static_cast<std::uint64_t>(1000 * factor * 10), p99, seconds(10));
    s.stage.factor = factor;
    s.stage.stress_step = true;
    s.stage.bisection = bisection;
    return s;
  };
  RunRecord record;
  record.stages = {step(1.0, milliseconds(20)), step(1.5, milliseconds(30)), step(2.0, milliseconds(80)),
                   step(1.75, milliseconds(60), true)};
  load::StressResult writes;
  writes.series = "writes";
  writes.metric = "etcd.write.breaking_rate";
  writes.unit = "/s";
  writes.breaking_level = 1750;
  writes.last_held = 1500;
  writes.note = "broke at 1.75k/s (x1.75): P99 60.0ms > critical 50.0ms; last step held 1.5k/s (x1.5)";
  load::StressResult reads;
  reads.series = "reads";
  reads.metric = "etcd.read.breaking_rate";
  reads.note = "breaking point not reached: every step held, up to 2k/s (x2)";
  record.stress = {writes, reads};
  engine::PhaseRun run = build_run(record, Settings{}, RunPlan{}, criteria_);
  EXPECT_NEAR(find(run, "etcd.write.p99")->value, 0.020, 0.020 * 0.001);  // the x1 step
  EXPECT_DOUBLE_EQ(find(run, "etcd.write.throughput")->value, 1000.0);
  ASSERT_NE(find(run, "etcd.write.breaking_rate"), nullptr);
  EXPECT_DOUBLE_EQ(find(run, "etcd.write.breaking_rate")->value, 1750.0);
  EXPECT_EQ(find(run, "etcd.write.breaking_rate")->note, writes.note);
  EXPECT_EQ(find(run, "etcd.read.breaking_rate"), nullptr);  // not reached: a note, never a made-up number
  EXPECT_TRUE(has_note(run, "etcd.read.breaking_rate: breaking point not reached"));
  ASSERT_EQ(run.stress.size(), 2u);
  EXPECT_EQ(run.stress[0].metric, "etcd.write.breaking_rate");
}

// Stress: the verdict judges the step at 100 % of capacity, so only its lateness could change a verdict. The
// generator falling behind on a step far past the breaking point is stated, not INVALID.
TEST_F(EtcdPhaseRun, StressJudgesTheGeneratorOnTheJudgedStepOnly) {
  auto step = [](double factor, Duration late) {
    StageResult s = stage_with(fmt::format("writes x{:g}", factor), 0.0, 1000 * factor,
                               static_cast<std::uint64_t>(1000 * factor * 10), milliseconds(10), seconds(10));
    s.stage.factor = factor;
    s.stage.stress_step = true;
    s.sends.own_lateness = Histogram();
    s.sends.own_lateness.record(late.count(), s.sends.sent);
    return s;
  };
  RunRecord record;
  record.stages = {step(1.0, std::chrono::microseconds(500)), step(2.0, milliseconds(8))};
  load::StressResult writes;
  writes.series = "writes";
  writes.metric = "etcd.write.breaking_rate";
  writes.note = "breaking point not reached";
  record.stress = {writes};
  engine::PhaseRun run = build_run(record, Settings{}, RunPlan{}, criteria_);
  EXPECT_TRUE(run.invalid_reasons.empty()) << run.invalid_reasons.front();
  EXPECT_TRUE(has_note(run,
                       "writes: offered 1000/s, sent 1000/s (100.00 % of due, 10000 of 10000); own send "
                       "lateness P50 500.00us, P99 500.00us"));
  EXPECT_TRUE(has_note(run, "every step of the search, writes: offered 1500/s"))
      << fmt::format("{}", fmt::join(run.notes, " | "));

  record.stages[0] = step(1.0, milliseconds(3));
  run = build_run(record, Settings{}, RunPlan{}, criteria_);
  ASSERT_EQ(run.invalid_reasons.size(), 1u);
  EXPECT_TRUE(
      run.invalid_reasons[0].starts_with("the load generator's own send lateness P99 3.00ms is above "
                                         "2.50ms"))
      << run.invalid_reasons[0];
}

TEST(EtcdPhaseRunText, DescribeStage) {
  StageResult s = stage_with("write", 0.0, 150, 1500, milliseconds(2), seconds(10));
  EXPECT_EQ(describe_stage(s).substr(0, 45), "write at 150/s for 10.00s; put 1500 ok, 0 err");
}

TEST(EtcdPhaseRunText, DefaultMetricsUrl) {
  EXPECT_EQ(default_metrics_url({"127.0.0.1:2379"}, TlsFiles{}), "http://127.0.0.1:2379/metrics");
  EXPECT_EQ(default_metrics_url({"https://10.0.0.1:2379"}, TlsFiles{}), "https://10.0.0.1:2379/metrics");
  EXPECT_EQ(
      default_metrics_url({"10.0.0.1:2379"}, TlsFiles{.ca_file = "ca.crt", .cert_file = {}, .key_file = {}}),
      "https://10.0.0.1:2379/metrics");
}

}  // namespace
}  // namespace kp::drivers::etcd
