#include "drivers/storage/fio_live.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace kp::drivers::storage {

LiveDelta live_delta(const FioInterval& interval, std::string_view series) {
  LiveDelta delta;
  delta.phase = Phase::storage;
  delta.series = series;
  delta.finished_later = true;
  // Completions are the latency samples rather than fio's I/O count, so the live histogram's count and its
  // buckets agree (a Prometheus histogram whose _count differs from its +Inf bucket is malformed). With
  // json+ fio records a sample per completed I/O, so the two differ only in a ramp, which gives no interval.
  for (const auto& [ns, count] : interval.bins) {
    delta.ok += count;
    delta.buckets[LiveSeries::bucket_of(Duration(ns))] += count;
    delta.latency_sum_ns += ns * static_cast<std::int64_t>(count);
  }
  return delta;
}

FioLiveFeed::FioLiveFeed(const JobSet& set, std::string_view suffix, LiveSink* sink, std::string source)
    : sink_(sink), stream_(std::move(source)) {
  for (const FioJob& job : set.jobs) {
    jobs_.push_back(Job{.name = job.name, .series = job.name + std::string(suffix), .steps = {}});
  }
}

void FioLiveFeed::feed(std::string_view more) {
  if (sink_ == nullptr || stopped_) {
    return;
  }
  Result<std::vector<FioStatus>> documents = stream_.feed(more);
  if (!documents) {
    stopped_ = documents.error();
    return;
  }
  for (const FioStatus& document : *documents) {
    for (Job& job : jobs_) {
      auto found = std::ranges::find(document.jobs, job.name, &FioJobResult::name);
      if (found == document.jobs.end()) {
        continue;
      }
      if (std::optional<FioInterval> interval = job.steps.next(*found); interval) {
        const LiveDelta delta = live_delta(*interval, job.series);
        if (delta.ok > 0) {
          sink_->add(delta);
        }
      }
    }
  }
}

void FioLiveFeed::follow(const std::filesystem::path& output, TimePoint now, bool force) {
  if (sink_ == nullptr || stopped_ || (!force && last_read_ && now - *last_read_ < kFollowInterval)) {
    return;
  }
  last_read_ = now;
  if (!file_.valid()) {
    file_ = Fd(::open(output.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file_.valid()) {
      return;  // fio has not created it yet
    }
  }
  std::string more;
  std::array<char, 64 * 1024> buffer{};
  while (true) {
    const ssize_t got = ::read(file_.get(), buffer.data(), buffer.size());
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      stopped_ = Error{ErrorKind::io, fmt::format("reading {}: {}", output.string(), std::strerror(errno))};
      return;
    }
    if (got == 0) {
      break;
    }
    more.append(buffer.data(), static_cast<std::size_t>(got));
  }
  feed(more);
}

}  // namespace kp::drivers::storage
