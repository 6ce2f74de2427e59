#include "core/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kp {
namespace {

using json = nlohmann::json;

constexpr int kJsonVersion = 1;
const std::size_t kFirstIndex = Histogram::index_of(Histogram::kLowest);
const std::size_t kLastIndex = Histogram::index_of(Histogram::kHighest);

static_assert(Histogram::kHighest >> (Histogram::kBucketCount - 1) < 2 * Histogram::kSubBucketHalfCount,
              "kBucketCount must cover kHighest");
static_assert(Histogram::kHighest >> (Histogram::kBucketCount - 2) >= 2 * Histogram::kSubBucketHalfCount,
              "kBucketCount is larger than kHighest needs");

std::unexpected<Error> invalid(std::string message) {
  return fail(ErrorKind::input, "histogram: " + std::move(message));
}

std::string to_decimal(Int128 value) {
  if (value == 0) {
    return "0";
  }
  const bool negative = value < 0;
  // Work on the magnitude as unsigned so the most negative value does not overflow.
  UInt128 magnitude = negative ? -static_cast<UInt128>(value) : value;
  std::string digits;
  while (magnitude != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  }
  if (negative) {
    digits.push_back('-');
  }
  std::reverse(digits.begin(), digits.end());
  return digits;
}

std::optional<Int128> from_decimal(std::string_view text) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 38) {
    return std::nullopt;
  }
  Int128 value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + (c - '0');  // 38 digits cannot overflow 127 bits
  }
  return negative ? -value : value;
}

Result<const json*> field(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end()) {
    return invalid(fmt::format("missing \"{}\"", key));
  }
  return &*it;
}

Result<std::uint64_t> unsigned_field(const json& object, const char* key) {
  auto value = field(object, key);
  if (!value) {
    return std::unexpected(value.error());
  }
  if (!(*value)->is_number_unsigned()) {
    return invalid(fmt::format("\"{}\" must be a non-negative integer, got {}", key, (*value)->dump()));
  }
  return (*value)->get<std::uint64_t>();
}

