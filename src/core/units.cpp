#include "core/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "core/unit_tables.hpp"

namespace kp {
namespace {

using detail::bandwidth_unit_factor;
using detail::DurationUnit;
using detail::iequals;
using detail::kDurationUnits;
using detail::size_unit_factor;

__extension__ typedef unsigned __int128 u128;  // __extension__: -Wpedantic rejects the keyword

constexpr std::string_view kDurationHint = "use e.g. 250us, 1.5s, 2m";
constexpr std::string_view kRateHint = "use e.g. 10k, 1500/s, 2.5M, 100/m, 20 QPS";
constexpr std::string_view kSizeHint = "use e.g. 4KiB, 1MB, 1MiB, 512";
constexpr std::string_view kBandwidthHint = "use e.g. 5Gbps, 100Mbit/s, 200MB/s, 1GiB/s";
constexpr std::string_view kRatioHint = "use e.g. 99.9% or 0.001";

std::unexpected<Error> bad(std::string_view what, std::string_view text, std::string_view reason) {
  return fail(ErrorKind::input, fmt::format("not {}: \"{}\" ({})", what, text, reason));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && is_space(text.back())) {
    text.remove_suffix(1);
  }
  return text;
}

std::string_view trim_front(std::string_view text) {
  while (!text.empty() && is_space(text.front())) {
    text.remove_prefix(1);
  }
  return text;
}

// A decimal number as written, kept as text so that integer quantities (nanoseconds, bytes) can be computed
// exactly instead of through a double: "0.1s" must be 100000000 ns, and "18446744073709551615" bytes must not
// round.
struct Number {
  std::string_view text;  // the whole number, e.g. "1.5e3"
  std::string_view rest;  // what follows it (the unit)
};

// Scans [digits][.digits][e[+-]digits] at the front of `text`. An exponent is taken only when digits follow
// the 'e', so "1EB" is one exabyte, not a malformed exponent. A leading sign is not part of a number.
std::optional<Number> scan_number(std::string_view text) {
  std::size_t pos = 0;
  std::size_t digits = 0;
  while (pos < text.size() && is_digit(text[pos])) {
    ++pos;
    ++digits;
  }
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size() && is_digit(text[pos])) {
      ++pos;
      ++digits;
    }
  }
  if (digits == 0) {
    return std::nullopt;
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    std::size_t exp = pos + 1;
    if (exp < text.size() && (text[exp] == '+' || text[exp] == '-')) {
      ++exp;
    }
    if (exp < text.size() && is_digit(text[exp])) {
      while (exp < text.size() && is_digit(text[exp])) {
        ++exp;
      }
      pos = exp;
    }
  }
  return Number{text.substr(0, pos), text.substr(pos)};
}

enum class NumberError { none, not_a_number, negative, not_finite };

struct Scanned {
  Number number;
  NumberError error = NumberError::none;
};

// Leading sign and the words from_chars would accept (nan, inf) are diagnosed here so the messages can say
// so.
Scanned scan_non_negative(std::string_view text) {
  std::string_view body = text;
  if (!body.empty() && body.front() == '-') {
    body.remove_prefix(1);
    return {{}, scan_number(body) ? NumberError::negative : NumberError::not_a_number};
  }
  if (iequals(body.substr(0, 3), "nan") || iequals(body.substr(0, 3), "inf")) {
    return {{}, NumberError::not_finite};
  }
  if (auto number = scan_number(body)) {
    return {*number, NumberError::none};
  }
  return {{}, NumberError::not_a_number};
}

std::string_view number_error_reason(NumberError error, std::string_view hint) {
  switch (error) {
    case NumberError::negative:
      return "must not be negative";
    case NumberError::not_finite:
      return "must be a finite number";
    case NumberError::none:
    case NumberError::not_a_number:
      break;
  }
  return hint;
}

