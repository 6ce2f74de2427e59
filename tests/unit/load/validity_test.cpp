#include "load/validity.hpp"

#include <gtest/gtest.h>

namespace kp::load {
namespace {

using std::chrono::seconds;

GeneratorAccount account(std::uint64_t due, std::uint64_t sent, double lateness_ns) {
  GeneratorAccount a;
  a.what = "requests";
  a.offered = 1000;
  a.window = seconds(10);
  a.due = due;
  a.sent = sent;
  a.rate_judged = true;
  for (int i = 0; i < 1000; ++i) {
    a.own_lateness.record(static_cast<std::int64_t>(lateness_ns));
  }
  return a;
}

TEST(Validity, OwnShareBoundaryIsNinetyNinePercentOnAJudgedRate) {
  EXPECT_TRUE(judge_validity(account(10000, 9900, 1000), 0.1).valid());
  Validity short_by_one = judge_validity(account(10000, 9899, 1000), 0.1);
  ASSERT_FALSE(short_by_one.valid());
  EXPECT_NE(short_by_one.invalid_reasons.front().find("98.99 %"), std::string::npos)
      << short_by_one.invalid_reasons.front();
}

TEST(Validity, AShortfallOnARateNoRowJudgesIsOnlyStated) {
  GeneratorAccount a = account(10000, 9000, 1000);
  a.rate_judged = false;
  Validity validity = judge_validity(a, 0.1);
  EXPECT_TRUE(validity.valid());
  EXPECT_NE(validity.statement.find("90.00 % of due"), std::string::npos) << validity.statement;
}

TEST(Validity, SendsTheServerHeldBackAreNeverTheGeneratorsShortfall) {
  GeneratorAccount a = account(10000, 7000, 1000);
  a.queued_for_server = 3500;
  a.unsent_for_server = 3000;
  Validity validity = judge_validity(a, 0.1);
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
  EXPECT_NE(validity.statement.find("3500 queued for a connection"), std::string::npos) << validity.statement;
  EXPECT_NE(validity.statement.find("3000 never sent"), std::string::npos) << validity.statement;
}

TEST(Validity, LatenessBoundaryIsTenPercentOfTheTightestTarget) {
  // 6 ms late against a 100 ms target: a note. The histogram keeps 3 digits, so stay clear of the edge.
  EXPECT_TRUE(judge_validity(account(1000, 1000, 6e6), 0.100).valid());
  EXPECT_TRUE(judge_validity(account(1000, 1000, 9.98e6), 0.100).valid());
  EXPECT_FALSE(judge_validity(account(1000, 1000, 10.02e6), 0.100).valid());
  // 6 ms late against a 1 ms network target: INVALID.
  Validity network = judge_validity(account(1000, 1000, 6e6), 0.001);
  ASSERT_FALSE(network.valid());
  EXPECT_NE(network.invalid_reasons.front().find("send lateness P99"), std::string::npos);
}

TEST(Validity, WithoutALatencyTargetLatenessIsStatedNotJudged) {
  Validity validity = judge_validity(account(1000, 1000, 5e9), std::nullopt);
  EXPECT_TRUE(validity.valid());
  EXPECT_NE(validity.statement.find("P99"), std::string::npos);
}

TEST(Validity, ClosedLoopHasNoScheduleToMiss) {
  GeneratorAccount a = account(0, 5000, 0);
  a.open_loop = false;
  Validity validity = judge_validity(a, 0.001);
  EXPECT_TRUE(validity.valid());
  EXPECT_NE(validity.statement.find("closed loop"), std::string::npos);
  EXPECT_DOUBLE_EQ(a.own_share(), 1.0);
}

TEST(Validity, StatementHasOfferedSentShareAndLateness) {
  Validity validity = judge_validity(account(10000, 9990, 12000), 0.1);
  EXPECT_NE(validity.statement.find("offered 1"), std::string::npos) << validity.statement;
  EXPECT_NE(validity.statement.find("99.90 % of due"), std::string::npos) << validity.statement;
  EXPECT_NE(validity.statement.find("max"), std::string::npos) << validity.statement;
  EXPECT_NE(validity.statement.find("limit 10"), std::string::npos) << validity.statement;
}

TEST(Validity, ThrottlingAboveFivePercentOfPeriodsIsTheGeneratorsOwnShortfall) {
  GeneratorAccount a = account(10000, 10000, 1000);
  a.throttling = CpuThrottling{100, 5, std::chrono::milliseconds(150)};
  Validity at_limit = judge_validity(a, 0.1);
  EXPECT_TRUE(at_limit.valid()) << at_limit.invalid_reasons.front();
  EXPECT_NE(at_limit.statement.find("throttled the generator in 5 of 100 periods (5.0 %)"), std::string::npos)
      << at_limit.statement;
  a.throttling = CpuThrottling{100, 6, std::chrono::milliseconds(180)};
  Validity over = judge_validity(a, 0.1);
  ASSERT_FALSE(over.valid());
  EXPECT_NE(over.invalid_reasons.front().find("throttled it in 6.0 % of the run's periods"),
            std::string::npos)
      << over.invalid_reasons.front();
  EXPECT_EQ(over.lateness, std::nullopt);  // not a lateness finding: no verdict test can clear it
}

TEST(Validity, ThrottlingCountsInClosedLoopToo) {
  GeneratorAccount a = account(0, 5000, 0);
  a.open_loop = false;
  a.throttling = CpuThrottling{50, 25, std::chrono::seconds(1)};
  Validity validity = judge_validity(a, 0.001);
  EXPECT_FALSE(validity.valid());
  EXPECT_NE(validity.statement.find("25 of 50 periods"), std::string::npos) << validity.statement;
}

TEST(Validity, NoQuotaPeriodsSaysNothingAboutThrottling) {
  GeneratorAccount a = account(10000, 10000, 1000);
  a.throttling = CpuThrottling{};
  Validity validity = judge_validity(a, 0.1);
  EXPECT_TRUE(validity.valid());
  EXPECT_EQ(validity.statement.find("throttled"), std::string::npos) << validity.statement;
}

}  // namespace
}  // namespace kp::load
