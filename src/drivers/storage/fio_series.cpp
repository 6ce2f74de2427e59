#include "drivers/storage/fio_series.hpp"

#include <algorithm>
#include <map>

namespace kp::drivers::storage {
namespace {

// Shorter than this, an interval is added to the one before it rather than stand as a second of its own: fio
// writes its final document moments after its last dump, and a rate over a few milliseconds says nothing.
constexpr std::uint64_t kShortestIntervalMs = 250;

// The longest time ended_before takes from fio's timestamps: a day.
constexpr std::uint64_t kLongestEndGapMs = 24ULL * 3600 * 1000;

// fio's rule for a percentile of its bins: the value of the bin holding the rank.
std::optional<double> percentile_seconds(const std::map<std::int64_t, std::uint64_t>& bins,
                                         std::uint64_t total, double percent) {
  if (total == 0) {
    return std::nullopt;
  }
  const double rank = percent / 100.0 * static_cast<double>(total);
  std::uint64_t below = 0;
  for (const auto& [ns, count] : bins) {
    below += count;
    if (static_cast<double>(below) >= rank) {
      return static_cast<double>(ns) / 1e9;
    }
  }
  return static_cast<double>(bins.rbegin()->first) / 1e9;
}

}  // namespace

std::optional<FioInterval> FioJobSteps::next(const FioJobResult& job) {
  Cumulative now;
  now.ios = job.read.total_ios + job.write.total_ios;
  now.bytes = job.read.io_bytes + job.write.io_bytes;
  now.runtime_ms = std::max(job.read.runtime_ms, job.write.runtime_ms);
  if (job.read.clat.samples + job.write.clat.samples == 0) {
    // Not started, or in its ramp (fio counts its I/Os but records no latency until the ramp ends, and then
    // starts counting again from 0): no interval yet.
    previous_ = Cumulative{};
    return std::nullopt;
  }
  for (const DirectionStats* direction : {&job.read, &job.write}) {
    for (const auto& [ns, count] : direction->clat.bins) {
      now.bins[ns] += count;
    }
  }
  if (now.runtime_ms < previous_.runtime_ms || now.ios < previous_.ios) {
    previous_ = Cumulative{};  // counting started again
  }
  if (now.runtime_ms == previous_.runtime_ms) {
    return std::nullopt;  // it did not run since the last document (it finished)
  }
  FioInterval interval;
  interval.ios = now.ios - previous_.ios;
  interval.bytes = now.bytes - std::min(now.bytes, previous_.bytes);
  interval.runtime_ms = now.runtime_ms - previous_.runtime_ms;
  for (const auto& [ns, count] : now.bins) {
    auto before = previous_.bins.find(ns);
    const std::uint64_t earlier = before == previous_.bins.end() ? 0 : before->second;
    if (count > earlier) {
      interval.bins[ns] = count - earlier;
    }
  }
  previous_ = std::move(now);
  return interval;
}

std::vector<FinishedSeries> fio_series(const FioOutput& output, const JobSet& set, std::string_view suffix) {
  // Every document in order, the final one last.
  std::vector<std::pair<std::int64_t, const std::vector<FioJobResult>*>> documents;
  for (const FioStatus& status : output.status) {
    documents.emplace_back(status.timestamp_ms, &status.jobs);
  }
  documents.emplace_back(output.timestamp_ms, &output.jobs);

  std::vector<FinishedSeries> out;
  for (const FioJob& job : set.jobs) {
    FinishedSeries series;
    series.phase = Phase::storage;
    series.series = job.name + std::string(suffix);
    series.offered = job.offered_iops();
    FioJobSteps steps;
    std::vector<FioInterval> intervals;
    std::int64_t last_at = 0;
    for (const auto& [timestamp, jobs] : documents) {
      auto found = std::ranges::find(*jobs, job.name, &FioJobResult::name);
      if (found == jobs->end()) {
        continue;
      }
      std::optional<FioInterval> interval = steps.next(*found);
      if (!interval) {
        continue;
      }
      if (interval->runtime_ms < kShortestIntervalMs && !intervals.empty()) {
        FioInterval& into = intervals.back();
        into.ios += interval->ios;
        into.bytes += interval->bytes;
        into.runtime_ms += interval->runtime_ms;
        for (const auto& [ns, count] : interval->bins) {
          into.bins[ns] += count;
        }
      } else {
        intervals.push_back(std::move(*interval));
      }
      last_at = timestamp;
    }
    for (const FioInterval& interval : intervals) {
      const double seconds = static_cast<double>(interval.runtime_ms) / 1e3;
      FinishedSecond second;
      second.completions = static_cast<double>(interval.ios) / seconds;
      second.bits_per_second = static_cast<double>(interval.bytes) * 8 / seconds;
      std::uint64_t total = 0;
      for (const auto& [ns, count] : interval.bins) {
        total += count;
      }
      second.p50 = percentile_seconds(interval.bins, total, 50);
      second.p99 = percentile_seconds(interval.bins, total, 99);
      series.seconds.push_back(second);
    }
    if (series.seconds.empty()) {
      continue;
    }
    // fio's timestamps are read from its output: their difference can exceed an int64, and its nanoseconds
    // overflow far sooner. Unsigned, it is exact when positive; capped at a day, far longer than fio ever
    // takes between its last dump and its end, so a garbled timestamp misplaces the series but stays defined.
    const std::uint64_t gap_ms =
        output.timestamp_ms > last_at
            ? static_cast<std::uint64_t>(output.timestamp_ms) - static_cast<std::uint64_t>(last_at)
            : 0;
    series.ended_before = std::chrono::milliseconds(std::min<std::uint64_t>(gap_ms, kLongestEndGapMs));
    out.push_back(std::move(series));
  }
  return out;
}

}  // namespace kp::drivers::storage
