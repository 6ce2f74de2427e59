#pragma once

// What the network phase runs, worked out from the plan alone (no lab, no clock, no processes), so it is
// unit-tested: the tests and their specs, the throughput capacity x load asks for, the RR rate's schedule
// (load/schedule.hpp), and in stress the two ramps.
//
// The rate model (issue 13, the same in every phase):
//   - TCP_STREAM is closed loop: streams write as fast as the path takes it, throughput is the most it
//   carries.
//     It is judged against capacity.pod_network x load: the plan's capacity scaled by the phase's load is the
//     throughput the plan expects, stated in the notes and in the measurement's note.
//   - TCP_RR's `rate` is an explicit rate or max (closed loop); the RR has no capacity field of its own.
//   - stress: the streams ramp (settings.stress_streams, 1, 2, 4, 8, 16 by default) and the RR rate ramp
//     (settings.stress.steps x the RR base rate: the explicit rate, or half the closed-loop rate measured
//     first);
//     both bisect settings.stress.bisect times. The two latency rows are measured as in a load test.
//
// Durations: each series gets the phase's duration split evenly (three series in smoke/load: throughput and
// the two latencies; four in stress: the two latencies and the two searches), at least 1 s, unless
// settings.duration sets it; a search splits its series over its steps and bisection steps.

#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "drivers/net/settings.hpp"
#include "drivers/net/test_spec.hpp"
#include "lab/netns.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::net {

// No step shorter than this: a TCP window needs time to open.
inline constexpr Duration kMinStepDuration = std::chrono::seconds(1);

struct PlannedTest {
  std::string metric;
  std::string target;  // host:port the client connects to
  std::string path;    // for people: "pod to pod", "pod to service (DNAT 10.237.1.10:80)"
  TestSpec spec;
};

struct NetPhasePlan {
  config::TestType type = config::TestType::smoke;
  // smoke and load: net.pod_to_pod.throughput, net.pod_to_pod.latency.p99, net.pod_to_service.latency.p99.
  // stress: the two latency tests (the first also gives the RR base rate when `rate` is max).
  std::vector<PlannedTest> tests;
  std::optional<double> expected_bps;  // capacity.pod_network x load; unset when the plan states none
  std::vector<std::string> notes;      // for PhaseRun::notes
  // Stress only.
  std::vector<int> stream_steps;
  int bisect = 0;
  Duration stream_step{0};
  TestSpec stream;        // TCP_STREAM; streams and duration set per step
  TestSpec probe;         // TCP_RR alongside each stream step, open loop at kProbeRate
  TestSpec rr_step;       // TCP_RR; rate and duration set per step
  Duration rr_series{0};  // what the RR search's schedule splits over its steps
  bool stress() const { return type == config::TestType::stress; }
};

// The RR measured alongside each stream step: open loop, so its P99 is the latency a request sees while the
// streams load the path.
inline constexpr Rate kProbeRate{1000};
// A stream step breaks when its throughput grows less than this over the last step held: more streams no
// longer find more capacity.
inline constexpr double kMinStreamGrowth = 0.05;
// The RR ramp's base when the plan sets no rate: this share of the measured closed-loop rate.
inline constexpr double kMeasuredBaseShare = 0.5;

// Errors (ErrorKind::input), naming the plan: a capacity.pod_network of 0.
Result<NetPhasePlan> plan_phase(const Settings& settings, const config::Plan& plan,
                                const config::PhasePlan& phase, const lab::NetnsLayout& layout);

// The RR search's schedule: the ramp over `base` (the explicit rate), or over kMeasuredBaseShare of it when
// `measured` (the closed-loop rate the first latency test measured).
Result<load::Schedule> rr_stress_schedule(const Settings& settings, const NetPhasePlan& plan, Rate base,
                                          bool measured);

}  // namespace kp::drivers::net
