#pragma once

// One result from many client agents that ran the same test at the same time (several agent pods, each
// against its own server pod): the way Kubernetes scales the network phase beyond one machine. The merge is
// exact: throughputs and counts add up, latency histograms are merged bucket by bucket (a P99 is read from
// the merged histogram, never averaged), open-loop accounts add up. Each agent's own summary is kept by the
// caller (agent_summary) in the phase's notes.

#include <string>
#include <vector>

#include "core/error.hpp"
#include "drivers/net/result.hpp"

namespace kp::drivers::net {

// The parts of one test given to `n` client agents: streams and an open-loop rate are shared out (the
// first `streams % n` agents take one more stream). ErrorKind::input when there are fewer streams than
// agents (an agent with no stream would measure nothing).
Result<std::vector<TestSpec>> split_spec(const TestSpec& spec, int n);

// The merged result of agents that ran one test together. `results` must not be empty and must share the
// scenario (ErrorKind::internal otherwise). Complete only when every agent is; the first agent's error is
// the merged error, prefixed with its index. The merged spec has the summed streams and rate.
Result<ClientResult> merge_results(const std::vector<ClientResult>& results);

// "net-client-cross-node-0 on node-a -> 10.1.0.5:7410: TCP_STREAM 9.41 Gbit/s ..." for the notes.
std::string agent_summary(const std::string& agent, const std::string& node, const ClientResult& result);

}  // namespace kp::drivers::net
