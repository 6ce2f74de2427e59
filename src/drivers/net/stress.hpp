#pragma once

// The network phase's two breaking-point searches (load/breaking_point.hpp) and how a client's result is
// judged (load/validity.hpp). The searches run their steps through a callback, so unit tests drive them with
// made-up results; the driver's callback runs agents in the lab.
//
//   streams: TCP_STREAM over 1, 2, 4, 8, 16 parallel streams (integral). A step breaks when its throughput
//            grows less than kMinStreamGrowth over the last step held (no more capacity), or when the TCP_RR
//            measured alongside it has P99 beyond the critical level. -> net.pod_to_pod.breaking_streams
//   rate:    TCP_RR, open loop at each step's rate (latency from the intended send time). A step breaks when
//            P99 crosses the critical level or fewer than 99 % of the offered transactions complete.
//            -> net.pod_to_pod.breaking_rate
// A step whose client failed breaks with the client's error as the reason. A cancellation ends a search.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "drivers/net/result.hpp"
#include "load/breaking_point.hpp"
#include "load/validity.hpp"

namespace kp::drivers::net {

// What one stream step measured: the streams and the RR beside them.
struct StreamStepResult {
  Result<ClientResult> stream = std::unexpected(Error{ErrorKind::internal, "not run"});
  Result<ClientResult> probe = std::unexpected(Error{ErrorKind::internal, "not run"});
};

using RunStreamStep = std::function<StreamStepResult(int streams, bool bisection)>;
using RunRateStep = std::function<Result<ClientResult>(Rate rate, bool bisection)>;
using StepProgress = std::function<void(const load::StepRecord&)>;
using Cancelled = std::function<bool()>;

struct StreamSearch {
  load::StressResult result;
  double best_bps = 0;               // the most any step carried (net.pod_to_pod.throughput in stress)
  std::optional<ClientResult> best;  // that step's stream result
};

// `p99_critical`: seconds, critical("net.pod_to_pod.latency.p99").
StreamSearch search_streams(const std::vector<int>& steps, int bisect, std::optional<double> p99_critical,
                            const RunStreamStep& run, const Cancelled& cancelled,
                            const StepProgress& progress);

// `ramp`: the step rates, ascending; `base`: what their factors multiply.
load::StressResult search_rate(const std::vector<double>& ramp, int bisect, double base,
                               std::optional<double> p99_critical, const RunRateStep& run,
                               const Cancelled& cancelled, const StepProgress& progress);

// The client's account for the validity rule: open loop from its send account; closed loop has nothing due.
// The RR's rate is not judged by any row (the rows are latencies), so only lateness can make it INVALID.
load::GeneratorAccount account_of(const ClientResult& result);

// One line for progress: "streams 4: 9.41 Gbit/s (held)", "rate 30.0k/s: achieved 24.1k/s, P99 4.2ms (broke:
// ...)".
std::string describe_step(const load::StepRecord& step, std::string_view unit);

}  // namespace kp::drivers::net
