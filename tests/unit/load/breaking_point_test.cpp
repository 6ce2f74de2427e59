#include "load/breaking_point.hpp"

#include <gtest/gtest.h>

namespace kp::load {
namespace {

StepRecord record(double offered, double achieved, std::optional<double> p99, std::uint64_t completed,
                  std::uint64_t errors = 0) {
  StepRecord step;
  step.offered = offered;
  step.achieved = achieved;
  step.p99 = p99;
  step.completed = completed;
  step.errors = errors;
  return step;
}

StepRecord held_step() {
  return record(100, 100, 0.001, 100);
}
StepRecord broken_step() {
  StepRecord step = held_step();
  step.broke = "P99 60ms > critical 50ms";
  return step;
}

// Runs the search against a system that holds every level below `breaks_at`.
std::vector<double> run(BreakingPointSearch& search, double breaks_at) {
  std::vector<double> levels;
  while (std::optional<double> level = search.next_level()) {
    levels.push_back(*level);
    search.record(*level < breaks_at ? held_step() : broken_step());
    EXPECT_LT(levels.size(), 50u);
  }
  return levels;
}

TEST(BreakingPointSearch, EveryStepHeldMeansNoBreakingPoint) {
  BreakingPointSearch search({100, 125, 150}, 3, 100);
  EXPECT_EQ(run(search, 1e9), (std::vector<double>{100, 125, 150}));
  EXPECT_EQ(search.last_held(), 150);
  EXPECT_FALSE(search.first_broken().has_value());
  StressResult result = summarize(search, "queries", "dns.breaking_rate", "QPS");
  EXPECT_FALSE(result.breaking_level.has_value());
  EXPECT_NE(result.note.find("breaking point not reached"), std::string::npos) << result.note;
}

TEST(BreakingPointSearch, BisectsBetweenLastHeldAndFirstBroken) {
  BreakingPointSearch search({100, 125, 150, 175, 200}, 3, 100);
  // Breaks at 140: the ramp stops at 150 (never 175), then 137.5 held, 143.75 broke, 140.625 broke.
  EXPECT_EQ(run(search, 140), (std::vector<double>{100, 125, 150, 137.5, 143.75, 140.625}));
  EXPECT_EQ(search.last_held(), 137.5);
  EXPECT_EQ(search.first_broken(), 140.625);
  // Within about 5 % of capacity of the real point.
  EXPECT_LT(*search.first_broken() - *search.last_held(), 5.0);
  ASSERT_EQ(search.steps().size(), 6u);
  EXPECT_FALSE(search.steps()[2].bisection);
  EXPECT_TRUE(search.steps()[3].bisection);
  EXPECT_DOUBLE_EQ(search.steps()[3].factor, 1.375);
  StressResult result = summarize(search, "queries", "dns.breaking_rate", "QPS");
  EXPECT_EQ(result.breaking_level, 140.625);
  EXPECT_NE(result.note.find("last step held"), std::string::npos) << result.note;
}

TEST(BreakingPointSearch, NeverRunsAStepAboveOneThatBroke) {
  BreakingPointSearch search({100, 125, 150, 175, 200}, 5, 100);
  double broken = 1e9;
  while (std::optional<double> level = search.next_level()) {
    EXPECT_LT(*level, broken);
    const bool holds = *level < 130;
    search.record(holds ? held_step() : broken_step());
    if (!holds) {
      broken = std::min(broken, *level);
    }
  }
}

TEST(BreakingPointSearch, AFirstStepThatBreaksBisectsDownFromIt) {
  BreakingPointSearch search({100, 150}, 2, 100);
  EXPECT_EQ(run(search, 60), (std::vector<double>{100, 50, 75}));
  EXPECT_EQ(search.last_held(), 50);
  EXPECT_EQ(search.first_broken(), 75);
}

TEST(BreakingPointSearch, NoBisectionWhenBisectIsZero) {
  BreakingPointSearch search({100, 125, 150}, 0, 100);
  EXPECT_EQ(run(search, 110), (std::vector<double>{100, 125}));
}

TEST(BreakingPointSearch, IntegralLevelsStopWhenNoWholeNumberLiesBetween) {
  BreakingPointSearch search({1, 2, 4, 8, 16}, 5, 0, true);
  // Breaks from 6: 1, 2, 4 held, 8 broke, then 6 broke, 5 held; nothing lies between 5 and 6.
  EXPECT_EQ(run(search, 6), (std::vector<double>{1, 2, 4, 8, 6, 5}));
  EXPECT_EQ(search.first_broken(), 6);
  EXPECT_DOUBLE_EQ(search.steps().front().factor, 1.0);  // no capacity: factors are 1
}

TEST(BreakingPointSearch, ACancelledStepEndsTheSearchNeitherHeldNorBroken) {
  BreakingPointSearch search({100, 125}, 3, 100);
  search.record(held_step());
  StepRecord cancelled = held_step();
  cancelled.cancelled = true;
  search.record(cancelled);
  EXPECT_FALSE(search.next_level().has_value());
  EXPECT_EQ(search.last_held(), 100);
  EXPECT_FALSE(search.first_broken().has_value());
  EXPECT_NE(summarize(search, "q", "m", "/s").note.find("interrupted"), std::string::npos);
}

TEST(StepBreakReason, AchievedBoundaryIsNinetyNinePercent) {
  BreakLimits limits;
  StepRecord step = record(1000, 990, std::nullopt, 990);
  EXPECT_EQ(step_break_reason(step, limits), "");
  step.achieved = 989.9;
  EXPECT_NE(step_break_reason(step, limits).find("achieved"), std::string::npos);
  // Closed loop offers nothing: achieved is never judged.
  step.offered = 0;
  EXPECT_EQ(step_break_reason(step, limits), "");
}

TEST(StepBreakReason, LatencyAndErrorsBreakOnlyBeyondCritical) {
  BreakLimits limits{.p99_critical = 0.050, .error_critical = 0.01};
  StepRecord step = record(0, 10, 0.050, 1000, 10);
  EXPECT_EQ(step_break_reason(step, limits), "");
  step.p99 = 0.0501;
  step.errors = 11;
  const std::string reason = step_break_reason(step, limits);
  EXPECT_NE(reason.find("P99"), std::string::npos) << reason;
  EXPECT_NE(reason.find("errors"), std::string::npos) << reason;
  EXPECT_NE(reason.find(", "), std::string::npos) << reason;
}

TEST(StepBreakReason, NothingCompletedBreaks) {
  EXPECT_EQ(step_break_reason(StepRecord{}, BreakLimits{}), "nothing completed");
}

}  // namespace
}  // namespace kp::load

