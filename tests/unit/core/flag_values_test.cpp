#include "core/flag_values.hpp"

#include <gtest/gtest.h>

namespace kp {
namespace {

using namespace std::chrono_literals;

TEST(FlagValues, RateOrMax) {
  Result<std::optional<Rate>> max = flag_rate_or_max("rate", "max");
  ASSERT_TRUE(max);
  EXPECT_FALSE(max->has_value());
  Result<std::optional<Rate>> rate = flag_rate_or_max("rate", "10k");
  ASSERT_TRUE(rate && rate->has_value());
  EXPECT_EQ((*rate)->per_second, 10000);
  for (const char* bad : {"fast", "0", "-5", ""}) {
    Result<std::optional<Rate>> wrong = flag_rate_or_max("rate", bad);
    ASSERT_FALSE(wrong) << bad;
    EXPECT_EQ(wrong.error().kind, ErrorKind::usage);
    EXPECT_EQ(wrong.error().message, std::string("--rate: not a rate > 0 (or \"max\"), got \"") + bad + "\"");
  }
}

TEST(FlagValues, Arrival) {
  EXPECT_EQ(*flag_arrival("arrival", "constant"), Arrival::constant);
  EXPECT_EQ(*flag_arrival("arrival", "poisson"), Arrival::poisson);
  EXPECT_EQ(flag_arrival("arrival", "Poisson").error().message,
            "--arrival: must be constant or poisson, got \"Poisson\"");
}

TEST(FlagValues, Durations) {
  EXPECT_EQ(*flag_duration("hold", "0s"), Duration::zero());
  EXPECT_EQ(flag_duration("hold", "long").error().message, "--hold: not a duration, got \"long\"");
  EXPECT_EQ(*flag_positive_duration("duration", "1.5s"), Duration(1500ms));
  EXPECT_EQ(flag_positive_duration("duration", "0s").error().message,
            "--duration: not a duration > 0, got \"0s\"");
}

}  // namespace
}  // namespace kp
