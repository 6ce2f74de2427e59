#include "core/units.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace kp {
namespace {

std::int64_t ns_of(std::string_view text) {
  auto duration = parse_duration(text);
  EXPECT_TRUE(duration.has_value()) << text << ": " << (duration ? "" : duration.error().message);
  return duration ? duration->count() : -1;
}

template <typename T>
std::string error_of(const Result<T>& result) {
  EXPECT_FALSE(result.has_value());
  if (result.has_value()) {
    return "<no error>";
  }
  EXPECT_EQ(result.error().kind, ErrorKind::input);
  return result.error().message;
}

double rate_of(std::string_view text) {
  auto rate = parse_rate(text);
  EXPECT_TRUE(rate.has_value()) << text << ": " << (rate ? "" : rate.error().message);
  return rate ? rate->per_second : -1;
}

std::uint64_t bytes_of(std::string_view text) {
  auto size = parse_byte_size(text);
  EXPECT_TRUE(size.has_value()) << text << ": " << (size ? "" : size.error().message);
  return size ? size->bytes : 0;
}

double bps_of(std::string_view text) {
  auto bandwidth = parse_bandwidth(text);
  EXPECT_TRUE(bandwidth.has_value()) << text << ": " << (bandwidth ? "" : bandwidth.error().message);
  return bandwidth ? bandwidth->bits_per_second : -1;
}

double fraction_of(std::string_view text) {
  auto ratio = parse_ratio(text);
  EXPECT_TRUE(ratio.has_value()) << text << ": " << (ratio ? "" : ratio.error().message);
  return ratio ? ratio->fraction : -1;
}

TEST(ParseDuration, AcceptsEveryUnit) {
  EXPECT_EQ(ns_of("250us"), 250'000);
  EXPECT_EQ(ns_of("250\xC2\xB5s"), 250'000);  // µs
  EXPECT_EQ(ns_of("1.5s"), 1'500'000'000);
  EXPECT_EQ(ns_of("2m"), 120'000'000'000);
  EXPECT_EQ(ns_of("500ns"), 500);
  EXPECT_EQ(ns_of("10ms"), 10'000'000);
  EXPECT_EQ(ns_of("1h"), 3'600'000'000'000);
  EXPECT_EQ(ns_of("0s"), 0);
  EXPECT_EQ(ns_of(".5ms"), 500'000);
}

TEST(ParseDuration, AcceptsCompoundsAndSpaces) {
  EXPECT_EQ(ns_of("1h30m"), 5'400'000'000'000);
  EXPECT_EQ(ns_of("1m30.5s"), 90'500'000'000);
  EXPECT_EQ(ns_of("2m 30s"), 150'000'000'000);
  EXPECT_EQ(ns_of(" 10 ms "), 10'000'000);
  EXPECT_EQ(ns_of("1s500ms"), 1'500'000'000);
}

TEST(ParseDuration, PlainNumberIsSeconds) {
  EXPECT_EQ(ns_of("2"), 2'000'000'000);
  EXPECT_EQ(ns_of("0.25"), 250'000'000);
  EXPECT_EQ(ns_of("1e-3"), 1'000'000);
}

TEST(ParseDuration, IsExactNotThroughADouble) {
  EXPECT_EQ(ns_of("0.1s"), 100'000'000);
  EXPECT_EQ(ns_of("0.3s"), 300'000'000);
  EXPECT_EQ(ns_of("9223372036854775807ns"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(ns_of("1.0000000005s"), 1'000'000'001);  // half a nanosecond rounds up
  EXPECT_EQ(ns_of("0.4ns"), 0);
}

TEST(ParseDuration, RejectsBadInputWithTheTextEchoed) {
  EXPECT_EQ(error_of(parse_duration("fast")), R"(not a duration: "fast" (use e.g. 250us, 1.5s, 2m))");
  EXPECT_EQ(error_of(parse_duration("")), R"(not a duration: "" (empty; use e.g. 250us, 1.5s, 2m))");
  EXPECT_EQ(error_of(parse_duration("-5s")), R"(not a duration: "-5s" (must not be negative))");
  EXPECT_EQ(error_of(parse_duration("10sx")), R"(not a duration: "10sx" (use e.g. 250us, 1.5s, 2m))");
  EXPECT_EQ(error_of(parse_duration("nan")), R"(not a duration: "nan" (must be a finite number))");
  EXPECT_EQ(error_of(parse_duration("9223372036854775808ns")),
            R"(not a duration: "9223372036854775808ns" (too large; at most 292 years))");
  EXPECT_EQ(error_of(parse_duration("99999999999h")),
            R"(not a duration: "99999999999h" (too large; at most 292 years))");
  EXPECT_EQ(error_of(parse_duration("1e400")), R"(not a duration: "1e400" (too large; at most 292 years))");
  for (std::string_view text : {"   ", "inf", "infs", "1.5 s s", "s", "1..5s", "1.5.s", "1h-30m", "5 seconds",
                                "0x10s", "1,5s", "10M", "+5s", "5s+"}) {
    EXPECT_FALSE(parse_duration(text).has_value()) << text;
  }
}

TEST(ParseRate, AcceptsMultipliersAndSuffixes) {
  EXPECT_DOUBLE_EQ(rate_of("10k"), 10'000);
  EXPECT_DOUBLE_EQ(rate_of("10K"), 10'000);
  EXPECT_DOUBLE_EQ(rate_of("1500/s"), 1500);
  EXPECT_DOUBLE_EQ(rate_of("2.5M"), 2'500'000);
  EXPECT_DOUBLE_EQ(rate_of("100/m"), 100.0 / 60);
  EXPECT_DOUBLE_EQ(rate_of("36/h"), 0.01);
  EXPECT_DOUBLE_EQ(rate_of("20 QPS"), 20);
  EXPECT_DOUBLE_EQ(rate_of("10k QPS"), 10'000);
  EXPECT_DOUBLE_EQ(rate_of("50kIOPS"), 50'000);
  EXPECT_DOUBLE_EQ(rate_of("5k rps"), 5'000);
  EXPECT_DOUBLE_EQ(rate_of("5k/s"), 5'000);
  EXPECT_DOUBLE_EQ(rate_of("1000"), 1000);
  EXPECT_DOUBLE_EQ(rate_of("0"), 0);
}

TEST(ParseRate, RejectsBadInput) {
  EXPECT_EQ(error_of(parse_rate("lots")),
            R"(not a rate: "lots" (use e.g. 10k, 1500/s, 2.5M, 100/m, 20 QPS))");
  EXPECT_EQ(error_of(parse_rate("-10k")), R"(not a rate: "-10k" (must not be negative))");
  EXPECT_EQ(error_of(parse_rate("1e999")), R"(not a rate: "1e999" (too large))");
  for (std::string_view text : {"", "10m", "10kk", "10 k k", "5Gbps", "10/x", "inf", "NaN/s", "10 QPS!"}) {
    EXPECT_FALSE(parse_rate(text).has_value()) << text;
  }
}

TEST(ParseByteSize, DecimalAndBinary) {
  EXPECT_EQ(bytes_of("4KiB"), 4096u);
  EXPECT_EQ(bytes_of("1MB"), 1'000'000u);
  EXPECT_EQ(bytes_of("1MiB"), 1'048'576u);
  EXPECT_EQ(bytes_of("512"), 512u);
  EXPECT_EQ(bytes_of("2k"), 2000u);
  EXPECT_EQ(bytes_of("2K"), 2000u);
  EXPECT_EQ(bytes_of("1.5GiB"), 1'610'612'736u);
  EXPECT_EQ(bytes_of("4 KiB"), 4096u);
  EXPECT_EQ(bytes_of("10B"), 10u);
  EXPECT_EQ(bytes_of("1TB"), 1'000'000'000'000u);
  EXPECT_EQ(bytes_of("1Ki"), 1024u);
  EXPECT_EQ(bytes_of("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
}

TEST(ParseByteSize, RejectsBadInput) {
  EXPECT_EQ(error_of(parse_byte_size("big")), R"(not a size: "big" (use e.g. 4KiB, 1MB, 1MiB, 512))");
  EXPECT_EQ(error_of(parse_byte_size("16EiB")), R"(not a size: "16EiB" (too large; at most 16EiB))");
  EXPECT_EQ(error_of(parse_byte_size("-1KiB")), R"(not a size: "-1KiB" (must not be negative))");
  for (std::string_view text : {"", "4KiBx", "4kib", "1mb", "4 K i B", "18446744073709551616", "1XB"}) {
    EXPECT_FALSE(parse_byte_size(text).has_value()) << text;
  }
}

TEST(ParseBandwidth, BitsAndBytes) {
  EXPECT_DOUBLE_EQ(bps_of("5Gbps"), 5e9);
  EXPECT_DOUBLE_EQ(bps_of("100Mbit/s"), 100e6);
  EXPECT_DOUBLE_EQ(bps_of("200MB/s"), 1.6e9);
  EXPECT_DOUBLE_EQ(bps_of("1GiB/s"), 8.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(bps_of("10 Gbps"), 10e9);
  EXPECT_DOUBLE_EQ(bps_of("1kbps"), 1e3);
  EXPECT_DOUBLE_EQ(bps_of("1Mb/s"), 1e6);
  EXPECT_DOUBLE_EQ(bps_of("1GBps"), 8e9);
  EXPECT_DOUBLE_EQ(bps_of("1000"), 1000);
}

TEST(ParseBandwidth, RejectsBadInput) {
  EXPECT_EQ(error_of(parse_bandwidth("5G")),
            R"(not a bandwidth: "5G" (use e.g. 5Gbps, 100Mbit/s, 200MB/s, 1GiB/s))");
  EXPECT_EQ(error_of(parse_bandwidth("-5Gbps")), R"(not a bandwidth: "-5Gbps" (must not be negative))");
  for (std::string_view text : {"", "5 Gbps/s", "5gbps", "Gbps", "5Gbpsx", "inf"}) {
    EXPECT_FALSE(parse_bandwidth(text).has_value()) << text;
  }
}

TEST(ParseRatio, PercentAndFraction) {
  EXPECT_DOUBLE_EQ(fraction_of("99.9%"), 0.999);
  EXPECT_DOUBLE_EQ(fraction_of("0.001"), 0.001);
  EXPECT_DOUBLE_EQ(fraction_of("0.1 %"), 0.001);
  EXPECT_DOUBLE_EQ(fraction_of("150%"), 1.5);  // a load factor may exceed 1; metric values are checked below
  EXPECT_DOUBLE_EQ(fraction_of("0"), 0);
}

TEST(ParseRatio, RejectsBadInput) {
  EXPECT_EQ(error_of(parse_ratio("most")), R"(not a ratio: "most" (use e.g. 99.9% or 0.001))");
  EXPECT_EQ(error_of(parse_ratio("-1%")), R"(not a ratio: "-1%" (must not be negative))");
  for (std::string_view text : {"", "%", "99.9%%", "1/2", "nan%"}) {
    EXPECT_FALSE(parse_ratio(text).has_value()) << text;
  }
}

TEST(Quantity, NamesRoundTrip) {
  for (Quantity q : {Quantity::duration, Quantity::rate, Quantity::ratio, Quantity::bandwidth,
                     Quantity::count, Quantity::size}) {
    auto parsed = parse_quantity_name(to_string(q));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, q);
  }
  EXPECT_EQ(error_of(parse_quantity_name("speed")),
            R"(unknown quantity: "speed" (use duration, rate, ratio, bandwidth, count or size))");
}

TEST(Quantity, ParsesIntoBaseUnits) {
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::duration, "30ms"), 0.030);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::bandwidth, "5Gbps"), 5e9);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::ratio, "99%"), 0.99);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::rate, "10k QPS"), 10'000);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::size, "4KiB"), 4096);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::count, "3"), 3);
  EXPECT_EQ(
      error_of(parse_quantity(Quantity::ratio, "99.9")),
      R"(not a ratio: "99.9" (a fraction must be between 0 and 1; write a percentage with %, e.g. 99.9%))");
  EXPECT_EQ(error_of(parse_quantity(Quantity::count, "three")),
            R"(not a count: "three" (use a plain number, e.g. 3))");
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::duration, "30"), 30);
}

TEST(FormatQuantity, UsesTheDisplayUnit) {
  EXPECT_EQ(format_quantity(Quantity::duration, 0.0123456, "ms"), "12.35ms");
  EXPECT_EQ(format_quantity(Quantity::duration, 0.0005, "us"), "500.00us");
  EXPECT_EQ(format_quantity(Quantity::duration, 2.5, "s"), "2.50s");
  EXPECT_EQ(format_quantity(Quantity::duration, 0.0000012, "ms"), "0.0012ms");
  EXPECT_EQ(format_quantity(Quantity::duration, 0, "ms"), "0.00ms");
  EXPECT_EQ(format_quantity(Quantity::ratio, 0.999, "%"), "99.90%");
  EXPECT_EQ(format_quantity(Quantity::ratio, 0.00001, "%"), "0.001%");
  EXPECT_EQ(format_quantity(Quantity::bandwidth, 5e9, "Gbps"), "5.00Gbps");
  EXPECT_EQ(format_quantity(Quantity::bandwidth, 1.6e9, "MB/s"), "200.00MB/s");
  EXPECT_EQ(format_quantity(Quantity::rate, 12'300, "QPS"), "12.3k QPS");
  EXPECT_EQ(format_quantity(Quantity::rate, 1500, "QPS"), "1500 QPS");
  EXPECT_EQ(format_quantity(Quantity::rate, 999.6, "RPS"), "999.6 RPS");
  EXPECT_EQ(format_quantity(Quantity::rate, 50'000, "IOPS"), "50k IOPS");
  EXPECT_EQ(format_quantity(Quantity::rate, 5'000, "/s"), "5000/s");
  EXPECT_EQ(format_quantity(Quantity::rate, 12'345, "k"), "12.35k/s");
  EXPECT_EQ(format_quantity(Quantity::count, 3, ""), "3");
  EXPECT_EQ(format_quantity(Quantity::size, 4096, "KiB"), "4KiB");
}

TEST(FormatQuantity, ChoosesAReadableScaleWithoutADisplayUnit) {
  EXPECT_EQ(format_quantity(Quantity::duration, 0.00123), "1.23ms");
  EXPECT_EQ(format_quantity(Quantity::bandwidth, 5e9), "5.00Gbps");
  EXPECT_EQ(format_quantity(Quantity::bandwidth, 2.5e6), "2.50Mbps");
  EXPECT_EQ(format_quantity(Quantity::rate, 12'300), "12.3k/s");
  EXPECT_EQ(format_quantity(Quantity::rate, 2.5e6), "2.5M/s");
  EXPECT_EQ(format_quantity(Quantity::ratio, 0.999), "99.90%");
  EXPECT_EQ(format_quantity(Quantity::size, 1'572'864), "1.5MiB");
  EXPECT_EQ(format_quantity(Quantity::size, 100), "100B");
  EXPECT_EQ(format_quantity(Quantity::count, 2.6), "3");
}

TEST(FormatQuantity, ParsesBackToTheSameValue) {
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::duration, format_quantity(Quantity::duration, 0.025, "ms")),
                   0.025);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::bandwidth, format_quantity(Quantity::bandwidth, 5e9, "Gbps")),
                   5e9);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::ratio, format_quantity(Quantity::ratio, 0.999, "%")), 0.999);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::rate, format_quantity(Quantity::rate, 50'000, "IOPS")), 50'000);
  EXPECT_DOUBLE_EQ(*parse_quantity(Quantity::size, format_quantity(Quantity::size, 4096)), 4096);
}

TEST(FormatDuration, PicksTheUnit) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(format_duration(nanoseconds(0)), "0ns");
  EXPECT_EQ(format_duration(nanoseconds(999)), "999ns");
  EXPECT_EQ(format_duration(nanoseconds(250'000)), "250.00us");
  EXPECT_EQ(format_duration(nanoseconds(1'234'567)), "1.23ms");
  EXPECT_EQ(format_duration(nanoseconds(1'500'000'000)), "1.50s");
  EXPECT_EQ(format_duration(std::chrono::seconds(150)), "2m30s");
  EXPECT_EQ(format_duration(std::chrono::minutes(90)), "1h30m");
  EXPECT_EQ(format_duration(std::chrono::seconds(3605)), "1h0m5s");
  EXPECT_EQ(format_duration(std::chrono::hours(2)), "2h");
  EXPECT_EQ(format_duration(nanoseconds(-5'000'000)), "-5.00ms");
  // The ends of the range: rounding to the second added half a second first and overflowed.
  EXPECT_EQ(format_duration(nanoseconds::max()), "2562047h47m17s");
  EXPECT_EQ(format_duration(nanoseconds::min()), "-2562047h47m17s");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(89'500)), "1m30s");
  EXPECT_EQ(format_duration(std::chrono::milliseconds(89'499)), "1m29s");
}

}  // namespace
}  // namespace kp
