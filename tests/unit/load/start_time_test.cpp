#include "load/start_time.hpp"

#include <gtest/gtest.h>

namespace kp::load {
namespace {

// 2026-12-02T14:20:00.000Z
constexpr std::int64_t kNoonish = 1796221200000;

TEST(StartAt, ParsesEpochMillisecondsAndFormatsThem) {
  FakeClock clock(TimePoint{} + std::chrono::hours(1), from_epoch_ms(kNoonish));
  Result<WallTime> start = parse_start_at("start-at", std::to_string(kNoonish + 2500), clock.wall_now());
  ASSERT_TRUE(start.has_value()) << start.error().message;
  EXPECT_EQ(epoch_ms(*start), kNoonish + 2500);
  EXPECT_EQ(format_wall_ms(*start), "2026-12-02T14:20:02.500Z");
}

TEST(StartAt, RefusesWordsAndStartsTooFarAheadNamingTheFlagAndValue) {
  const WallTime now = from_epoch_ms(kNoonish);
  Result<WallTime> word = parse_start_at("start-at", "soon", now);
  ASSERT_FALSE(word.has_value());
  EXPECT_EQ(word.error().kind, ErrorKind::usage);
  EXPECT_EQ(word.error().message,
            "--start-at: not Unix epoch milliseconds (e.g. 1733140800123), got \"soon\"");
  EXPECT_FALSE(parse_start_at("start-at", "-5", now).has_value());
  EXPECT_FALSE(parse_start_at("start-at", "", now).has_value());
  const std::string far = std::to_string(kNoonish + 3 * 3600 * 1000);
  Result<WallTime> ahead = parse_start_at("start-at", far, now);
  ASSERT_FALSE(ahead.has_value());
  EXPECT_NE(ahead.error().message.find("2026-12-02T17:20:00.000Z is 3h ahead"), std::string::npos)
      << ahead.error().message;
  EXPECT_NE(ahead.error().message.find("got \"" + far + "\""), std::string::npos);
  // Exactly at the bound is fine.
  EXPECT_TRUE(parse_start_at("start-at", std::to_string(kNoonish + 600000), now).has_value());
  // 18 digits pass the parse; beyond 2262 the conversion to nanoseconds overflowed (undefined behaviour).
  Result<WallTime> beyond = parse_start_at("start-at", "999999999999999999", now);
  ASSERT_FALSE(beyond.has_value());
  EXPECT_EQ(beyond.error().kind, ErrorKind::usage);
  EXPECT_EQ(beyond.error().message,
            "--start-at: past the latest time this agent can hold (9223372036854, in 2262), got "
            "\"999999999999999999\"");
  Result<WallTime> latest = parse_start_at("start-at", "9223372036854", now);
  ASSERT_FALSE(latest.has_value());
  EXPECT_NE(latest.error().message.find("2262-04-11T23:47:16.854Z is "), std::string::npos)
      << latest.error().message;
}

TEST(StartAt, TheDeadlineIsTheStartSeenFromTheMonotonicClock) {
  FakeClock clock(TimePoint{} + std::chrono::hours(1), from_epoch_ms(kNoonish));
  Result<TimePoint> deadline = start_deadline(from_epoch_ms(kNoonish + 1500), clock);
  ASSERT_TRUE(deadline.has_value());
  EXPECT_EQ(*deadline - clock.now(), std::chrono::milliseconds(1500));
  // Slightly late (within the tolerance): begin at once, i.e. a deadline already passed.
  Result<TimePoint> late = start_deadline(from_epoch_ms(kNoonish - 400), clock);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(clock.now() - *late, std::chrono::milliseconds(400));
}

TEST(StartAt, AnAgentReadyLongAfterTheStartIsRefused) {
  FakeClock clock(TimePoint{} + std::chrono::hours(1), from_epoch_ms(kNoonish));
  Result<TimePoint> late = start_deadline(from_epoch_ms(kNoonish - 3200), clock);
  ASSERT_FALSE(late.has_value());
  EXPECT_EQ(late.error().kind, ErrorKind::timeout);
  EXPECT_EQ(
      late.error().message,
      "--start-at: 2026-12-02T14:19:56.800Z passed 3.2 s before this agent was ready (more than 1 s: its "
      "window would not line up with the other agents'; the runner's lead was too short)");
}

}  // namespace
}  // namespace kp::load

namespace kp::load {
namespace {

// This test process was created before the test ran, and not long before (a test binary starts in well
// under a minute): the kernel's starttime read against CLOCK_BOOTTIME is a real wall time.
TEST(StartAt, TheKernelsProcessStartIsBeforeNow) {
  const std::optional<std::int64_t> started = process_start_epoch_ms();
  ASSERT_TRUE(started.has_value());
  const std::int64_t now = epoch_ms(real_clock().wall_now());
  EXPECT_LE(*started, now + 10);  // 10 ms ticks
  EXPECT_GT(*started, now - 10 * 60 * 1000);
}

}  // namespace
}  // namespace kp::load
