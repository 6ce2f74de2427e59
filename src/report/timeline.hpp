#pragma once

// The per-second time series of a run for report.json and report.html: per phase and per load series (what
// one completion is: "put", "query", "request", ...), the achieved rate, errors, and P50/P99 of every second.
//
// Source: the same hand-overs live metrics get (core/live.hpp). Every load-generating worker thread hands its
// counts to a LiveSink at most once per second of its clock, so the run pays nothing per request for this.
// Two consequences a reader of the series must know, stated in docs/report-schema.md:
// - a hand-over lands in the second it arrives in (the counts of about the second before it), so a single
//   second can be off by one; sums over the run are exact;
// - P50/P99 per second are interpolated within the live histogram's fixed buckets (100 µs .. 60 s, as
//   Prometheus' histogram_quantile does): fine for a chart, never used for a verdict (the phase's exact
//   histograms are, and report.json carries them).
// The offered rate of a steady schedule is the phase's (Measurement::offered); a stress ramp's per step is in
// its steps.
// Generators that report only at their end (the network agents, fio) hand over finished series instead
// (core/finished_series.hpp): exact per-second figures of their own, placed back from the hand-over; those
// carry payload throughput too (throughput_series()).
//
// Thread-safe: workers add() from their threads, the orchestrator's thread calls phase_started().

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "core/finished_series.hpp"
#include "core/live.hpp"
#include "core/live_notice.hpp"
#include "core/offered_sink.hpp"
#include "core/phase.hpp"
#include "engine/driver.hpp"

namespace kp::report {

struct TimelinePoint {
  std::int64_t second = 0;    // since the phase started
  double achieved = 0;        // completions per second (successful ones)
  std::uint64_t errors = 0;   // failed completions in that second
  std::optional<double> p50;  // seconds; absent when the second had no successful completion
  std::optional<double> p99;
};

// The rate a phase's schedule offered in one second (OfferedSink::offered): the time-weighted mean of the
// rates announced over that second; unset when no part of it had an open-loop rate (before the first
// announcement, closed loop). A stress ramp's steps show as steps; a steady run as one flat line.
struct OfferedPoint {
  std::int64_t second = 0;  // since the phase started
  std::optional<double> offered;
};

struct SeriesTimeline {
  std::string series;
  std::vector<TimelinePoint> points;  // every second from 0 to the last with data (empty seconds are zeros)
};

// Payload throughput of a stream (network) or of an fio job, bits per second, per second of the phase.
struct ThroughputPoint {
  std::int64_t second = 0;  // since the phase started
  double bits_per_second = 0;
};

struct ThroughputTimeline {
  std::string series;
  std::vector<ThroughputPoint> points;  // every second from 0 to the last with data (empty seconds are zeros)
};

// P-th percentile (0..100) of live bucket counts, seconds, interpolated linearly within the bucket holding
// the rank (the first bucket from 0; the +Inf bucket answers its lower bound). nullopt for no counts.
std::optional<double> live_percentile(const std::array<std::uint64_t, kLiveBuckets>& buckets,
                                      double percentile);

// One live series summed over its seconds so far: what a checkpoint says of a phase still running.
struct SeriesTotal {
  std::string series;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kLiveBuckets> buckets{};
};

class Timeline final : public LiveSink, public OfferedSink, public FinishedSeriesSink {
 public:
  explicit Timeline(const Clock& clock) : clock_(clock) {}

  // Seconds of `phase` count from now. Hand-overs for a phase that has not started count from the first one.
  void phase_started(Phase phase);
  // Skips a delta marked finished_later: that generator's exact series comes through finished().
  void add(const LiveDelta& delta) override;
  void offered(Phase phase, std::optional<double> per_second) override;
  // A series reported at its generator's end (core/finished_series.hpp): its last second is placed
  // `ended_before` before now, rounded to the phase's whole seconds (so a second can be off by one). Its
  // offered rate, if any, applies over its seconds. A second that two finished series of the same name share
  // sums their counts; its percentiles, which cannot be merged from two summaries, are then unset.
  void finished(const FinishedSeries& series) override;

  // Per phase, its series by name: the live hand-overs', then the finished series that count completions.
  std::map<Phase, std::vector<SeriesTimeline>> series() const;
  // The live hand-overs of `phase` so far, per series, summed (finished series are not included: they arrive
  // only at their generator's end).
  std::vector<SeriesTotal> totals(Phase phase) const;
  // Per phase, the finished series that measured payload throughput.
  std::map<Phase, std::vector<ThroughputTimeline>> throughput_series() const;
  // Per phase that announced a rate, every second from 0 to the last second with data or an announcement.
  std::map<Phase, std::vector<OfferedPoint>> offered_series() const;

 private:
  struct Second {
    std::uint64_t ok = 0;
    std::uint64_t errors = 0;
    std::array<std::uint64_t, kLiveBuckets> buckets{};
  };
  const Clock& clock_;
  mutable std::mutex mutex_;
  std::map<Phase, TimePoint> started_;
  std::map<std::pair<Phase, std::string>, std::map<std::int64_t, Second>> seconds_;
  std::map<std::pair<Phase, std::string>, std::map<std::int64_t, FinishedSecond>> finished_;
  // Per phase, each announcement: when (seconds since the phase started) and the rate (unset: closed loop).
  std::map<Phase, std::vector<std::pair<double, std::optional<double>>>> announced_;
};

// Forwards everything to `inner` (people's progress, and live metrics when they are on) and also records the
// load generators' hand-overs into `timeline`. Both must outlive this object.
class TimelineProgress final : public engine::ProgressSink,
                               public LiveSink,
                               public OfferedSink,
                               public FinishedSeriesSink,
                               public LiveNoticeSink {
 public:
  TimelineProgress(engine::ProgressSink& inner, Timeline& timeline) : inner_(inner), timeline_(timeline) {}
  void message(Phase phase, std::string_view text) override { inner_.message(phase, text); }
  void phase_started(Phase phase, WallTime at) override {
    timeline_.phase_started(phase);
    inner_.phase_started(phase, at);
  }
  void phase_finished(Phase phase, const std::vector<Measurement>& measurements, eval::Verdict verdict,
                      WallTime at) override {
    inner_.phase_finished(phase, measurements, verdict, at);
  }
  void add(const LiveDelta& delta) override {
    timeline_.add(delta);
    if (LiveSink* live = inner_.live_sink(); live != nullptr) {
      live->add(delta);
    }
  }
  void offered(Phase phase, std::optional<double> per_second) override {
    timeline_.offered(phase, per_second);
    announce_offered(inner_.live_sink(), phase, per_second);
  }
  void finished(const FinishedSeries& series) override { timeline_.finished(series); }
  void no_live_counts(Phase phase, std::string_view why) override {
    announce_no_live_counts(inner_.live_sink(), phase, why);
  }
  LiveSink* live_sink() override { return this; }

 private:
  engine::ProgressSink& inner_;
  Timeline& timeline_;
};

}  // namespace kp::report
