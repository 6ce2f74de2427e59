#include "core/live.hpp"

#include <algorithm>
#include <utility>

namespace kp {
namespace {

constexpr std::array<std::int64_t, kLiveBucketBounds.size()> bounds_in_ns() {
  std::array<std::int64_t, kLiveBucketBounds.size()> ns{};
  for (std::size_t i = 0; i < ns.size(); ++i) {
    ns[i] = static_cast<std::int64_t>(kLiveBucketBounds[i] * 1e9 + 0.5);
  }
  return ns;
}

constexpr auto kBoundsNs = bounds_in_ns();

}  // namespace

LiveSeries::LiveSeries(LiveSink* sink, Phase phase, std::string series)
    : sink_(sink), series_(std::move(series)) {
  delta_.phase = phase;
}

LiveSeries::~LiveSeries() {
  flush();
}

LiveSeries::LiveSeries(LiveSeries&& other) noexcept {
  move_from(other);
}

LiveSeries& LiveSeries::operator=(LiveSeries&& other) noexcept {
  if (this != &other) {
    flush();
    move_from(other);
  }
  return *this;
}

void LiveSeries::move_from(LiveSeries& other) noexcept {
  sink_ = std::exchange(other.sink_, nullptr);
  series_ = std::move(other.series_);
  delta_ = other.delta_;
  next_flush_ = other.next_flush_;
  other.delta_ = LiveDelta{};
}

void LiveSeries::flush() {
  if (sink_ == nullptr || (delta_.ok == 0 && delta_.errors == 0)) {
    return;
  }
  delta_.series = series_;
  sink_->add(delta_);
  const Phase phase = delta_.phase;
  delta_ = LiveDelta{};
  delta_.phase = phase;
}

std::size_t LiveSeries::bucket_of(Duration latency) {
  // Prometheus' `le`: a value equal to a bound belongs to that bound's bucket.
  return static_cast<std::size_t>(std::lower_bound(kBoundsNs.begin(), kBoundsNs.end(), latency.count()) -
                                  kBoundsNs.begin());
}

}  // namespace kp
