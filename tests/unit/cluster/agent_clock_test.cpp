#include "cluster/agent_clock.hpp"

#include <gtest/gtest.h>

namespace kp::cluster {
namespace {

// 2026-12-02T14:20:00.000Z
constexpr std::int64_t kT = 1796221200000;

WallTime at(std::int64_t ms) {
  return load::from_epoch_ms(ms);
}

// An agent whose process began 400 ms after the create request, 300 ms before the runner saw it Running,
// and printed 100 ms before the runner read its line; the kubelet's whole seconds agree.
struct Agreeing {
  load::AgentClock clock;
  ClockWitness witness;
  Agreeing() {
    clock.process_ms = kT + 1400;
    clock.started_ms = kT + 5000;
    clock.ended_ms = kT + 15200;
    witness.created = at(kT + 1000);
    witness.seen_running = at(kT + 1700);
    witness.seen_log = at(kT + 15300);
    witness.started_at = at(kT + 1000);    // 14:20:01Z: the container started within 14:20:01..02
    witness.finished_at = at(kT + 15000);  // 14:20:15Z
  }
};

TEST(AgentClock, ClocksThatAgreePass) {
  Agreeing a;
  EXPECT_EQ(clock_skew_reason("http-0-0", "node-a", a.clock, a.witness), std::nullopt);
  // Within the tolerance below a bound is still agreement.
  a.clock.process_ms = kT + 950;  // 50 ms before the create request (and startedAt)
  EXPECT_EQ(clock_skew_reason("http-0-0", "node-a", a.clock, a.witness), std::nullopt);
}

TEST(AgentClock, BehindTheKubeletByMoreThanTheToleranceIsReportedWithTheFigures) {
  Agreeing a;
  a.witness.created.reset();             // the runner's bounds unknown: only the status times judge
  a.witness.started_at = at(kT + 3000);  // the node's kubelet says 14:20:03Z, the agent 14:20:01.400Z
  std::optional<std::string> reason = clock_skew_reason("http-0-1", "node-b", a.clock, a.witness);
  ASSERT_TRUE(reason.has_value());
  EXPECT_EQ(
      *reason,
      "agent http-0-1 on node-b: its clock is at least 1.60 s behind the kubelet's (its process began at "
      "2026-12-02T14:20:01.400Z by its clock; the pod's status says the container started at "
      "2026-12-02T14:20:03Z, whole seconds); agents of one test start together only when their nodes' "
      "clocks agree within 100 ms");
}

TEST(AgentClock, TheSecondAfterAWholeSecondStampIsNotASkew) {
  Agreeing a;
  // finishedAt 14:20:15Z means the container ended before 14:20:16: a line stamped 15.9 s is consistent.
  a.clock.ended_ms = kT + 15900;
  a.witness.seen_log = at(kT + 16000);
  EXPECT_EQ(clock_skew_reason("http-0-0", "node-a", a.clock, a.witness), std::nullopt);
  a.clock.ended_ms = kT + 16200;  // but past 16.1 s it is ahead
  a.witness.seen_log = at(kT + 16500);
  std::optional<std::string> reason = clock_skew_reason("http-0-0", "node-a", a.clock, a.witness);
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("at least 0.20 s ahead of the kubelet's"), std::string::npos) << *reason;
}

TEST(AgentClock, TheRunnersOwnClockBracketsTheProcessStart) {
  Agreeing a;
  // main() after the runner saw it Running is its start-up, not a skew (a busy node, a large binary)...
  a.clock.process_ms = kT + 2500;
  EXPECT_FALSE(clock_skew_reason("http-0-0", "node-a", a.clock, a.witness).has_value());
  // ... but a process the kernel created after the runner saw it Running at +1.7 s is a clock ahead.
  a.clock.kernel_start_ms = kT + 2500;
  std::optional<std::string> ahead = clock_skew_reason("http-0-0", "node-a", a.clock, a.witness);
  ASSERT_TRUE(ahead.has_value());
  EXPECT_NE(ahead->find("at least 0.80 s ahead of the runner's (the kernel created its process"),
            std::string::npos)
      << *ahead;
  a.clock.kernel_start_ms.reset();
  a.clock.process_ms = kT + 500;  // before the runner asked for the pod at +1.0 s
  std::optional<std::string> behind = clock_skew_reason("http-0-0", "node-a", a.clock, a.witness);
  ASSERT_TRUE(behind.has_value());
  EXPECT_NE(behind->find("at least 0.50 s behind the runner's"), std::string::npos) << *behind;
}

TEST(AgentClock, ReadsTheAgentsClockFromItsLine) {
  nlohmann::json line{
      {"kind", "kubeproof.agent.http"},
      {"clock",
       {{"process_ms", kT}, {"started_ms", kT + 10}, {"ended_ms", kT + 20}, {"start_at_ms", kT + 10}}}};
  Result<load::AgentClock> clock = agent_clock_from_line(line);
  ASSERT_TRUE(clock.has_value());
  EXPECT_EQ(clock->process_ms, kT);
  EXPECT_EQ(clock->started_ms, kT + 10);
  EXPECT_EQ(clock->ended_ms, kT + 20);
  EXPECT_EQ(clock->start_at_ms, kT + 10);
  EXPECT_FALSE(clock->kernel_start_ms.has_value());  // an agent older than the field
  line["clock"]["kernel_start_ms"] = kT - 300;
  EXPECT_EQ(agent_clock_from_line(line)->kernel_start_ms, kT - 300);
  line["clock"].erase("ended_ms");
  Result<load::AgentClock> missing = agent_clock_from_line(line);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::protocol);
}

TEST(AgentClock, ATimeNoWallTimeHoldsIsOneLineNamingTheField) {
  // Epoch milliseconds past 2262 overflowed the conversion to nanoseconds (undefined behaviour).
  nlohmann::json line{{"kind", "kubeproof.agent.http"},
                      {"clock", {{"process_ms", kT}, {"started_ms", kT + 10}, {"ended_ms", kT + 20}}}};
  line["clock"]["ended_ms"] = 9'223'372'036'855LL;
  Result<load::AgentClock> late = agent_clock_from_line(line);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().kind, ErrorKind::protocol);
  EXPECT_EQ(late.error().message,
            "the agent's line: clock.ended_ms: must be Unix epoch milliseconds from 0 to 9223372036854, got "
            "9223372036855");
  line["clock"]["ended_ms"] = kT + 20;
  line["clock"]["kernel_start_ms"] = -9'000'000'000'000'000'000LL;
  Result<load::AgentClock> early = agent_clock_from_line(line);
  ASSERT_FALSE(early.has_value());
  EXPECT_EQ(
      early.error().message,
      "the agent's line: clock.kernel_start_ms: must be Unix epoch milliseconds from 0 to 9223372036854, "
      "got -9000000000000000000");
  line["clock"]["kernel_start_ms"] = 18'000'000'000'000'000'000ULL;
  EXPECT_FALSE(agent_clock_from_line(line).has_value());
  line["clock"]["kernel_start_ms"] = 9'223'372'036'854LL;
  EXPECT_TRUE(agent_clock_from_line(line).has_value());
}

}  // namespace
}  // namespace kp::cluster
