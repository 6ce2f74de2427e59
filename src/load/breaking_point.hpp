#pragma once

// Stress to the breaking point, the same in every phase: run the ramp's steps lowest first; the first step
// that breaks ends the ramp; then bisect between the last step held and the first step broken (between 0 and
// the first step when none held) for `bisect` extra short steps, so the breaking point is known to within
// about 5 % of capacity with the default ramp (25 % apart, three halvings: 3.1 %). The search never runs a
// step above one that broke, so a real cluster is never loaded past a Critical breach.
//
// A step breaks when any of these holds (step_break_reason):
//   - achieved misses the step's offered rate by more than 1 %;
//   - P99 crosses the phase's Critical level for that latency;
//   - the error rate crosses its Critical level.
//
// Levels are generic: a rate per second for most phases, a count (streams, iodepth) where the knob is
// concurrency; `integral` bisects on whole numbers and stops when no whole number lies between.
//
// Pure logic, no clock and no threads: the phase runs each step and records what it measured.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/histogram.hpp"
#include "load/schedule.hpp"

namespace kp::load {

// What one step of a search measured. Rates per second; latencies in seconds.
struct StepRecord {
  double level = 0;     // the step's rate per second, or its concurrency (streams, iodepth)
  double factor = 1.0;  // level / capacity (1 when there is no capacity)
  bool bisection = false;
  double offered = 0;   // per second the step offered (open loop); 0 for closed loop
  double achieved = 0;  // per second it achieved (answered, completed)
  std::optional<double> p50;
  std::optional<double> p99;
  std::uint64_t completed = 0;  // operations that ended, any outcome
  std::uint64_t errors = 0;     // a subset of completed
  Duration duration{0};
  bool cancelled = false;  // interrupted: neither held nor broken
  std::string broke;       // "" if the step held; else why it broke ("P99 62ms > critical 50ms")

  double error_fraction() const { return completed == 0 ? 0.0 : double(errors) / double(completed); }
  bool held() const { return !cancelled && broke.empty(); }
};

// The levels that make a step break: the Critical levels of the rows the phase is judged against.
struct BreakLimits {
  std::optional<double> p99_critical;    // seconds
  std::optional<double> error_critical;  // fraction
  double min_achieved_share = 0.99;      // achieved/offered below this breaks (open loop only)
};

// A level as every report writes it: "17.5k QPS", "12.0k/s" (unit "/s"), "24 streams", "32 iodepth".
std::string level_text(double level, std::string_view unit);

// "" when the step held; otherwise every reason, comma-separated:
//   "achieved 9.70k/s of 10.0k/s offered (97.0 %)", "P99 62.0ms > critical 50ms", "errors 2.10 % > critical 1
//   %".
// `unit` is how levels are written ("/s", "QPS").
std::string step_break_reason(const StepRecord& step, const BreakLimits& limits,
                              std::string_view unit = "/s");

// A step that broke, but would hold with the generator's own send lateness P99 taken off its P99 (the
// corrected latency of a send is its own lateness plus the server's time): the generator could explain the
// break, so it is not the server's breaking point. The achieved rate needs no such correction.
bool own_lateness_explains_break(const StepRecord& step, const BreakLimits& limits,
                                 const Histogram& own_lateness, std::string_view unit = "/s");

// For a step own_lateness_explains_break found: records it as neither held nor broken (cancelled, so the
// search ends there and the last step held stands) and returns the step's outcome for people: "broke (P99
// 12 ms > 10 ms), but the generator fell behind on it, which could explain the break: not taken as the
// <server>'s breaking point; the search stops here".
std::string set_aside_break(StepRecord& step, std::string_view server);

class BreakingPointSearch {
 public:
  // `ramp`: ascending levels (e.g. rates 10k, 12.5k, ..., 20k); `capacity`: what a factor divides by (0:
  // none).
  BreakingPointSearch(std::vector<double> ramp, int bisect, double capacity = 0, bool integral = false);

  // The level of the next step to run; nullopt when the search is over: a step was cancelled, every ramp step
  // held, or a step broke and the bisection is done.
  std::optional<double> next_level() const;
  bool next_is_bisection() const;
  // The next step's factor of capacity (1 when there is no capacity).
  double next_factor() const;
  // Records what the step at next_level() measured (level, factor and bisection are filled in here).
  void record(StepRecord step);

  const std::vector<StepRecord>& steps() const { return steps_; }
  // Highest level held, lowest level broken, so far.
  std::optional<double> last_held() const { return held_; }
  std::optional<double> first_broken() const { return broken_; }
  const StepRecord* last_held_step() const;
  const StepRecord* first_broken_step() const;
  bool cancelled() const { return cancelled_; }

 private:
  std::vector<double> ramp_;
  int bisect_left_;
  double capacity_;
  bool integral_;
  std::size_t ramp_index_ = 0;
  std::optional<double> held_;
  std::optional<double> broken_;
  bool cancelled_ = false;
  bool in_bisection_ = false;
  std::vector<StepRecord> steps_;

  std::optional<double> bisection_level() const;
};

// A finished search, as a phase reports it (PhaseRun::stress): every step and the breaking point.
struct StressResult {
  std::string series;  // what was ramped: "writes", "reads", "queries", "requests", "connections", "streams"
  std::string metric;  // the breaking point's metric id: "dns.breaking_rate"
  std::string unit;    // "/s", "QPS", "streams", "iodepth"
  std::vector<StepRecord> steps;
  std::optional<double> breaking_level;  // lowest level broken; unset: not reached
  std::optional<double> last_held;
  // "broke at 17.5k QPS (x1.75): P99 62ms > critical 50ms; last step held 16.9k QPS (x1.69)"
  std::string note;
  // How `achieved` is written when it is not a level: "bps" for streams, "IOPS" for queue depths; "": `unit`.
  std::string achieved_unit;
};

// The result of a search; `series`, `metric`, `unit` as in StressResult.
StressResult summarize(const BreakingPointSearch& search, std::string series, std::string metric,
                       std::string unit);

}  // namespace kp::load
