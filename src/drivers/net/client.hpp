#pragma once

// The agent's client end (`kubeproof agent net-client`): sends the test to the server on the control
// connection, runs one worker thread per stream (each owning its socket, histograms and pacer; merged after
// join), and collects the server's report.
//
// Timeline: data connections open, warm-up traffic flows, then the window [start, start + duration) is
// measured (both ends mark it: the server counts its bytes and CPU over the same window), then the client
// closes its data connections, waits until the server has read everything, says "done" and reads the
// report. Every wait is bounded; a cancellation ends the window early and still returns what was measured.
//
// A failure before the test starts (cannot connect, the server refuses) is an error. A failure during the
// test (the server is killed, a connection breaks) returns a ClientResult with complete = false, the error
// in `error`, and whatever was measured until then.

#include <functional>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/live.hpp"
#include "drivers/net/result.hpp"
#include "drivers/net/test_spec.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::net {

struct ClientOptions {
  std::string server;  // "host:port" of the server (a pod IP, a Service address or name)
  TestSpec spec;
  Duration connect_timeout = std::chrono::seconds(5);
  // Where the window's live counts go (not owned; must outlive run_client; null = none): RR and CRR
  // transactions with their latency from each stream worker, stream tests' bytes once a second.
  LiveSink* live = nullptr;
};

// Once per second of the window.
struct ProgressSample {
  int second = 0;  // 1-based second of the window that just ended
  double bits_per_second = 0;
  double transactions_per_second = 0;
};
using ClientProgressFn = std::function<void(const ProgressSample&)>;

Result<ClientResult> run_client(const ClientOptions& options, Clock& clock, engine::CancellationToken& cancel,
                                const ClientProgressFn& progress);

}  // namespace kp::drivers::net
