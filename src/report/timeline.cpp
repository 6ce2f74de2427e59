#include "report/timeline.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace kp::report {

std::optional<double> live_percentile(const std::array<std::uint64_t, kLiveBuckets>& buckets,
                                      double percentile) {
  std::uint64_t total = 0;
  for (std::uint64_t count : buckets) {
    total += count;
  }
  if (total == 0) {
    return std::nullopt;
  }
  const double rank = percentile / 100.0 * static_cast<double>(total);
  std::uint64_t below = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == 0 || static_cast<double>(below + buckets[i]) < rank) {
      below += buckets[i];
      continue;
    }
    const double lower = i == 0 ? 0.0 : kLiveBucketBounds[i - 1];
    if (i == kLiveBucketBounds.size()) {
      return lower;  // +Inf: nothing to interpolate towards
    }
    const double upper = kLiveBucketBounds[i];
    const double share = (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
    return lower + (upper - lower) * std::max(0.0, share);
  }
  return kLiveBucketBounds.back();
}

void Timeline::phase_started(Phase phase) {
  std::lock_guard lock(mutex_);
  started_[phase] = clock_.now();
}

void Timeline::add(const LiveDelta& delta) {
  if (delta.finished_later) {
    return;  // its exact series arrives through finished()
  }
  const TimePoint now = clock_.now();
  std::lock_guard lock(mutex_);
  auto start = started_.try_emplace(delta.phase, now).first->second;
  const std::int64_t second =
      std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(now - start).count());
  Second& slot = seconds_[{delta.phase, std::string(delta.series)}][second];
  slot.ok += delta.ok;
  slot.errors += delta.errors;
  for (std::size_t i = 0; i < kLiveBuckets; ++i) {
    slot.buckets[i] += delta.buckets[i];
  }
}

std::vector<SeriesTotal> Timeline::totals(Phase phase) const {
  std::lock_guard lock(mutex_);
  std::vector<SeriesTotal> out;
  for (const auto& [key, seconds] : seconds_) {
    if (key.first != phase) {
      continue;
    }
    SeriesTotal total;
    total.series = key.second;
    for (const auto& [second, counts] : seconds) {
      total.ok += counts.ok;
      total.errors += counts.errors;
      for (std::size_t i = 0; i < kLiveBuckets; ++i) {
        total.buckets[i] += counts.buckets[i];
      }
    }
    out.push_back(std::move(total));
  }
  return out;
}

std::map<Phase, std::vector<SeriesTimeline>> Timeline::series() const {
  std::lock_guard lock(mutex_);
  std::map<Phase, std::vector<SeriesTimeline>> out;
  for (const auto& [key, seconds] : seconds_) {
    SeriesTimeline timeline;
    timeline.series = key.second;
    const std::int64_t last = seconds.empty() ? -1 : seconds.rbegin()->first;
    for (std::int64_t s = 0; s <= last; ++s) {
      TimelinePoint point;
      point.second = s;
      if (auto found = seconds.find(s); found != seconds.end()) {
        point.achieved = static_cast<double>(found->second.ok);
        point.errors = found->second.errors;
        point.p50 = live_percentile(found->second.buckets, 50.0);
        point.p99 = live_percentile(found->second.buckets, 99.0);
      }
      timeline.points.push_back(point);
    }
    out[key.first].push_back(std::move(timeline));
  }
  for (const auto& [key, seconds] : finished_) {
    const bool counts =
        std::ranges::any_of(seconds, [](const auto& one) { return one.second.completions.has_value(); });
    if (!counts || seconds.empty()) {
      continue;
    }
    SeriesTimeline timeline;
    timeline.series = key.second;
    for (std::int64_t s = 0; s <= seconds.rbegin()->first; ++s) {
      TimelinePoint point;
      point.second = s;
      if (auto found = seconds.find(s); found != seconds.end()) {
        point.achieved = found->second.completions.value_or(0);
        point.errors = found->second.errors;
        point.p50 = found->second.p50;
        point.p99 = found->second.p99;
      }
      timeline.points.push_back(point);
    }
    out[key.first].push_back(std::move(timeline));
  }
  return out;
}

