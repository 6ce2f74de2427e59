#include "core/pacer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kp {
namespace {

// Offsets beyond this (about 292 years) cannot be represented; such a schedule is "never".
constexpr double kMaxOffsetNs = 9.2e18;

TimePoint offset_from(TimePoint start, double offset_ns) {
  if (!(offset_ns < kMaxOffsetNs)) {
    return TimePoint::max();
  }
  const auto offset = Duration(std::llround(offset_ns));
  if (start.time_since_epoch() > TimePoint::max().time_since_epoch() - offset) {
    return TimePoint::max();
  }
  return start + offset;
}

}  // namespace

void PacerStats::merge(const PacerStats& other) {
  sends += other.sends;
  late_sends += other.late_sends;
  max_lag = std::max(max_lag, other.max_lag);
  lag.merge(other.lag);
}

Pacer::Pacer(Rate rate, Arrival arrival, TimePoint start, std::uint64_t seed, Duration tolerance)
    : interval_ns_(rate.per_second > 0 && std::isfinite(rate.per_second)
                       ? 1e9 / rate.per_second
                       : std::numeric_limits<double>::infinity()),
      arrival_(arrival),
      start_(start),
      tolerance_(std::max(tolerance, Duration::zero())),
      random_(seed),
      gap_(1.0) {}

TimePoint Pacer::next() {
  const std::uint64_t k = issued_++;
  if (arrival_ == Arrival::constant) {
    // start + k * interval, never a running sum: adding a rounded interval a million times would drift.
    return offset_from(start_, static_cast<double>(k) * interval_ns_);
  }
  // Exponential gaps are a running sum by nature; kept in double nanoseconds so rounding never accumulates.
  poisson_offset_ns_ += gap_(random_) * interval_ns_;
  return offset_from(start_, poisson_offset_ns_);
}

void Pacer::record_send(TimePoint intended, TimePoint actual) {
  // Going out early is on time: the schedule is a floor, not a target to hit exactly.
  const Duration lag = std::max(actual - intended, Duration::zero());
  ++stats_.sends;
  if (lag > tolerance_) {
    ++stats_.late_sends;
  }
  stats_.max_lag = std::max(stats_.max_lag, lag);
  stats_.lag.record(lag);
}

void LatencyRecorder::record(TimePoint intended, TimePoint sent, TimePoint completed) {
  corrected.record(completed - intended);
  uncorrected.record(completed - sent);
}

void LatencyRecorder::merge(const LatencyRecorder& other) {
  corrected.merge(other.corrected);
  uncorrected.merge(other.uncorrected);
}

}  // namespace kp
