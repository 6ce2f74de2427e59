#pragma once

// What report.json keeps of a soak (`soak`, docs/soak.md, docs/report-schema.md): how long it was planned
// and has run, its rounds, the etcd time the leader watch covered, the resumes, and latency hour by hour.
// Enough to continue a killed soak from its last checkpoint (`kubeproof soak --resume`).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/phase.hpp"
#include "core/watch_event.hpp"

namespace kp::report {

// One metric's latency over one hour of the soak: its histogram merged (never averaged) over every run of its
// phase that started in that hour.
struct SoakHour {
  int hour = 0;        // since the soak started: 0 is its first hour
  std::string metric;  // the measurement whose histogram it is, e.g. "etcd.write.p99"
  std::uint64_t count = 0;
  double p50 = 0;  // seconds
  double p99 = 0;
  double max = 0;
  std::string histogram;  // Histogram::to_json, compact: lossless, so a resumed soak merges on
  // The load profile's factors (config/load_profile.hpp) of the runs merged into this hour, ascending: one
  // unless a step fell within the hour; 1 without a profile.
  std::vector<double> load_factors;
};

// The load profile's factor from round `round` on (until the next change): `round` began `at` into the soak.
struct SoakFactor {
  int round = 0;
  Duration at{0};
  double factor = 1.0;
  friend bool operator==(const SoakFactor&, const SoakFactor&) = default;
};

// The soak ran `after` before it was resumed at `at` (whole seconds, as report.json keeps times).
struct SoakResume {
  WallTime at{};
  Duration after{0};
};

// How many rounds ran a phase, and the round whose result the report shows (the worst, the latest of equals).
struct SoakPhaseRounds {
  Phase phase = Phase::etcd;
  int runs = 0;
  int shown_round = 0;
};

// One of the soak's watches (docs/soak.md, "Watches"): "etcd" (the leader), "nodes", "coredns", "apiserver".
struct SoakWatchState {
  std::string source;
  Duration covered{0};    // from its first poll to its last, summed over the soak's sessions
  std::string unwatched;  // why it did not watch (no etcd phase, no permission, ...); "" when it did
};

// How many events a soak keeps: a node that flaps for a day must not grow the report without bound.
inline constexpr std::size_t kMaxSoakEvents = 1000;

struct SoakRecord {
  // Durations are whole milliseconds, so report.json's seconds read back exactly.
  Duration planned{0};
  Duration elapsed{
      0};  // on the soak's clock, summed over its sessions (a resume starts from the last checkpoint's)
  Duration checkpoint{0};    // the interval
  int rounds = 0;            // rounds begun
  Duration etcd_watched{0};  // time the etcd phase ran: the leader watch's, the checklist item's soak
  // The soak ran its course: false at every checkpoint (so a killed soak, whatever its verdict so far, can be
  // resumed) and after Ctrl-C; true only in the report written when its time was up.
  bool finished = false;
  std::string plan_file;
  std::string plan_digest;  // of the plan's text and the flags that change what runs: a resume must match
  std::vector<SoakResume> resumes;
  std::vector<SoakPhaseRounds> phases;
  std::vector<SoakHour> hours;  // by hour, then metric
  std::vector<SoakWatchState> watches;
  std::vector<WatchEvent> events;    // by time, at most kMaxSoakEvents
  std::uint64_t events_dropped = 0;  // seen beyond kMaxSoakEvents
  // The plan's load profile as text ("steps: 20% from 0s, 100% from 8h"); empty: the soak has none.
  std::string load_profile;
  // With a profile: each change of the factor, from the first round on (so every round's factor is known).
  std::vector<SoakFactor> factors;
};

// Whole milliseconds (the record's precision).
Duration to_record_precision(Duration duration);

}  // namespace kp::report
