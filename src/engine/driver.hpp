#pragma once

// The interface every phase driver implements (src/drivers/<phase>/). The orchestrator calls, on one thread:
// validate -> prepare -> run -> teardown (teardown always, once prepare was called, even after an error or a
// cancellation). A driver may use worker threads inside run(); it joins them before run() returns.

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/live.hpp"
#include "core/measurement.hpp"
#include "core/phase.hpp"
#include "engine/cancellation.hpp"
#include "eval/verdict.hpp"
#include "load/breaking_point.hpp"
#include "load/validity.hpp"

namespace kp::engine {

// Progress for people and live metrics. message() comes one line at a time, from the orchestrator's thread or
// a driver's; the phase events come from the orchestrator's thread.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void message(Phase phase, std::string_view text) = 0;
  virtual void phase_started(Phase /*phase*/, WallTime /*at*/) {}
  // The phase's measurements and verdict once it is judged.
  virtual void phase_finished(Phase /*phase*/, const std::vector<Measurement>& /*measurements*/,
                              eval::Verdict /*verdict*/, WallTime /*at*/) {}
  // Where load generators hand over live counts from their worker threads (core/live.hpp); null when live
  // metrics are off (a LiveSeries with a null sink does nothing).
  virtual LiveSink* live_sink() { return nullptr; }
};

struct PhaseContext {
  const config::Plan& plan;
  const config::PhasePlan& phase;
  Clock& clock;
  CancellationToken& cancel;
  ProgressSink& progress;
  // The run's active criteria rows (where a stress step breaks, the validity rule's latency target). Empty
  // outside a run (agents, unit tests): load::CriteriaView then uses the shipped criteria.
  std::span<const config::CriteriaRow> criteria = {};
};

struct PhaseRun {
  std::vector<Measurement> measurements;
  // Set when the run could not do what it set out to (target rate not reached, client saturated): the
  // phase verdict becomes INVALID and the report says why.
  std::vector<std::string> invalid_reasons;
  // Stress: one search per ramped series (load/breaking_point.hpp), every step and the breaking point.
  std::vector<load::StressResult> stress;
  // What a reader must know that no measurement carries: each generator's statement (load/validity.hpp:
  // offered, sent, lateness), the schedule's notes.
  std::vector<std::string> notes;
  // The lateness reasons among invalid_reasons, with their figures (load::Validity::lateness): the evaluation
  // keeps one only if it could change a row's verdict.
  std::vector<load::LatenessFinding> lateness;
  // Not empty: the phase found at run time that it cannot measure where it was asked to (etcd out of reach
  // on a managed control plane): it is SKIPPED with this reason, and `notes` still reach the report.
  std::string skipped;
  // Not empty: the run stopped partway on this error (a server that went away between two of the phase's
  // series), and `measurements` are what it measured before. The phase is an error with this reason, and its
  // verdict comes from those measurements (FAIL if a row failed, else INCOMPLETE), never from nothing.
  std::string error;
};

class Driver {
 public:
  virtual ~Driver() = default;
  virtual Phase phase() const = 0;
  // Checks the phase's settings; an error here is an input error (exit 2) before anything runs.
  virtual Result<void> validate(const PhaseContext& context) = 0;
  // Connects, creates objects, checks the service is there. ErrorKind::unavailable -> the phase is SKIPPED
  // with the message as the reason.
  virtual Result<void> prepare(PhaseContext& context) = 0;
  // Generates load and measures. On cancellation returns what it measured so far (not an error).
  virtual Result<PhaseRun> run(PhaseContext& context) = 0;
  // Removes what prepare created. Must not throw.
  virtual void teardown(PhaseContext& context) noexcept = 0;
};

using DriverFactory = std::function<std::unique_ptr<Driver>(const config::Plan&)>;

}  // namespace kp::engine