std::map<Phase, std::vector<ThroughputTimeline>> Timeline::throughput_series() const {
  std::lock_guard lock(mutex_);
  std::map<Phase, std::vector<ThroughputTimeline>> out;
  for (const auto& [key, seconds] : finished_) {
    const bool carries =
        std::ranges::any_of(seconds, [](const auto& one) { return one.second.bits_per_second.has_value(); });
    if (!carries || seconds.empty()) {
      continue;
    }
    ThroughputTimeline timeline;
    timeline.series = key.second;
    for (std::int64_t s = 0; s <= seconds.rbegin()->first; ++s) {
      ThroughputPoint point;
      point.second = s;
      if (auto found = seconds.find(s); found != seconds.end()) {
        point.bits_per_second = found->second.bits_per_second.value_or(0);
      }
      timeline.points.push_back(point);
    }
    out[key.first].push_back(std::move(timeline));
  }
  return out;
}

void Timeline::finished(const FinishedSeries& series) {
  if (series.seconds.empty()) {
    return;
  }
  const TimePoint now = clock_.now();
  std::lock_guard lock(mutex_);
  const TimePoint start = started_.try_emplace(series.phase, now).first->second;
  const auto count = static_cast<std::int64_t>(series.seconds.size());
  const double end = std::chrono::duration<double>(now - series.ended_before - start).count();
  // A series longer than the phase so far (it cannot be, but clocks are clocks) starts at the phase's start.
  const std::int64_t first = std::max<std::int64_t>(0, std::llround(end) - count);
  std::map<std::int64_t, FinishedSecond>& slots = finished_[{series.phase, series.series}];
  for (std::int64_t i = 0; i < count; ++i) {
    const FinishedSecond& one = series.seconds[static_cast<std::size_t>(i)];
    auto [slot, fresh] = slots.try_emplace(first + i, one);
    if (fresh) {
      continue;
    }
    FinishedSecond& merged = slot->second;
    auto add = [](std::optional<double>& into, std::optional<double> more) {
      if (more) {
        into = into.value_or(0) + *more;
      }
    };
    add(merged.completions, one.completions);
    add(merged.bits_per_second, one.bits_per_second);
    merged.errors += one.errors;
    merged.p50.reset();
    merged.p99.reset();
  }
  if (series.offered) {
    // From its first second to the end of its last; nothing is offered after it unless announced again.
    std::vector<std::pair<double, std::optional<double>>>& changes = announced_[series.phase];
    auto insert = [&changes](double at, std::optional<double> rate) {
      auto where = std::ranges::upper_bound(changes, at, {}, [](const auto& change) { return change.first; });
      changes.insert(where, {at, rate});
    };
    insert(static_cast<double>(first), series.offered);
    insert(static_cast<double>(first + count), std::nullopt);
  }
}

void Timeline::offered(Phase phase, std::optional<double> per_second) {
  const TimePoint now = clock_.now();
  std::lock_guard lock(mutex_);
  const TimePoint start = started_.try_emplace(phase, now).first->second;
  announced_[phase].emplace_back(std::max(0.0, std::chrono::duration<double>(now - start).count()),
                                 per_second);
}

std::map<Phase, std::vector<OfferedPoint>> Timeline::offered_series() const {
  std::lock_guard lock(mutex_);
  std::map<Phase, std::vector<OfferedPoint>> out;
  for (const auto& [phase, changes] : announced_) {
    if (changes.empty()) {
      continue;
    }
    // As far as the phase's series go (the last announcement's second at least).
    std::int64_t last = static_cast<std::int64_t>(changes.back().first);
    for (const auto& [key, seconds] : seconds_) {
      if (key.first == phase && !seconds.empty()) {
        last = std::max(last, seconds.rbegin()->first);
      }
    }
    for (const auto& [key, seconds] : finished_) {
      if (key.first == phase && !seconds.empty()) {
        last = std::max(last, seconds.rbegin()->first);
      }
    }
    std::vector<OfferedPoint>& points = out[phase];
    for (std::int64_t s = 0; s <= last; ++s) {
      const double from = static_cast<double>(s);
      const double to = from + 1.0;
      double weighted = 0;
      double covered = 0;
      for (std::size_t i = 0; i < changes.size(); ++i) {
        const double begin = std::max(from, changes[i].first);
        const double end = std::min(to, i + 1 < changes.size() ? changes[i + 1].first : to);
        if (end > begin && changes[i].second) {
          weighted += *changes[i].second * (end - begin);
          covered += end - begin;
        }
      }
      OfferedPoint point;
      point.second = s;
      if (covered > 0) {
        point.offered = weighted / covered;
      }
      points.push_back(point);
    }
  }
  return out;
}

}  // namespace kp::report
