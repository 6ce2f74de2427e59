#pragma once

// Live metrics while a run goes on: each load-generating worker thread owns a LiveSeries and counts its
// completions there; at most once per second of its own clock it hands the counts since its last hand-over
// to a LiveSink (the exporter behind `run --metrics-listen`). Nothing is shared on the per-request path:
// the sink's lock is taken once per second per thread.
//
// The live histogram has Prometheus' classic fixed buckets (100 µs .. 60 s), so a dashboard sums them over
// threads and computes rates and quantiles with PromQL (`histogram_quantile`). Those quantiles are
// interpolated and only as fine as the buckets: live views are for watching a run; the verdict uses each
// driver's exact histograms. Latencies are the truthful ones (open loop: from the intended send time).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/phase.hpp"

namespace kp {

// Upper bounds of the live latency buckets, seconds; the last bucket (+Inf) follows.
inline constexpr std::array<double, 18> kLiveBucketBounds = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
inline constexpr std::size_t kLiveBuckets = kLiveBucketBounds.size() + 1;

// Counts of one series since the previous hand-over. Buckets are per bucket (not cumulative).
struct LiveDelta {
  Phase phase = Phase::etcd;
  std::string_view series;  // "put", "query", "request", ...: what one completion is
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;  // completions that failed (timeouts, error responses); not in the histogram
  std::array<std::uint64_t, kLiveBuckets> buckets{};
  std::int64_t latency_sum_ns = 0;
  // Payload bytes moved (the network phase's stream tests): a throughput, where a completion has no meaning.
  std::uint64_t bytes = 0;
  // The generator also hands over its exact per-second series when it ends (core/finished_series.hpp: fio,
  // the network client): these counts are for watching only, and the report's timeline keeps the exact
  // series instead, so the run's seconds are not counted twice.
  bool finished_later = false;
};

// Receives the hand-overs. Thread-safe; must outlive every LiveSeries that points at it.
class LiveSink {
 public:
  virtual ~LiveSink() = default;
  virtual void add(const LiveDelta& delta) = 0;
};

// One worker thread's counts of one series. Not thread-safe: owned and used by one thread. A null sink
// makes every call a no-op, so drivers need no branch when live metrics are off. The destructor hands over
// what is left, so a run's last partial second is not lost.
class LiveSeries {
 public:
  LiveSeries() = default;
  LiveSeries(LiveSink* sink, Phase phase, std::string series);
  ~LiveSeries();
  LiveSeries(const LiveSeries&) = delete;
  LiveSeries& operator=(const LiveSeries&) = delete;
  LiveSeries(LiveSeries&& other) noexcept;
  LiveSeries& operator=(LiveSeries&& other) noexcept;

  // A completion at `at` (the worker's clock) that took `latency`.
  void record(TimePoint at, Duration latency) {
    if (sink_ == nullptr) {
      return;
    }
    ++delta_.ok;
    ++delta_.buckets[bucket_of(latency)];
    delta_.latency_sum_ns += latency.count();
    maybe_flush(at);
  }
  // A completion at `at` that failed.
  void record_error(TimePoint at) {
    if (sink_ == nullptr) {
      return;
    }
    ++delta_.errors;
    maybe_flush(at);
  }
  // Hands over what was counted since the last hand-over (nothing when nothing was).
  void flush();

  static std::size_t bucket_of(Duration latency);

 private:
  void maybe_flush(TimePoint at) {
    if (at >= next_flush_) {
      flush();
      next_flush_ = at + std::chrono::seconds(1);
    }
  }
  void move_from(LiveSeries& other) noexcept;

  LiveSink* sink_ = nullptr;
  std::string series_;
  LiveDelta delta_;
  TimePoint next_flush_{};  // the first completion hands over at once, so a dashboard sees the series appear
};

}  // namespace kp
