#pragma once

// Units are parsed once, at the edge (flags, YAML, JSON), into these types; everything inside works in base
// units. Each parser accepts a plain number in the base unit too, and echoes the text in its error.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace kp {

using Duration = std::chrono::nanoseconds;

// Events per second: "10k", "1500/s", "2.5M", "100/m", "20 QPS" (a trailing "QPS", "RPS", "IOPS" or "/s" is
// allowed).
struct Rate {
  double per_second = 0;
  friend auto operator<=>(const Rate&, const Rate&) = default;
};

// Bytes: "4KiB", "1MB" (decimal), "1MiB" (binary), "512" (bytes), "2k" (=2000).
struct ByteSize {
  std::uint64_t bytes = 0;
  friend auto operator<=>(const ByteSize&, const ByteSize&) = default;
};

// Bits per second: "5Gbps", "100Mbit/s", "200MB/s" (bytes per second, decimal), "1GiB/s".
struct Bandwidth {
  double bits_per_second = 0;
  friend auto operator<=>(const Bandwidth&, const Bandwidth&) = default;
};

// A fraction: "99.9%" = 0.999, "0.001" = 0.001.
struct Ratio {
  double fraction = 0;
  friend auto operator<=>(const Ratio&, const Ratio&) = default;
};

// "250us", "1.5s", "2m", "1h30m", "10ms", "500ns", plain numbers are seconds. Negative durations are errors.
Result<Duration> parse_duration(std::string_view text);
Result<Rate> parse_rate(std::string_view text);
Result<ByteSize> parse_byte_size(std::string_view text);
Result<Bandwidth> parse_bandwidth(std::string_view text);
Result<Ratio> parse_ratio(std::string_view text);

// The kind of a metric's value, which fixes its base unit.
enum class Quantity {
  duration,   // seconds
  rate,       // events per second
  ratio,      // fraction, 0..1
  bandwidth,  // bits per second
  count,      // a plain number of things
  size,       // bytes
};

std::string_view to_string(Quantity quantity);
Result<Quantity> parse_quantity_name(std::string_view name);

// Parses text for a quantity into its base unit ("30ms" -> 0.030 for duration, "5Gbps" -> 5e9, "99%" ->
// 0.99).
Result<double> parse_quantity(Quantity quantity, std::string_view text);

// Formats a base-unit value for people. display_unit picks the scale when given ("ms", "us", "s", "Gbps",
// "MB/s",
// "%", "k"); otherwise a readable one is chosen ("1.23ms", "5.00Gbps", "12.3k/s", "99.90%").
std::string format_quantity(Quantity quantity, double base_value, std::string_view display_unit = {});

std::string format_duration(Duration duration);

}  // namespace kp
