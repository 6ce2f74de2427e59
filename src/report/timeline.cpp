#include "report/timeline.hpp"

#include <chrono>

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
  return out;
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
