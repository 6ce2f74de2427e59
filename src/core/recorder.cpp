#include "core/recorder.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace kp {
namespace {

// Per-second data uses buckets 8 times wider than the histogram's (8 adjacent buckets merged) above 1023 ns,
// so at most 0.8 % relative width, and the histogram's own 1 ns buckets below (where 8 ns would be a large
// error): fine for a progress line or a chart. A second's open counters are 5120 (40 KiB instead of 264 KiB);
// a finished second keeps only its non-empty coarse buckets: a latency spread over two decades occupies a few
// hundred of them, a few KiB per second at worst and usually far less.
constexpr int kCoarseShift = 3;
constexpr std::size_t kFine = static_cast<std::size_t>(Histogram::kSubBucketHalfCount);
constexpr std::size_t kCoarseLength = kFine + ((Histogram::kCountsLength - kFine) >> kCoarseShift);

std::size_t coarse_index(std::int64_t value) {
  const std::size_t index = Histogram::index_of(value);
  return index < kFine ? index : kFine + ((index - kFine) >> kCoarseShift);
}

std::int64_t coarse_highest(std::size_t coarse) {
  if (coarse < kFine) {
    return Histogram::highest_equivalent(coarse);
  }
  return Histogram::highest_equivalent(kFine + ((coarse - kFine + 1) << kCoarseShift) - 1);
}

bool in_range(std::int64_t value) {
  return value >= Histogram::kLowest && value <= Histogram::kHighest;
}

std::int64_t floor_seconds(Duration since) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  std::int64_t seconds = since.count() / kSecond;
  if (since.count() % kSecond < 0) {
    --seconds;
  }
  return seconds;
}

// A finished second: exact counts at the coarse resolution, sparse.
struct SecondData {
  std::uint64_t count = 0;
  std::uint64_t underflow = 0;
  std::uint64_t overflow = 0;
  std::int64_t max = std::numeric_limits<std::int64_t>::min();
  std::vector<std::pair<std::uint32_t, std::uint64_t>> buckets;  // (coarse index, count), ascending index

  // A value arriving after its second was finished (completions can be reported out of order).
  void add(std::int64_t value) {
    ++count;
    max = std::max(max, value);
    if (!in_range(value)) {
      ++(value < Histogram::kLowest ? underflow : overflow);
      return;
    }
    const auto index = static_cast<std::uint32_t>(coarse_index(value));
    const auto it =
        std::lower_bound(buckets.begin(), buckets.end(), index,
                         [](const auto& bucket, std::uint32_t key) { return bucket.first < key; });
    if (it != buckets.end() && it->first == index) {
      ++it->second;
    } else {
      buckets.insert(it, {index, 1});
    }
  }

  void merge(const SecondData& other) {
    count += other.count;
    underflow += other.underflow;
    overflow += other.overflow;
    max = std::max(max, other.max);
    std::vector<std::pair<std::uint32_t, std::uint64_t>> merged;
    merged.reserve(buckets.size() + other.buckets.size());
    auto a = buckets.begin();
    auto b = other.buckets.begin();
    while (a != buckets.end() || b != other.buckets.end()) {
      if (b == other.buckets.end() || (a != buckets.end() && a->first < b->first)) {
        merged.push_back(*a++);
      } else if (a == buckets.end() || b->first < a->first) {
        merged.push_back(*b++);
      } else {
        merged.emplace_back(a->first, a->second + b->second);
        ++a;
        ++b;
      }
    }
    buckets = std::move(merged);
  }

  // Same rule as Histogram::value_at_percentile, at the coarse resolution.
  std::int64_t value_at_percentile(double percentile) const {
    if (count == 0) {
      return 0;
    }
    const std::uint64_t rank = percentile_rank(percentile, count);
    std::uint64_t seen = underflow;
    if (rank <= seen) {
      return std::min<std::int64_t>(0, max);
    }
    for (const auto& [index, n] : buckets) {
      seen += n;
      if (seen >= rank) {
        return std::min(coarse_highest(index), max);
      }
    }
    return max;
  }

  SecondSnapshot snapshot(std::int64_t second) const {
    return SecondSnapshot{second, count, static_cast<double>(count), value_at_percentile(50),
                          value_at_percentile(99)};
  }
};

// The second being filled: dense, so record() stays a few shifts and an increment.
struct OpenSecond {
  std::int64_t second = 0;
  SecondData totals;  // count, underflow, overflow, max; its buckets stay empty
  std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(kCoarseLength, 0);

  void add(std::int64_t value) {
    ++totals.count;
    totals.max = std::max(totals.max, value);
    if (in_range(value)) [[likely]] {
      ++counts[coarse_index(value)];
    } else {
      ++(value < Histogram::kLowest ? totals.underflow : totals.overflow);
    }
  }