Result<std::int64_t> signed_field(const json& object, const char* key) {
  auto value = field(object, key);
  if (!value) {
    return std::unexpected(value.error());
  }
  const json& number = **value;
  if (!number.is_number_integer() ||
      (number.is_number_unsigned() &&
       number.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
    return invalid(fmt::format("\"{}\" must be a 64-bit integer, got {}", key, number.dump()));
  }
  return number.get<std::int64_t>();
}

// A validated image of a serialised histogram; from_json builds the Histogram from it.
struct Parts {
  std::uint64_t underflow = 0;
  std::uint64_t overflow = 0;
  std::int64_t min = 0;
  std::int64_t max = 0;
  Int128 sum = 0;
  std::vector<std::pair<std::size_t, std::uint64_t>> buckets;
};

// The whole parse and validation; from_json wraps it so that no nlohmann exception escapes.
Result<Parts> parse(const json& object) {
  if (!object.is_object()) {
    return invalid(fmt::format("expected an object, got {}", object.type_name()));
  }
  auto version = field(object, "version");
  if (!version) {
    return std::unexpected(version.error());
  }
  if (!(*version)->is_number_integer() || (*version)->get<std::int64_t>() != kJsonVersion) {
    return invalid(fmt::format("unsupported version {} (expected {})", (*version)->dump(), kJsonVersion));
  }
  if (const auto unit = object.find("unit"); unit != object.end() && *unit != "ns") {
    return invalid(fmt::format("unsupported unit {} (expected \"ns\")", unit->dump()));
  }
  auto count = unsigned_field(object, "count");
  auto underflow = unsigned_field(object, "underflow");
  auto overflow = unsigned_field(object, "overflow");
  auto min = signed_field(object, "min");
  auto max = signed_field(object, "max");
  for (const Error* error :
       {count ? nullptr : &count.error(), underflow ? nullptr : &underflow.error(),
        overflow ? nullptr : &overflow.error(), min ? nullptr : &min.error(), max ? nullptr : &max.error()}) {
    if (error != nullptr) {
      return std::unexpected(*error);
    }
  }
  auto sum_field = field(object, "sum");
  if (!sum_field) {
    return std::unexpected(sum_field.error());
  }
  std::optional<Int128> sum;
  if ((*sum_field)->is_number_integer()) {
    sum = (*sum_field)->is_number_unsigned() ? static_cast<Int128>((*sum_field)->get<std::uint64_t>())
                                             : static_cast<Int128>((*sum_field)->get<std::int64_t>());
  } else if ((*sum_field)->is_string()) {
    sum = from_decimal((*sum_field)->get_ref<const std::string&>());
  }
  if (!sum) {
    return invalid(
        fmt::format("\"sum\" must be an integer or a decimal string, got {}", (*sum_field)->dump()));
  }
  auto buckets = field(object, "buckets");
  if (!buckets) {
    return std::unexpected(buckets.error());
  }
  if (!(*buckets)->is_array()) {
    return invalid(fmt::format("\"buckets\" must be an array, got {}", (*buckets)->type_name()));
  }

  std::vector<std::pair<std::size_t, std::uint64_t>> entries;
  entries.reserve((*buckets)->size());
  UInt128 total = static_cast<UInt128>(*underflow) + *overflow;
  std::size_t previous = 0;
  for (std::size_t i = 0; i < (*buckets)->size(); ++i) {
    const json& bucket = (**buckets)[i];
    if (!bucket.is_array() || bucket.size() != 2 || !bucket[0].is_number_integer() ||
        !bucket[1].is_number_integer()) {
      return invalid(fmt::format("buckets[{}] must be [index, count], got {}", i, bucket.dump()));
    }
    // Only indices that some value in kLowest..kHighest maps to: anything else could never round-trip.
    if (!bucket[0].is_number_unsigned() || bucket[0].get<std::uint64_t>() < kFirstIndex ||
        bucket[0].get<std::uint64_t>() > kLastIndex) {
      return invalid(fmt::format("buckets[{}]: index {} out of range ({}..{})", i, bucket[0].dump(),
                                 kFirstIndex, kLastIndex));
    }
    if (!bucket[1].is_number_unsigned()) {
      return invalid(
          fmt::format("buckets[{}]: count must be a non-negative integer, got {}", i, bucket[1].dump()));
    }
    const auto index = static_cast<std::size_t>(bucket[0].get<std::uint64_t>());
    if (i > 0 && index <= previous) {
      return invalid(
          fmt::format("buckets[{}]: index {} out of order (indices must be strictly increasing)", i, index));
    }
    previous = index;
    const std::uint64_t n = bucket[1].get<std::uint64_t>();
    total += n;
    entries.emplace_back(index, n);
  }
  if (total != *count) {
    return invalid(fmt::format("bucket counts with underflow and overflow sum to {} but \"count\" is {}",
                               to_decimal(static_cast<Int128>(total)), *count));
  }

  if (*count == 0) {
    if (*min != 0 || *max != 0 || *sum != 0) {
      return invalid(fmt::format("an empty histogram must have min, max and sum 0, got {}, {} and {}", *min,
                                 *max, to_decimal(*sum)));
    }
    return Parts{*underflow, *overflow, 0, 0, 0, std::move(entries)};
  }
  if (*min > *max) {
    return invalid(fmt::format("\"min\" {} is greater than \"max\" {}", *min, *max));
  }
  // min and max must lie in the lowest and highest non-empty region, or percentiles would be clamped wrongly.
  const auto first_region = [&]() -> std::pair<std::int64_t, std::int64_t> {
    if (*underflow > 0) {
      return {std::numeric_limits<std::int64_t>::min(), Histogram::kLowest - 1};
    }
    if (!entries.empty()) {
      return {Histogram::lowest_equivalent(entries.front().first),
              Histogram::highest_equivalent(entries.front().first)};
    }
    return {Histogram::kHighest + 1, std::numeric_limits<std::int64_t>::max()};
  }();
  const auto last_region = [&]() -> std::pair<std::int64_t, std::int64_t> {
    if (*overflow > 0) {
      return {Histogram::kHighest + 1, std::numeric_limits<std::int64_t>::max()};
    }
    if (!entries.empty()) {
      return {Histogram::lowest_equivalent(entries.back().first),
              Histogram::highest_equivalent(entries.back().first)};
    }
    return {std::numeric_limits<std::int64_t>::min(), Histogram::kLowest - 1};
  }();
  if (*min < first_region.first || *min > first_region.second) {
    return invalid(fmt::format("\"min\" {} does not lie in the lowest non-empty bucket", *min));
  }
  if (*max < last_region.first || *max > last_region.second) {
    return invalid(fmt::format("\"max\" {} does not lie in the highest non-empty bucket", *max));
  }
  const Int128 n = static_cast<Int128>(*count);
  if (*sum < n * *min || *sum > n * *max) {
    return invalid(fmt::format("\"sum\" {} is not between count * min and count * max", to_decimal(*sum)));
  }
  return Parts{*underflow, *overflow, *min, *max, *sum, std::move(entries)};
}

}  // namespace

