#pragma once

// A client result's per-second series for the report's timeline (core/finished_series.hpp): a stream's
// throughput per second, a request/response test's transactions per second with the P50 and P99 of each
// second. The agent measured them in its window and sends them in its result line, so both targets have them.
//
// Sources. Throughput: the client's per-second samples (TCP: bytes written; UDP: what the server received).
// Transactions and percentiles: the client's per-second Recorder snapshots (from the intended send time, like
// the phase's histogram); a result merged from several agents (cluster_runner.hpp) keeps its summed
// transactions per second but has no per-second percentiles (they cannot be merged from summaries). Errors
// are not counted per second: a TCP error ends the test (its note says so) and UDP_RR counts its unanswered
// requests per test.

#include <string>

#include "core/finished_series.hpp"
#include "drivers/net/result.hpp"

namespace kp::drivers::net {

// The series of `result` named `name`; its last second ended when the result arrived (ended_before 0: the
// drain and the report that follow the window take milliseconds). Open loop: `offered` is the test's rate.
FinishedSeries finished_series(const ClientResult& result, std::string name);

}  // namespace kp::drivers::net
