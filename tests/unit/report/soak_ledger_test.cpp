#include "report/soak_ledger.hpp"

#include <chrono>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "report/report_reader.hpp"
#include "report/run_report.hpp"

namespace kp::report {
namespace {

using namespace std::chrono_literals;

config::CriteriaRow write_row() {
  config::CriteriaRow row;
  row.metric = "etcd.write.p99";
  row.comparison = config::Comparison::less;
  row.target = 0.025;
  row.critical = 0.050;
  return row;
}

Histogram of_ms(std::initializer_list<int> values) {
  Histogram histogram;
  for (int ms : values) {
    histogram.record(std::chrono::milliseconds(ms));
  }
  return histogram;
}

Measurement write(const Histogram& histogram) {
  Measurement measurement;
  measurement.metric = "etcd.write.p99";
  measurement.value = static_cast<double>(histogram.value_at_percentile(99)) / 1e9;
  measurement.histogram = histogram;
  return measurement;
}

Measurement leader_changes(double count, std::string note) {
  Measurement measurement;
  measurement.metric = "etcd.leader_changes";
  measurement.value = count;
  measurement.note = std::move(note);
  return measurement;
}

engine::RunResult round_of(std::vector<Measurement> measurements, Duration etcd_time) {
  engine::RunResult round;
  eval::PhaseInput etcd;
  etcd.phase = Phase::etcd;
  etcd.measurements = std::move(measurements);
  round.inputs.push_back(etcd);
  round.soak = etcd_time;
  return round;
}

const SoakHour* hour_of(const std::vector<SoakHour>& hours, int hour) {
  for (const SoakHour& row : hours) {
    if (row.hour == hour && row.metric == "etcd.write.p99") {
      return &row;
    }
  }
  return nullptr;
}

// Percentiles of an hour are those of every request of the hour (merged histograms), not the mean of the
// rounds' percentiles: two rounds of 99 fast and 1 slow request each have P99 = 1 ms each, merged as well.
TEST(SoakLedger, HoursMergeHistogramsExactlyAndSplitOnTheHour) {
  SoakLedger ledger({write_row()}, config::TestType::soak);
  ledger.phase_finished({write(of_ms({1, 1, 1, 100}))}, 10min);
  ledger.phase_finished({write(of_ms({2, 2, 2, 2}))}, 50min);
  ledger.phase_finished({write(of_ms({30}))}, 61min);
  const std::vector<SoakHour> hours = ledger.hours();
  const SoakHour* first = hour_of(hours, 0);
  const SoakHour* second = hour_of(hours, 1);
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(first->count, 8U);
  Histogram merged = of_ms({1, 1, 1, 100, 2, 2, 2, 2});
  EXPECT_DOUBLE_EQ(first->p50, static_cast<double>(merged.value_at_percentile(50)) / 1e9);
  EXPECT_DOUBLE_EQ(first->p99, static_cast<double>(merged.value_at_percentile(99)) / 1e9);
  EXPECT_NEAR(first->max, 0.1, 0.0001);
  EXPECT_EQ(second->count, 1U);
  // The past hour keeps its histogram losslessly.
  Result<Histogram> kept = Histogram::from_json(nlohmann::json::parse(first->histogram));
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, merged);
}

TEST(SoakLedger, ShowsTheWorstRoundAndAddsUpElectionsAndEtcdTime) {
  SoakLedger ledger({write_row()}, config::TestType::soak);
  ledger.round_finished(round_of({write(of_ms({1})), leader_changes(0, "no election")}, 10s), 1);
  ledger.round_finished(round_of({write(of_ms({70})), leader_changes(1, "at 10:00:01 from a to b")}, 10s), 2);
  ledger.round_finished(round_of({write(of_ms({2})), leader_changes(0, "no election")}, 10s), 3);
  std::map<Phase, engine::PhaseTiming> timings;
  const std::vector<eval::PhaseInput> inputs = ledger.inputs(nullptr, 3, timings);
  ASSERT_EQ(inputs.size(), 6U);
  const eval::PhaseInput& etcd = inputs[0];
  double write_value = 0;
  double changes = -1;
  std::string changes_note;
  for (const Measurement& measurement : etcd.measurements) {
    if (measurement.metric == "etcd.write.p99") {
      write_value = measurement.value;
    }
    if (measurement.metric == "etcd.leader_changes") {
      changes = measurement.value;
      changes_note = measurement.note;
    }
  }
  EXPECT_NEAR(write_value, 0.070, 0.0001);  // round 2, the FAIL, is shown
  EXPECT_EQ(changes, 1);
  EXPECT_EQ(changes_note, "over the soak: round 2: at 10:00:01 from a to b");
  EXPECT_EQ(etcd.notes.back(),
            "soak: round 2 shown, the worst of the 3 rounds that ran this phase (the latest of equals)");
  EXPECT_EQ(inputs[1].status, eval::PhaseStatus::skipped);
  EXPECT_EQ(ledger.etcd_watched(nullptr), 30s);
  const std::vector<SoakPhaseRounds> rounds = ledger.phase_rounds(nullptr, 3);
  ASSERT_EQ(rounds.size(), 1U);
  EXPECT_EQ(rounds[0].runs, 3);
  EXPECT_EQ(rounds[0].shown_round, 2);
}

// The soak's own leader watch sees elections while other phases run: when it counts more than the rounds'
// etcd phases did, its count and notes are the soak's; when it counts fewer, the rounds' are.
TEST(SoakLedger, TheSoakWatchsElectionsCountWhenItSawMore) {
  SoakLedger ledger({write_row()}, config::TestType::soak);
  ledger.round_finished(round_of({write(of_ms({1})), leader_changes(1, "at t1")}, 10s), 1);
  auto changes_of = [&] {
    std::map<Phase, engine::PhaseTiming> timings;
    const std::vector<eval::PhaseInput> inputs = ledger.inputs(nullptr, 1, timings);
    for (const Measurement& measurement : inputs[0].measurements) {
      if (measurement.metric == "etcd.leader_changes") {
        return std::pair(measurement.value, measurement.note);
      }
    }
    return std::pair(-1.0, std::string());
  };
  ledger.watched_elections(0, {});
  EXPECT_EQ(changes_of(), std::pair(1.0, std::string("over the soak: round 1: at t1")));
  ledger.watched_elections(2, {"election at t1", "election at t5 (the storage phase ran)"});
  EXPECT_EQ(
      changes_of(),
      std::pair(2.0, std::string("over the soak: election at t1; election at t5 (the storage phase ran)")));
}

// A resume starts from what the last checkpoint wrote, read back from report.json: the hour merges on, the
// elections and etcd time add up.
TEST(SoakLedger, AResumeFromAWrittenCheckpointMergesOn) {
  SoakLedger before({write_row()}, config::TestType::soak);
  before.phase_finished({write(of_ms({1, 2, 3}))}, 5min);
  before.round_finished(round_of({write(of_ms({1, 2, 3})), leader_changes(1, "at t1")}, 20s), 1);

  RunReport report;
  report.meta.command = "soak";
  report.meta.profile = "soak";
  report.meta.target = "local";
  std::map<Phase, engine::PhaseTiming> timings;
  report.inputs = before.inputs(nullptr, 1, timings);
  eval::EvaluationOptions options;
  options.test_type = config::TestType::soak;
  options.in_progress = true;
  report.evaluation = eval::evaluate(report.inputs, {write_row()}, options);
  SoakRecord record;
  record.planned = 2h;
  record.elapsed = 30min;
  record.checkpoint = 1min;
  record.rounds = 1;
  record.etcd_watched = before.etcd_watched(nullptr);
  record.phases = before.phase_rounds(nullptr, 1);
  record.hours = before.hours();
  record.watches = {{.source = "etcd", .covered = 30s, .unwatched = ""},
                    {.source = "nodes", .covered = 0s, .unwatched = "--target local: no cluster to watch"}};
  record.events = {WatchEvent{WallTime(std::chrono::seconds(1'764'000'000)), "etcd", "election",
                              "election at t1: leader a -> b"}};
  record.events_dropped = 3;
  report.soak = record;
  const std::string written = render_json(report);
  Result<RunReport> read = read_report(nlohmann::ordered_json::parse(written), "report.json");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(render_json(*read), written);  // the soak block round-trips exactly
  ASSERT_TRUE(read->soak);
  EXPECT_FALSE(read->soak->finished);
  ASSERT_EQ(read->soak->events.size(), 1U);
  EXPECT_EQ(read->soak->events[0].text, "election at t1: leader a -> b");
  EXPECT_EQ(read->soak->events_dropped, 3U);
  ASSERT_EQ(read->soak->watches.size(), 2U);
  EXPECT_EQ(read->soak->watches[1].unwatched, "--target local: no cluster to watch");

  SoakLedger after({write_row()}, config::TestType::soak);
  after.resume_from(*read->soak, read->inputs);
  after.phase_finished({write(of_ms({4}))}, 35min);
  after.round_finished(round_of({write(of_ms({4})), leader_changes(1, "at t2")}, 5s), 2);
  const std::vector<SoakHour> hours = after.hours();
  const SoakHour* hour = hour_of(hours, 0);
  ASSERT_NE(hour, nullptr);
  EXPECT_EQ(hour->count, 4U);
  Result<Histogram> merged = Histogram::from_json(nlohmann::json::parse(hour->histogram));
  ASSERT_TRUE(merged);
  EXPECT_EQ(*merged, of_ms({1, 2, 3, 4}));
  EXPECT_EQ(after.etcd_watched(nullptr), 25s);
  std::map<Phase, engine::PhaseTiming> after_timings;
  const std::vector<eval::PhaseInput> inputs = after.inputs(nullptr, 2, after_timings);
  for (const Measurement& measurement : inputs[0].measurements) {
    if (measurement.metric == "etcd.leader_changes") {
      EXPECT_EQ(measurement.value, 2);
      EXPECT_EQ(measurement.note, "over the soak: round 1: at t1; round 2: at t2");
    }
  }
  const std::vector<SoakPhaseRounds> rounds = after.phase_rounds(nullptr, 2);
  ASSERT_EQ(rounds.size(), 1U);
  EXPECT_EQ(rounds[0].runs, 2);
}

// With a load profile: each change of the rounds' factor is kept with its round and time, and each hour says
// which factors its runs ran at (both, when a step fell within the hour).
TEST(SoakLedger, KeepsTheFactorOfEachRoundAndHour) {
  SoakLedger ledger({write_row()}, config::TestType::soak);
  ledger.round_started(1, 0s, 0.2);
  ledger.phase_finished({write(of_ms({1}))}, 1min);
  ledger.round_started(2, 20min, 0.2);
  ledger.phase_finished({write(of_ms({1}))}, 21min);
  ledger.round_started(3, 40min, 1.0);
  ledger.phase_finished({write(of_ms({5}))}, 41min);
  ledger.round_started(4, 60min + 1500us, 1.0);
  ledger.phase_finished({write(of_ms({5}))}, 61min);
  ledger.round_started(5, 80min, 0.5);
  ledger.phase_finished({write(of_ms({2}))}, 81min);
  EXPECT_EQ(ledger.factors(), (std::vector<SoakFactor>{{1, 0s, 0.2}, {3, 40min, 1.0}, {5, 80min, 0.5}}));
  const std::vector<SoakHour> hours = ledger.hours();
  ASSERT_NE(hour_of(hours, 0), nullptr);
  ASSERT_NE(hour_of(hours, 1), nullptr);
  EXPECT_EQ(hour_of(hours, 0)->load_factors, (std::vector<double>{0.2, 1.0}));
  EXPECT_EQ(hour_of(hours, 1)->load_factors, (std::vector<double>{0.5, 1.0}));
}

// A resumed soak keeps its factors: the changes and each hour's factors come back from report.json, and the
// rounds after the resume add to them (a factor unchanged across the resume is no change).
TEST(SoakLedger, AResumeKeepsTheLoadFactors) {
  SoakLedger before({write_row()}, config::TestType::soak);
  before.round_started(1, 0s, 0.2);
  before.phase_finished({write(of_ms({1}))}, 1min);
  before.round_finished(round_of({write(of_ms({1}))}, 1min), 1);
  before.round_started(2, 10min, 0.6);
  before.phase_finished({write(of_ms({1}))}, 11min);
  before.round_finished(round_of({write(of_ms({1}))}, 1min), 2);

  RunReport report;
  report.meta.command = "soak";
  report.meta.profile = "soak";
  report.meta.target = "local";
  std::map<Phase, engine::PhaseTiming> timings;
  report.inputs = before.inputs(nullptr, 2, timings);
  eval::EvaluationOptions options;
  options.test_type = config::TestType::soak;
  options.in_progress = true;
  report.evaluation = eval::evaluate(report.inputs, {write_row()}, options);
  SoakRecord record;
  record.planned = 2h;
  record.elapsed = 15min;
  record.checkpoint = 1min;
  record.rounds = 2;
  record.phases = before.phase_rounds(nullptr, 2);
  record.hours = before.hours();
  record.load_profile = "steps: 20% from 0s, 60% from 10m";
  record.factors = before.factors();
  report.soak = record;
  const std::string written = render_json(report);
  const nlohmann::ordered_json document = nlohmann::ordered_json::parse(written);
  EXPECT_EQ(document["soak"]["load_profile"]["text"], "steps: 20% from 0s, 60% from 10m");
  EXPECT_EQ(document["soak"]["load_profile"]["factors"][1],
            nlohmann::ordered_json::parse(
                R"({"round": 2, "at_seconds": 600.0, "factor": 0.6, "factor_text": "60%"})"));
  EXPECT_EQ(document["soak"]["hours"][0]["load_factors"], nlohmann::ordered_json::parse("[0.2, 0.6]"));
  Result<RunReport> read = read_report(document, "report.json");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(render_json(*read), written);  // the profile and the hours' factors round-trip exactly
  ASSERT_TRUE(read->soak);
  EXPECT_EQ(read->soak->factors, record.factors);

  SoakLedger after({write_row()}, config::TestType::soak);
  after.resume_from(*read->soak, read->inputs);
  after.round_started(3, 15min, 0.6);
  after.phase_finished({write(of_ms({1}))}, 16min);
  after.round_started(4, 30min, 1.0);
  after.phase_finished({write(of_ms({1}))}, 31min);
  EXPECT_EQ(after.factors(), (std::vector<SoakFactor>{{1, 0s, 0.2}, {2, 10min, 0.6}, {4, 30min, 1.0}}));
  const std::vector<SoakHour> hours = after.hours();
  ASSERT_NE(hour_of(hours, 0), nullptr);
  EXPECT_EQ(hour_of(hours, 0)->load_factors, (std::vector<double>{0.2, 0.6, 1.0}));
}

// A soak checkpointed before load profiles existed has neither key: it reads back as a soak without one.
TEST(SoakLedger, AReportWithoutLoadFactorsReadsAsNoProfile) {
  SoakLedger ledger({write_row()}, config::TestType::soak);
  ledger.phase_finished({write(of_ms({1}))}, 1min);
  RunReport report;
  report.meta.command = "soak";
  report.meta.profile = "soak";
  report.meta.target = "local";
  SoakRecord record;
  record.hours = ledger.hours();
  report.soak = record;
  nlohmann::ordered_json document = nlohmann::ordered_json::parse(render_json(report));
  EXPECT_EQ(document["soak"]["load_profile"], nullptr);
  document["soak"].erase("load_profile");
  document["soak"]["hours"][0].erase("load_factors");
  Result<RunReport> read = read_report(document, "report.json");
  ASSERT_TRUE(read) << read.error().message;
  ASSERT_TRUE(read->soak);
  EXPECT_TRUE(read->soak->load_profile.empty());
  EXPECT_TRUE(read->soak->hours.at(0).load_factors.empty());

  document["soak"]["hours"][0]["load_factors"] = nlohmann::ordered_json::parse("[0]");
  Result<RunReport> zero = read_report(document, "report.json");
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().message,
            "report.json: soak.hours[0].load_factors[0]: must be a number above 0 and at most 1, got 0");
  document["soak"]["hours"][0].erase("load_factors");
  document["soak"]["load_profile"] = nlohmann::ordered_json::parse(R"({"text": "steps", "factors": [{}]})");
  Result<RunReport> missing = read_report(document, "report.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "report.json: soak.load_profile.factors[0].round: missing");
}

}  // namespace
}  // namespace kp::report