  void merge(const SecondData& other) {
    totals.count += other.count;
    totals.underflow += other.underflow;
    totals.overflow += other.overflow;
    totals.max = std::max(totals.max, other.max);
    for (const auto& [index, n] : other.buckets) {
      counts[index] += n;
    }
  }

  SecondData compact() const {
    SecondData data = totals;
    for (std::size_t i = 0; i < kCoarseLength; ++i) {
      if (counts[i] != 0) {
        data.buckets.emplace_back(static_cast<std::uint32_t>(i), counts[i]);
      }
    }
    return data;
  }

  void clear() {
    totals = SecondData{};
    std::fill(counts.begin(), counts.end(), 0);
  }
};

}  // namespace

struct Recorder::Series {
  Histogram whole;
  OpenSecond open;
  std::map<std::int64_t, SecondData> closed;

  void add(std::int64_t second, std::int64_t value) {
    if (open.totals.count == 0) {
      open.second = second;
    } else if (second > open.second) {
      close_open();
      open.second = second;
    } else if (second < open.second) {
      closed[second].add(value);
      return;
    }
    open.add(value);
  }

  void close_open() {
    if (open.totals.count == 0) {
      return;
    }
    SecondData finished = open.compact();
    open.clear();  // first, so add_closed does not merge the second back into the open one
    add_closed(open.second, std::move(finished));
  }

  void add_closed(std::int64_t second, SecondData data) {
    if (open.totals.count > 0 && second == open.second) {
      open.merge(data);
      return;
    }
    auto [it, inserted] = closed.try_emplace(second);
    if (inserted) {
      it->second = std::move(data);
    } else {
      it->second.merge(data);
    }
  }
};

Recorder::Recorder(TimePoint start) : start_(start) {}
Recorder::~Recorder() = default;
Recorder::Recorder(const Recorder& other) = default;
Recorder::Recorder(Recorder&& other) noexcept = default;
Recorder& Recorder::operator=(const Recorder& other) = default;
Recorder& Recorder::operator=(Recorder&& other) noexcept = default;

void Recorder::record(std::string_view metric, TimePoint at, std::int64_t value) {
  auto it = series_.find(metric);
  if (it == series_.end()) {
    it = series_.try_emplace(std::string(metric)).first;
  }
  it->second.whole.record(value);
  it->second.add(floor_seconds(at - start_), value);
}

void Recorder::merge(const Recorder& other) {
  const std::int64_t shift = floor_seconds(other.start_ - start_);
  for (const auto& [name, theirs] : other.series_) {
    Series& ours = series_[name];
    ours.whole.merge(theirs.whole);
    for (const auto& [second, data] : theirs.closed) {
      ours.add_closed(second + shift, data);
    }
    if (theirs.open.totals.count > 0) {
      ours.add_closed(theirs.open.second + shift, theirs.open.compact());
    }
  }
}

std::vector<std::string> Recorder::metrics() const {
  std::vector<std::string> names;
  names.reserve(series_.size());
  for (const auto& [name, series] : series_) {
    names.push_back(name);
  }
  return names;
}

const Histogram& Recorder::histogram(std::string_view metric) const {
  static const Histogram kEmpty;
  const auto it = series_.find(metric);
  return it == series_.end() ? kEmpty : it->second.whole;
}

std::vector<SecondSnapshot> Recorder::series(std::string_view metric) const {
  const auto it = series_.find(metric);
  if (it == series_.end()) {
    return {};
  }
  const Series& data = it->second;
  const bool has_open = data.open.totals.count > 0;
  if (!has_open && data.closed.empty()) {
    return {};
  }
  std::int64_t first = std::numeric_limits<std::int64_t>::max();
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  if (!data.closed.empty()) {
    first = data.closed.begin()->first;
    last = data.closed.rbegin()->first;
  }
  if (has_open) {
    first = std::min(first, data.open.second);
    last = std::max(last, data.open.second);
  }
  std::vector<SecondSnapshot> snapshots;
  snapshots.reserve(static_cast<std::size_t>(last - first + 1));
  auto closed = data.closed.begin();
  for (std::int64_t second = first; second <= last; ++second) {
    const bool closed_here = closed != data.closed.end() && closed->first == second;
    if (has_open && data.open.second == second) {
      SecondData combined = data.open.compact();
      if (closed_here) {
        combined.merge(closed->second);
      }
      snapshots.push_back(combined.snapshot(second));
    } else if (closed_here) {
      snapshots.push_back(closed->second.snapshot(second));
    } else {
      snapshots.push_back(SecondSnapshot{.second = second});
    }
    if (closed_here) {
      ++closed;
    }
  }
  return snapshots;
}

}  // namespace kp
