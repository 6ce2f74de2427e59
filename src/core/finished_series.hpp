#pragma once

// Per-second series of a load generator that reports once, at its end, rather than handing counts over while
// it runs: the network agents (each test's client prints one result line) and fio (its status dumps are read
// after it exits). The phase hands the series over when the result arrives; the report's timeline
// (report/timeline.hpp) places it so that its last second ends `ended_before` before the hand-over.
//
// Kept beside LiveSink rather than in it, as OfferedSink is: a driver holds a LiveSink* and hands over
// through hand_over_series(), which reaches the sinks that want it.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/live.hpp"
#include "core/phase.hpp"

namespace kp {

// One second of a finished series. Each part is unset when the generator does not measure it.
struct FinishedSecond {
  std::optional<double> completions;  // per second: transactions, I/Os (unset for a stream)
  std::uint64_t errors = 0;           // failed completions in that second
  std::optional<double> p50;          // seconds
  std::optional<double> p99;
  std::optional<double> bits_per_second;  // payload throughput
};

struct FinishedSeries {
  Phase phase = Phase::network;
  std::string series;  // "TCP_RR net.pod_to_pod.latency.p99", "randread-4k", ...
  // Consecutive seconds in order; the last one ended `ended_before` before the hand-over.
  std::vector<FinishedSecond> seconds;
  Duration ended_before{0};
  std::optional<double> offered;  // per second over those seconds (open loop); unset: closed loop
};

class FinishedSeriesSink {
 public:
  virtual ~FinishedSeriesSink() = default;
  // Thread-safe. Called once per finished series, right after its result arrived.
  virtual void finished(const FinishedSeries& series) = 0;
};

// Hands `series` to `sink` when it is a FinishedSeriesSink; a null sink or one that does not want it:
// nothing.
inline void hand_over_series(LiveSink* sink, const FinishedSeries& series) {
  if (auto* wants = dynamic_cast<FinishedSeriesSink*>(sink); wants != nullptr) {
    wants->finished(series);
  }
}

}  // namespace kp