std::uint64_t percentile_rank(double percentile, std::uint64_t count) {
  if (count == 0) {
    return 0;
  }
  if (!(percentile > 0)) {  // also NaN
    return 1;
  }
  if (percentile >= 100) {
    return count;
  }
  long double exact = static_cast<long double>(percentile) / 100 * static_cast<long double>(count);
  const long double nearest = std::round(exact);
  if (std::fabs(exact - nearest) <= 1e-14L * std::max(1.0L, exact)) {
    exact = nearest;
  }
  const auto rank = static_cast<std::uint64_t>(std::ceil(exact));
  return std::clamp<std::uint64_t>(rank, 1, count);
}

Histogram::Histogram() : counts_(kCountsLength, 0) {}

void Histogram::merge(const Histogram& other) {
  // Sizes differ only for a moved-from histogram, which holds no counts.
  const std::size_t length = std::min(counts_.size(), other.counts_.size());
  for (std::size_t i = 0; i < length; ++i) {
    counts_[i] += other.counts_[i];
  }
  total_count_ += other.total_count_;
  underflow_count_ += other.underflow_count_;
  overflow_count_ += other.overflow_count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  // Saturates rather than overflows (undefined for Int128): only histograms read from outside, with counts
  // near 2^64 each, come near the limit, and a saturated mean still says "absurdly large".
  if (__builtin_add_overflow(sum_, other.sum_, &sum_)) {
    constexpr auto kMax = static_cast<Int128>(~UInt128{0} >> 1);
    sum_ = other.sum_ > 0 ? kMax : -kMax - 1;
  }
}

void Histogram::reset() {
  counts_.assign(kCountsLength, 0);  // assign, not fill, so a moved-from histogram becomes usable again
  total_count_ = 0;
  underflow_count_ = 0;
  overflow_count_ = 0;
  min_ = std::numeric_limits<std::int64_t>::max();
  max_ = std::numeric_limits<std::int64_t>::min();
  sum_ = 0;
}

std::int64_t Histogram::min() const {
  return total_count_ == 0 ? 0 : min_;
}
std::int64_t Histogram::max() const {
  return total_count_ == 0 ? 0 : max_;
}

double Histogram::mean() const {
  if (total_count_ == 0) {
    return 0;
  }
  return static_cast<double>(static_cast<long double>(sum_) / static_cast<long double>(total_count_));
}

double Histogram::stddev() const {
  if (total_count_ == 0) {
    return 0;
  }
  const long double mean = static_cast<long double>(sum_) / static_cast<long double>(total_count_);
  // Each bucket stands for its middle, clamped to the exact extremes so a histogram of one repeated value has
  // a stddev of exactly 0. Underflow stands for 0, overflow for max.
  const auto representative = [&](std::int64_t value) {
    return static_cast<long double>(std::clamp(value, min_, max_));
  };
  long double sum_squares = 0;
  const auto add = [&](std::int64_t value, std::uint64_t n) {
    const long double delta = representative(value) - mean;
    sum_squares += delta * delta * static_cast<long double>(n);
  };
  if (underflow_count_ > 0) {
    add(0, underflow_count_);
  }
  if (overflow_count_ > 0) {
    add(max_, overflow_count_);
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) {
      add(median_equivalent(i), counts_[i]);
    }
  }
  return static_cast<double>(std::sqrt(sum_squares / static_cast<long double>(total_count_)));
}