namespace kp::load {
namespace {

TEST(OwnLatenessExplainsBreak, OnlyWhenTheStepHoldsWithTheLatenessTakenOut) {
  const BreakLimits limits{.p99_critical = 0.050, .error_critical = std::nullopt, .min_achieved_share = 0.99};
  Histogram late;
  for (int i = 0; i < 100; ++i) {
    late.record(std::int64_t{8'000'000});  // 8 ms late, every send
  }
  StepRecord step = record(100, 100, 0.055, 100);
  step.broke = step_break_reason(step, limits);
  ASSERT_FALSE(step.broke.empty());
  EXPECT_TRUE(own_lateness_explains_break(step, limits, late));  // 47 ms of it the server's
  step.p99 = 0.060;
  EXPECT_FALSE(own_lateness_explains_break(step, limits, late));         // 52 ms: the server's break
  EXPECT_FALSE(own_lateness_explains_break(step, limits, Histogram{}));  // nothing to explain it with
  EXPECT_FALSE(own_lateness_explains_break(held_step(), limits, late));  // a held step needs no excuse
}

TEST(BreakingPoint, ABreakSetAsideEndsTheSearchWithTheLastStepHeld) {
  BreakingPointSearch search({100, 200, 300}, 2);
  search.record(held_step());
  ASSERT_EQ(search.next_level(), 200);
  StepRecord step = held_step();
  step.broke = "P99 12 ms > 10 ms";
  const std::string outcome = set_aside_break(step, "ingress");
  EXPECT_EQ(
      outcome,
      "broke (P99 12 ms > 10 ms), but the generator fell behind on it, which could explain the break: not "
      "taken as the ingress's breaking point; the search stops here");
  EXPECT_FALSE(step.held());
  EXPECT_TRUE(step.broke.empty());
  search.record(step);
  EXPECT_EQ(search.next_level(), std::nullopt);  // no bisection below a break that was not the server's
  ASSERT_NE(search.last_held_step(), nullptr);
  EXPECT_EQ(search.last_held_step()->level, 100);
}

}  // namespace
}  // namespace kp::load
