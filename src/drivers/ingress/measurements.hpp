#pragma once

// From a LoadResult to the phase's measurements, notes and validity, shared by the driver, `kubeproof http`
// and `kubeproof agent http`.

#include <string>
#include <vector>

#include "core/measurement.hpp"
#include "drivers/ingress/load.hpp"

namespace kp::drivers::ingress {

// An open-loop run is invalid when more than this fraction of sends were late, or when it sent less than
// kMinAchievedFraction of the intended requests: its latency would describe a lighter load than asked for.
inline constexpr double kMaxLateFraction = 0.01;
inline constexpr double kMinAchievedFraction = 0.99;
// Requests that got no response at all (socket errors, timeouts, malformed responses) beyond this fraction
// make the 5xx rate meaningless (it counts responses), so the run is invalid too.
inline constexpr double kMaxFailureFraction = 0.01;

// ingress.rps, ingress.p99 (with the histogram: P50/P90/P99.9 come from it) and ingress.error_rate_5xx.
// ingress.p99 and the 5xx rate are left out when there was no response (NOT MEASURED, never a pass).
std::vector<Measurement> request_measurements(const LoadResult& result);
// ingress.connection_rate from a connection-per-request run.
std::vector<Measurement> connection_measurements(const LoadResult& result);

// Why the run cannot be trusted as a measurement of the asked-for load; empty when it can. `what` names the
// run in the messages ("requests", "connections").
std::vector<std::string> invalid_reasons(const LoadResult& result, std::string_view what);

// One line: "P50 412us, P90 530us, P99 1.21ms, P99.9 3.4ms (uncorrected P99 0.98ms); 0 socket errors, 0
// timeouts".
std::string latency_note(const LoadResult& result);

}  // namespace kp::drivers::ingress
