// The live terminal view's content (report/live_board.hpp) and the per-second offered series
// (report/timeline.hpp), driven by a fake clock.

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/finished_series.hpp"
#include "core/live_notice.hpp"
#include "core/offered_sink.hpp"
#include "report/live_board.hpp"
#include "report/live_metrics.hpp"
#include "report/timeline.hpp"

namespace kp::report {
namespace {

using namespace std::chrono_literals;

LiveDelta delta(Phase phase, std::uint64_t ok, std::uint64_t errors, Duration latency) {
  LiveDelta out;
  out.phase = phase;
  out.series = "query";
  out.ok = ok;
  out.errors = errors;
  out.buckets[LiveSeries::bucket_of(latency)] = ok;
  return out;
}

TEST(LiveBoard, ShowsElapsedBarOfferedAchievedPercentilesAndErrors) {
  FakeClock clock;
  LiveBoard board(clock, {{Phase::dns, 30s}});
  EXPECT_FALSE(board.running());
  board.phase_started(Phase::dns);
  EXPECT_TRUE(board.running());
  EXPECT_EQ(board.render(clock.now(), 0).at(1), "      preparing: no load yet");
  announce_offered(&board, Phase::dns, 1000.0);
  for (int second = 0; second < 12; ++second) {
    clock.advance(1s);
    board.add(delta(Phase::dns, 900, 2, 2ms));
  }
  const std::vector<std::string> lines = board.render(clock.now(), 0);
  ASSERT_EQ(lines.size(), 2u);
  // 12 of 30 s: 8 of 20 cells.
  EXPECT_EQ(lines[0], "[dns] 12s of 30s [########------------] 18s left");
  // The last 3 s hold 2700 completions: 900/s, not the 1000/s offered.
  EXPECT_NE(lines[1].find("offered 1000/s · achieved 900/s"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("P50 1."), std::string::npos) << lines[1];  // within the 1..2.5 ms bucket
  EXPECT_NE(lines[1].find("errors 24"), std::string::npos) << lines[1];
}

TEST(LiveBoard, AStreamTestsBytesShowAsABandwidth) {
  FakeClock clock;
  LiveBoard board(clock, {{Phase::network, 60s}});
  board.phase_started(Phase::network);
  for (int second = 0; second < 3; ++second) {
    clock.advance(1s);
    LiveDelta moved;
    moved.phase = Phase::network;
    moved.series = "TCP_STREAM to 10.0.0.2:7410";
    moved.finished_later = true;
    moved.bytes = 125'000'000;  // 1 Gbit in each second
    board.add(moved);
  }
  const std::string body = board.render(clock.now(), 0).at(1);
  EXPECT_NE(body.find("achieved 1.00Gbps"), std::string::npos) << body;
  EXPECT_NE(body.find("now TCP_STREAM to 10.0.0.2:7410"), std::string::npos) << body;
  EXPECT_EQ(body.find("preparing"), std::string::npos) << body;
}

TEST(LiveBoard, ClosedLoopOvertimeAndNoLiveCounts) {
  FakeClock clock;
  LiveBoard board(clock, {{Phase::etcd, 10s}, {Phase::storage, 5s}});
  board.phase_started(Phase::etcd);
  announce_offered(&board, Phase::etcd, std::nullopt);
  clock.advance(10s);
  for (int second = 0; second < 3; ++second) {
    board.add(delta(Phase::etcd, 50, 0, 1ms));  // at 10, 11 and 12 s: 150 in the last 3 s
    if (second < 2) {
      clock.advance(1s);
    }
  }
  std::vector<std::string> lines = board.render(clock.now(), 0);
  EXPECT_NE(lines[0].find("[####################] overtime 2s"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("offered closed loop · achieved 50/s"), std::string::npos) << lines[1];
  board.phase_finished(Phase::etcd);
  EXPECT_FALSE(board.running());
  // A hand-over after the phase was judged changes nothing.
  board.add(delta(Phase::etcd, 50, 0, 1ms));
  EXPECT_TRUE(board.render(clock.now(), 0).empty());
}

// On a cluster the agent phases hand over nothing until their pods' logs are read: the block says so, never
// "preparing" or a rate of 0 for the whole phase.
TEST(LiveBoard, APhaseWithoutLiveCountsSaysWhyInsteadOfFigures) {
  FakeClock clock;
  LiveBoard board(clock, {{Phase::storage, 5s}, {Phase::dns, 5s}});
  board.phase_started(Phase::storage);
  board.phase_started(Phase::dns);
  announce_no_live_counts(&board, Phase::storage, kAgentPodsReportAtEnd);
  clock.advance(3s);
  std::vector<std::string> lines = board.render(clock.now(), 0);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "[dns] 3s of 5s [############--------] 2s left");
  EXPECT_EQ(lines[1], "      preparing: no load yet");
  EXPECT_NE(lines[2].find("[storage] 3s of 5s"), std::string::npos) << lines[2];
  EXPECT_EQ(lines[3], "      " + std::string(kAgentPodsReportAtEnd));
  EXPECT_EQ(lines[3].find("achieved"), std::string::npos);
  // A notice for a phase that is not running changes nothing.
  announce_no_live_counts(&board, Phase::ingress, "x");
  EXPECT_EQ(board.render(clock.now(), 0).size(), 4u);
}

// fio's jobs (and the network tests) run one after another and hand over counts for watching only: the block
// shows their figures and which one ran last.
TEST(LiveBoard, CountsForWatchingShowTheirFiguresAndTheSeriesRunningNow) {
  FakeClock clock;
  LiveBoard board(clock, {{Phase::storage, 20s}});
  board.phase_started(Phase::storage);
  for (const char* series : {"randread-4k", "randread-4k", "seqwrite-1m"}) {
    clock.advance(1s);
    LiveDelta one = delta(Phase::storage, 400, 0, 800us);
    one.series = series;
    one.finished_later = true;
    board.add(one);
  }
  const std::vector<std::string> lines = board.render(clock.now(), 0);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[1].find("offered - · achieved 400/s · P50 "), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("errors 0 · now seqwrite-1m"), std::string::npos) << lines[1];
}

// Counts for watching stay out of report.json's series: the exact series of the same seconds comes at the
// generator's end (Timeline::finished), and counting both would double the seconds.
TEST(Timeline, CountsForWatchingAreNotRecorded) {
  FakeClock clock;
  Timeline timeline(clock);
  timeline.phase_started(Phase::storage);
  clock.advance(1s);
  LiveDelta watching = delta(Phase::storage, 400, 0, 1ms);
  watching.series = "randread-4k";
  watching.finished_later = true;
  timeline.add(watching);
  EXPECT_TRUE(timeline.series().empty());
  FinishedSeries exact;
  exact.phase = Phase::storage;
  exact.series = "randread-4k";
  FinishedSecond second;
  second.completions = 410.0;
  exact.seconds = {second};
  timeline.finished(exact);
  const auto series = timeline.series();
  ASSERT_EQ(series.at(Phase::storage).size(), 1u);
  ASSERT_EQ(series.at(Phase::storage)[0].points.size(), 1u);
  EXPECT_DOUBLE_EQ(series.at(Phase::storage)[0].points[0].achieved, 410.0);
}

TEST(LiveBoard, LinesAreCutToTheTerminalWidthByCodePoint) {
  EXPECT_EQ(cut_to_width("P50 1µs", 6), "P50 1µ");
  EXPECT_EQ(cut_to_width("abc", 0), "abc");
  EXPECT_EQ(cut_to_width("abc", 5), "abc");
  EXPECT_EQ(progress_bar(0.5, 4), "[##--]");
  EXPECT_EQ(progress_bar(7, 4), "[####]");
  FakeClock clock;
  LiveBoard board(clock, {{Phase::dns, 30s}});
  board.phase_started(Phase::dns);
  for (const std::string& line : board.render(clock.now(), 20)) {
    EXPECT_LE(line.size(), 20u) << line;
  }
}

TEST(Timeline, OfferedSeriesFollowsTheStepsTimeWeighted) {
  FakeClock clock;
  Timeline timeline(clock);
  timeline.phase_started(Phase::ingress);
  clock.advance(500ms);
  timeline.offered(Phase::ingress, 100.0);  // from 0.5 s
  clock.advance(1500ms);
  timeline.offered(Phase::ingress, 200.0);  // from 2 s
  clock.advance(1250ms);
  timeline.offered(Phase::ingress, std::nullopt);  // closed loop from 3.25 s
  clock.advance(750ms);
  timeline.add(delta(Phase::ingress, 10, 0, 1ms));  // data up to second 4
  const auto series = timeline.offered_series();
  ASSERT_EQ(series.count(Phase::ingress), 1u);
  const std::vector<OfferedPoint>& points = series.at(Phase::ingress);
  ASSERT_EQ(points.size(), 5u);
  EXPECT_DOUBLE_EQ(*points[0].offered, 100.0);  // only the announced half counts
  EXPECT_DOUBLE_EQ(*points[1].offered, 100.0);
  EXPECT_DOUBLE_EQ(*points[2].offered, 200.0);
  EXPECT_DOUBLE_EQ(*points[3].offered, 200.0);  // 0.25 s at 200, the rest closed loop
  EXPECT_FALSE(points[4].offered.has_value());  // closed loop throughout
  EXPECT_EQ(timeline.offered_series().count(Phase::dns), 0u);
}

// The notice takes the same way as the counts, through every progress wrapper a run stacks (report.json's
// timeline, live metrics) to the board the terminal view draws.
TEST(LiveBoard, TheNoticeReachesTheBoardThroughTheRunsProgressWrappers) {
  struct BoardProgress final : engine::ProgressSink {
    explicit BoardProgress(LiveBoard& board) : board(board) {}
    void message(Phase, std::string_view) override {}
    LiveSink* live_sink() override { return &board; }
    LiveBoard& board;
  };
  FakeClock clock;
  LiveBoard board(clock, {{Phase::network, 10s}});
  BoardProgress people(board);
  LiveMetrics metrics(LiveRunInfo{"run", "plan", "smoke", "cluster"});
  LiveProgress live(people, metrics);
  Timeline timeline(clock);
  TimelineProgress progress(live, timeline);
  board.phase_started(Phase::network);
  announce_no_live_counts(progress.live_sink(), Phase::network, kAgentPodsReportAtEnd);
  EXPECT_EQ(board.render(clock.now(), 0).at(1), "      " + std::string(kAgentPodsReportAtEnd));
}

}  // namespace
}  // namespace kp::report
