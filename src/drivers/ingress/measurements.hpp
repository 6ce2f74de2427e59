#pragma once

// From a LoadResult to the phase's measurements, notes, validity and stress steps, shared by the driver,
// `kubeproof http` and `kubeproof agent http`.

#include <string>
#include <vector>

#include "core/measurement.hpp"
#include "drivers/ingress/load.hpp"
#include "load/breaking_point.hpp"
#include "load/criteria_view.hpp"
#include "load/validity.hpp"

namespace kp::drivers::ingress {

// ingress.rps, ingress.p99 (with the histogram: P50/P90/P99.9 come from it) and ingress.error_rate_5xx.
// ingress.p99 is left out when there was no response, the error rate when nothing was attempted (NOT
// MEASURED, never a pass). The error rate counts 5xx responses and requests that got no response at all
// (socket errors, timeouts, malformed responses): a client sees both as errors, and a server that only
// times out must not pass on its 5xx rate.
std::vector<Measurement> request_measurements(const LoadResult& result);
// ingress.connection_rate from a connection-per-request run.
std::vector<Measurement> connection_measurements(const LoadResult& result);

// The generator's own account of a run, for the one validity rule (load/validity.hpp). `what` names the
// series ("requests", "connections"); `rate_judged`: a criteria row is judged from its rate (ingress.rps,
// ingress.connection_rate).
load::GeneratorAccount generator_account(const LoadResult& result, std::string what, bool rate_judged);

// The validity of one run against the criteria: INVALID only when the generator's own shortfall could
// change a verdict. Sends that waited for a connection held by a slow server are the server's (never
// INVALID). `metric` is the row judged from the run's rate ("ingress.rps", "ingress.connection_rate").
load::Validity judge_run(const LoadResult& result, std::string_view what, std::string_view metric,
                         const load::CriteriaView& criteria);

// The Critical levels a stress step breaks on: ingress.p99 and ingress.error_rate_5xx.
load::BreakLimits break_limits(const load::CriteriaView& criteria);
// One stress step's record from its run: offered and achieved per second, P50/P99, completed and errors.
load::StepRecord step_record(const LoadResult& result, bool connections);

// One line: "P50 412us, P90 530us, P99 1.21ms, P99.9 3.4ms (uncorrected P99 0.98ms); 0 socket errors, 0
// timeouts".
std::string latency_note(const LoadResult& result);

}  // namespace kp::drivers::ingress