std::optional<double> to_double(std::string_view number) {
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc{} || end != number.data() + number.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// number * unit, rounded to the nearest integer, exactly; nullopt if above `max`.
std::optional<std::uint64_t> scale_exact(std::string_view number, u128 unit, std::uint64_t max) {
  u128 mantissa = 0;
  int kept = 0;
  long exponent10 = 0;
  bool fraction = false;
  std::size_t pos = 0;
  for (; pos < number.size(); ++pos) {
    const char c = number[pos];
    if (c == '.') {
      fraction = true;
      continue;
    }
    if (!is_digit(c)) {
      break;
    }
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (mantissa == 0 && digit == 0) {
      if (fraction) {
        --exponent10;
      }
      continue;
    }
    // 20 digits cover every 64-bit integer, and 10^20 * 2^60 still fits in 128 bits; digits beyond that are
    // far below the rounding of any result that does not overflow.
    if (kept < 20) {
      mantissa = mantissa * 10 + digit;
      ++kept;
      if (fraction) {
        --exponent10;
      }
    } else if (!fraction) {
      ++exponent10;
    }
  }
  if (pos < number.size()) {
    // An exponent: "e", optional sign, digits. Saturate; anything beyond +-100 is overflow or zero anyway.
    ++pos;
    bool negative = false;
    if (number[pos] == '+' || number[pos] == '-') {
      negative = number[pos] == '-';
      ++pos;
    }
    long exp = 0;
    for (; pos < number.size(); ++pos) {
      exp = std::min(exp * 10 + (number[pos] - '0'), 100000L);
    }
    exponent10 += negative ? -exp : exp;
  }
  if (mantissa == 0) {
    return 0;
  }
  u128 value = mantissa * unit;
  if (exponent10 >= 0) {
    if (value > max) {
      return std::nullopt;
    }
    for (long i = 0; i < exponent10; ++i) {
      value *= 10;
      if (value > max) {
        return std::nullopt;
      }
    }
  } else {
    if (exponent10 < -38) {
      return 0;
    }
    u128 divisor = 1;
    for (long i = 0; i < -exponent10; ++i) {
      divisor *= 10;
    }
    const u128 remainder = value % divisor;
    value /= divisor;
    if (remainder * 2 >= divisor) {
      ++value;
    }
  }
  if (value > max) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(value);
}

struct UnitEntry {
  std::string_view name;
  double factor;
};

// ---- durations ----

std::optional<DurationUnit> take_duration_unit(std::string_view& rest) {
  const DurationUnit* best = nullptr;
  for (const DurationUnit& unit : kDurationUnits) {
    if (rest.starts_with(unit.name) && (best == nullptr || unit.name.size() > best->name.size())) {
      best = &unit;
    }
  }
  if (best == nullptr) {
    return std::nullopt;
  }
  rest.remove_prefix(best->name.size());
  return *best;
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
  constexpr std::string_view kWhat = "a duration";
  const std::string_view body = trim(text);
  if (body.empty()) {
    return bad(kWhat, text, "empty; use e.g. 250us, 1.5s, 2m");
  }
  const Scanned first = scan_non_negative(body);
  if (first.error != NumberError::none) {
    return bad(kWhat, text, number_error_reason(first.error, kDurationHint));
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (trim(first.number.rest).empty()) {
    // A plain number is seconds.
    auto ns = scale_exact(first.number.text, 1'000'000'000, kMax);
    if (!ns) {
      return bad(kWhat, text, "too large; at most 292 years");
    }
    return Duration(static_cast<std::int64_t>(*ns));
  }
  // One or more number+unit parts: "1h30m", "1.5s", "2m 30s".
  u128 total = 0;
  std::string_view rest = body;
  while (!rest.empty()) {
    const std::optional<Number> number = scan_number(rest);
    if (!number) {
      return bad(kWhat, text, kDurationHint);
    }
    rest = trim_front(number->rest);
    const std::optional<DurationUnit> unit = take_duration_unit(rest);
    if (!unit) {
      return bad(kWhat, text, kDurationHint);
    }
    auto ns = scale_exact(number->text, unit->ns, kMax);
    if (!ns) {
      return bad(kWhat, text, "too large; at most 292 years");
    }
    total += *ns;
    if (total > kMax) {
      return bad(kWhat, text, "too large; at most 292 years");
    }
    rest = trim_front(rest);
  }
  return Duration(static_cast<std::int64_t>(total));
}

Result<Rate> parse_rate(std::string_view text) {
  constexpr std::string_view kWhat = "a rate";
  const std::string_view body = trim(text);
  if (body.empty()) {
    return bad(kWhat, text, "empty; use e.g. 10k, 1500/s, 2.5M, 100/m, 20 QPS");
  }
  const Scanned scanned = scan_non_negative(body);
  if (scanned.error != NumberError::none) {
    return bad(kWhat, text, number_error_reason(scanned.error, kRateHint));
  }
  const std::optional<double> number = to_double(scanned.number.text);
  if (!number) {
    return bad(kWhat, text, "too large");
  }
  std::string_view rest = trim_front(scanned.number.rest);
  double value = *number;
  // An optional multiplier. A lowercase "m" is not one: it would read as milli to some and mega to others.
  if (!rest.empty()) {
    double multiplier = 0;
    switch (rest.front()) {
      case 'k':
      case 'K':
        multiplier = 1e3;
        break;
      case 'M':
        multiplier = 1e6;
        break;
      case 'G':
        multiplier = 1e9;
        break;
      default:
        break;
    }
    if (multiplier != 0) {
      value *= multiplier;
      rest = trim_front(rest.substr(1));
    }
  }
  // An optional "per" suffix.
  constexpr std::array<UnitEntry, 13> kPer = {{
      {"", 1},
      {"/s", 1},
      {"/sec", 1},
      {"/m", 1.0 / 60},
      {"/min", 1.0 / 60},
      {"/h", 1.0 / 3600},
      {"qps", 1},
      {"rps", 1},
      {"iops", 1},
      {"ops", 1},
      {"ops/s", 1},
      {"hz", 1},
      {"req/s", 1},
  }};
  for (const UnitEntry& per : kPer) {
    if (iequals(rest, per.name)) {
      value *= per.factor;
      if (!std::isfinite(value)) {
        return bad(kWhat, text, "too large");
      }
      return Rate{value};
    }
  }
  return bad(kWhat, text, kRateHint);
}

Result<ByteSize> parse_byte_size(std::string_view text) {
  constexpr std::string_view kWhat = "a size";
  const std::string_view body = trim(text);
  if (body.empty()) {
    return bad(kWhat, text, "empty; use e.g. 4KiB, 1MB, 1MiB, 512");
  }
  const Scanned scanned = scan_non_negative(body);
  if (scanned.error != NumberError::none) {
    return bad(kWhat, text, number_error_reason(scanned.error, kSizeHint));
  }
  const std::optional<std::uint64_t> factor = size_unit_factor(trim_front(scanned.number.rest));
  if (!factor) {
    return bad(kWhat, text, kSizeHint);
  }
  const std::optional<std::uint64_t> bytes =
      scale_exact(scanned.number.text, *factor, std::numeric_limits<std::uint64_t>::max());
  if (!bytes) {
    return bad(kWhat, text, "too large; at most 16EiB");
  }
  return ByteSize{*bytes};
}

Result<Bandwidth> parse_bandwidth(std::string_view text) {
  constexpr std::string_view kWhat = "a bandwidth";
  const std::string_view body = trim(text);
  if (body.empty()) {
    return bad(kWhat, text, "empty; use e.g. 5Gbps, 100Mbit/s, 200MB/s, 1GiB/s");
  }
  const Scanned scanned = scan_non_negative(body);
  if (scanned.error != NumberError::none) {
    return bad(kWhat, text, number_error_reason(scanned.error, kBandwidthHint));
  }
  const std::optional<double> number = to_double(scanned.number.text);
  if (!number) {
    return bad(kWhat, text, "too large");
  }
  const std::optional<double> factor = bandwidth_unit_factor(trim_front(scanned.number.rest));
  if (!factor) {
    return bad(kWhat, text, kBandwidthHint);
  }
  const double value = *number * *factor;
  if (!std::isfinite(value)) {
    return bad(kWhat, text, "too large");
  }
  return Bandwidth{value};
}

Result<Ratio> parse_ratio(std::string_view text) {
  constexpr std::string_view kWhat = "a ratio";
  const std::string_view body = trim(text);
  if (body.empty()) {
    return bad(kWhat, text, "empty; use e.g. 99.9% or 0.001");
  }
  const Scanned scanned = scan_non_negative(body);
  if (scanned.error != NumberError::none) {
    return bad(kWhat, text, number_error_reason(scanned.error, kRatioHint));
  }
  const std::optional<double> number = to_double(scanned.number.text);
  if (!number) {
    return bad(kWhat, text, "too large");
  }
  const std::string_view rest = trim_front(scanned.number.rest);
  if (rest.empty()) {
    return Ratio{*number};
  }
  if (rest == "%") {
    return Ratio{*number / 100};
  }
  return bad(kWhat, text, kRatioHint);
}

std::string_view to_string(Quantity quantity) {
  switch (quantity) {
    case Quantity::duration:
      return "duration";
    case Quantity::rate:
      return "rate";
    case Quantity::ratio:
      return "ratio";
    case Quantity::bandwidth:
      return "bandwidth";
    case Quantity::count:
      return "count";
    case Quantity::size:
      return "size";
  }
  return "?";
}

Result<Quantity> parse_quantity_name(std::string_view name) {
  for (Quantity quantity : {Quantity::duration, Quantity::rate, Quantity::ratio, Quantity::bandwidth,
                            Quantity::count, Quantity::size}) {
    if (to_string(quantity) == name) {
      return quantity;
    }
  }
  return fail(ErrorKind::input, fmt::format("unknown quantity: \"{}\" (use duration, rate, ratio, bandwidth, "
                                            "count or size)",
                                            name));
}

Result<double> parse_quantity(Quantity quantity, std::string_view text) {
  switch (quantity) {
    case Quantity::duration: {
      auto value = parse_duration(text);
      if (!value) {
        return std::unexpected(value.error());
      }
      return static_cast<double>(value->count()) / 1e9;
    }
    case Quantity::rate: {
      auto value = parse_rate(text);
      if (!value) {
        return std::unexpected(value.error());
      }
      return value->per_second;
    }
    case Quantity::ratio: {
      auto ratio = parse_ratio(text);
      if (!ratio) {
        return std::unexpected(ratio.error());
      }
      // A metric's ratio is a fraction; "99.9" almost certainly meant a percentage.
      if (ratio->fraction > 1) {
        return bad("a ratio", text,
                   "a fraction must be between 0 and 1; write a percentage with %, e.g. 99.9%");
      }
      return ratio->fraction;
    }
    case Quantity::bandwidth: {
      auto value = parse_bandwidth(text);
      if (!value) {
        return std::unexpected(value.error());
      }
      return value->bits_per_second;
    }
    case Quantity::count: {
      const std::string_view body = trim(text);
      const Scanned scanned = scan_non_negative(body);
      if (body.empty() || scanned.error != NumberError::none || !trim(scanned.number.rest).empty()) {
        return bad("a count", text,
                   body.empty() ? "empty; use a plain number, e.g. 3"
                                : number_error_reason(scanned.error, "use a plain number, e.g. 3"));
      }
      const std::optional<double> number = to_double(scanned.number.text);
      if (!number) {
        return bad("a count", text, "too large");
      }
      return *number;
    }
    case Quantity::size: {
      auto value = parse_byte_size(text);
      if (!value) {
        return std::unexpected(value.error());
      }
      return static_cast<double>(value->bytes);
    }
  }
  return fail(ErrorKind::internal, "parse_quantity: unknown quantity");
}

}  // namespace kp