std::int64_t Histogram::value_at_percentile(double percentile) const {
  if (total_count_ == 0) {
    return 0;
  }
  const std::uint64_t rank = percentile_rank(percentile, total_count_);
  std::uint64_t seen = underflow_count_;
  if (rank <= seen) {
    // Every value below kLowest shares one bucket whose highest value is 0.
    return std::min<std::int64_t>(0, max_);
  }
  const std::size_t first = (min_ >= kLowest && min_ <= kHighest) ? index_of(min_) : 0;
  for (std::size_t i = first; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      return std::min(highest_equivalent(i), max_);
    }
  }
  return max_;
}

std::int64_t Histogram::lowest_equivalent(std::size_t index) {
  int bucket = static_cast<int>(index >> kSubBucketHalfCountMagnitude) - 1;
  auto sub_bucket = static_cast<std::int64_t>(index & static_cast<std::size_t>(kSubBucketHalfCount - 1)) +
                    kSubBucketHalfCount;
  if (bucket < 0) {
    sub_bucket -= kSubBucketHalfCount;
    bucket = 0;
  }
  return sub_bucket << bucket;
}

std::int64_t Histogram::highest_equivalent(std::size_t index) {
  const int bucket = std::max(0, static_cast<int>(index >> kSubBucketHalfCountMagnitude) - 1);
  return lowest_equivalent(index) + (std::int64_t{1} << bucket) - 1;
}

std::int64_t Histogram::median_equivalent(std::size_t index) {
  const int bucket = std::max(0, static_cast<int>(index >> kSubBucketHalfCountMagnitude) - 1);
  return lowest_equivalent(index) + ((std::int64_t{1} << bucket) >> 1);
}

json Histogram::to_json() const {
  json buckets = json::array();
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] != 0) {
      buckets.push_back(json::array({i, counts_[i]}));
    }
  }
  json sum;
  if (sum_ >= std::numeric_limits<std::int64_t>::min() && sum_ <= std::numeric_limits<std::int64_t>::max()) {
    sum = static_cast<std::int64_t>(sum_);
  } else {
    // Beyond 64 bits a JSON number would be read back as a double and lose digits.
    sum = to_decimal(sum_);
  }
  return json{{"version", kJsonVersion},
              {"unit", "ns"},
              {"count", total_count_},
              {"min", min()},
              {"max", max()},
              {"sum", std::move(sum)},
              {"underflow", underflow_count_},
              {"overflow", overflow_count_},
              {"buckets", std::move(buckets)}};
}

Result<Histogram> Histogram::from_json(const json& json) {
  try {
    auto parts = parse(json);
    if (!parts) {
      return std::unexpected(parts.error());
    }
    Histogram histogram;
    histogram.underflow_count_ = parts->underflow;
    histogram.overflow_count_ = parts->overflow;
    histogram.total_count_ = parts->underflow + parts->overflow;
    for (const auto& [index, n] : parts->buckets) {
      histogram.counts_[index] = n;
      histogram.total_count_ += n;
    }
    if (histogram.total_count_ > 0) {
      histogram.min_ = parts->min;
      histogram.max_ = parts->max;
      histogram.sum_ = parts->sum;
    }
    return histogram;
  } catch (const std::exception& error) {
    return invalid(fmt::format("malformed: {}", error.what()));
  }
}

bool operator==(const Histogram& a, const Histogram& b) {
  return a.total_count_ == b.total_count_ && a.underflow_count_ == b.underflow_count_ &&
         a.overflow_count_ == b.overflow_count_ && a.min() == b.min() && a.max() == b.max() &&
         a.sum_ == b.sum_ && a.counts_ == b.counts_;
}

}  // namespace kp
