// The live terminal view's content (report/live_board.hpp) and the per-second offered series
// (report/timeline.hpp), driven by a fake clock.

#include <gtest/gtest.h>

#include "core/clock.hpp"
#include "core/offered_sink.hpp"
#include "report/live_board.hpp"
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

  board.phase_started(Phase::storage);
  lines = board.render(clock.now(), 0);
  EXPECT_EQ(lines[1], "      no live counts: this phase's agents report when their load ends");
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

}  // namespace
}  // namespace kp::report
