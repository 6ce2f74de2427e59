#pragma once

// The one validity rule. A phase is INVALID only when the generator's own shortfall could change a verdict:
//   - its own achieved share of the offered rate is below 99 % on a row judged from that rate (a capacity row
//     such as dns.qps); or
//   - its own send lateness at P99 is above 10 % of the tightest latency target the phase is judged against.
// So 6 ms late against a 100 ms target is a note; 6 ms late against a 1 ms network target is INVALID.
//
// The generator's shortfall is told apart from the server's. A send that waited because every connection or
// in-flight slot was held by a slow server is the server's latency: the corrected latency already counts it
// from the intended send time (as wrk2 does), and a rate the server could not take is the server's FAIL.
// Neither is a reason for INVALID; the statement calls them "queued for a connection". Only the generator's
// own event loop or CPU falling behind counts: engines record lateness only for sends that did not wait for
// the server.
//
// A generator that its container's CPU quota throttled (cgroup cpu.stat, core/cpu_budget.hpp) in more than 5
// % of the run's enforcement periods was stopped for the rest of each such period: it could not hold its
// schedule, and its latencies include those stops, for its own reasons. That is INVALID too, and the
// statement names the throttling. (Optional: an account without it is judged as before.)
//
// Every phase states, in every report, what its generator did (Validity::statement): offered, sent, the
// share, lateness P50/P99/max, and how many sends queued for the server.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cpu_budget.hpp"
#include "core/histogram.hpp"
#include "core/units.hpp"

namespace kp::load {

inline constexpr double kMinOwnShare = 0.99;          // of the offered rate
inline constexpr double kMaxLatenessOfTarget = 0.10;  // of the tightest latency target
inline constexpr double kMaxThrottledShare = 0.05;    // of the run's CPU quota enforcement periods

// What a worker counts of its open-loop sends, merged after the run: the parts of GeneratorAccount an engine
// measures (the rest, offered, window and what is judged, the phase knows).
struct SendAccount {
  std::uint64_t due = 0;   // intended sends up to the end of the window
  std::uint64_t sent = 0;  // a subset of due
  // Due sends that waited because every connection or slot was busy with the server (sent or not): the
  // server's.
  std::uint64_t queued_for_server = 0;
  // Due, never sent because every slot stayed busy to the end (a subset of queued_for_server).
  std::uint64_t unsent_for_server = 0;
  Histogram own_lateness;  // actual - intended (ns) of the sends that did not wait for the server

  void merge(const SendAccount& other);
  friend bool operator==(const SendAccount&, const SendAccount&) = default;
};

// What one load generator (one series of a phase) did against what it was asked.
struct GeneratorAccount {
  std::string what = "requests";  // "queries", "writes", "connections": for the statement
  bool open_loop = true;          // closed loop (max) has no schedule: nothing is due, nothing is late
  double offered = 0;             // per second the schedule asked for
  Duration window{0};             // from the start to the end of sending
  std::uint64_t due = 0;          // intended sends up to the end of the window
  std::uint64_t sent = 0;         // sent, a subset of due (open loop)
  // Due sends that waited for a connection or slot a slow server held (a subset of due; sent or not): the
  // server's latency, never the generator's shortfall.
  std::uint64_t queued_for_server = 0;
  // Due, never sent because every slot stayed busy to the end of the window (a subset of queued_for_server).
  std::uint64_t unsent_for_server = 0;
  // Own send lateness (actual - intended, ns) of the sends that did not wait for the server.
  Histogram own_lateness;
  // A criteria row is judged from this rate (dns.qps, ingress.rps, api.qps, ingress.connection_rate).
  bool rate_judged = false;
  // The generator's cgroup throttling during the run, when it has a CPU quota (agents in pods).
  std::optional<CpuThrottling> throttling;

  // Sends the generator owed and did not make for its own reasons, as a share of due: 1 when nothing was due.
  double own_share() const;
  // Takes due, sent, queued, unsent and own lateness from what the workers counted.
  void take(const SendAccount& sends);
};

// A lateness reason, kept with its figure so the evaluation can test it against the measured rows: lateness
// above the limit makes a phase INVALID only if taking it out of a measured latency could move that row to
// another verdict (eval/evaluation.cpp). The reason is also in Validity::invalid_reasons, so a caller that
// does not forward this stays on the safe side (INVALID).
struct LatenessFinding {
  std::string reason;  // exactly as in invalid_reasons
  double p99 = 0;      // the generator's own send lateness P99, seconds
};

struct Validity {
  std::vector<std::string> invalid_reasons;  // empty: valid
  std::optional<LatenessFinding> lateness;   // set when lateness is one of the invalid reasons
  // For every report: "queries: offered 10.0k/s, sent 9.99k/s (99.9 % of due); own send lateness P50 12us,
  // P99 80us, max 2.10ms (limit 1.00ms: 10 % of the 10ms target); 120 queued for a connection (the
  // server's)".
  std::string statement;
  bool valid() const { return invalid_reasons.empty(); }
};

// "CPU quota throttled the generator in 30 of 120 periods (25.0 %), 2.50s in all"; "" when nothing was
// measured (no periods).
std::string throttling_statement(const CpuThrottling& throttling);
// The invalid reason when the share of throttled periods is above kMaxThrottledShare, else nullopt.
std::optional<std::string> throttling_reason(const CpuThrottling& throttling);

// `tightest_target`: seconds, the smallest latency target (critical where a row has no target) among the rows
// the phase is judged against; unset: no latency row, so lateness is stated, never judged.
Validity judge_validity(const GeneratorAccount& account, std::optional<double> tightest_target);

}  // namespace kp::load
