#pragma once

// What a client run measured, and its one-line JSON form: the agent prints it on stdout (in the lab the
// driver reads it from the child; on a cluster it is the last line of the client pod's log). Latency
// histograms are lossless (Histogram::to_json), so results of many agents can be merged, never averaged.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/histogram.hpp"
#include "core/pacer.hpp"
#include "core/recorder.hpp"
#include "core/units.hpp"
#include "drivers/net/protocol.hpp"
#include "drivers/net/test_spec.hpp"
#include "load/validity.hpp"

namespace kp::drivers::net {

inline constexpr std::string_view kClientResultKind = "kubeproof.agent.net-client";
inline constexpr int kClientResultVersion = 1;

// CPU time of one end over the measured window.
struct CpuUse {
  Duration user{0};
  Duration system{0};
  Duration window{0};
  Duration total() const { return user + system; }
  // In cores: 1.0 is one CPU busy for the whole window.
  double utilization() const;
  friend bool operator==(const CpuUse&, const CpuUse&) = default;
};

// What an open-loop client owed and did in the window, as load::GeneratorAccount needs it (validity.hpp).
using SendAccount = load::SendAccount;

struct ClientResult {
  TestSpec spec;
  std::string server;       // as the client was told to reach it
  Duration server_hold{0};  // the server's test option (responses held this long)
  bool complete = false;    // the whole window ran and the server's report arrived
  bool cancelled = false;   // a cancellation (SIGINT) ended it early
  std::string error;        // why it is not complete; "" when complete
  Duration measured{0};     // the client's window as it actually ran (shorter when ended early)
  // The client agent's CPU quota throttling during the run, read from its line's "cpu_budget" (agent pods):
  // a validity input (load/validity.hpp). Unset when the line has none.
  std::optional<CpuThrottling> throttling;

  // STREAM. Goodput: payload bytes, no headers.
  double throughput_bps =
      0;  // TCP: bytes the server read in its window; UDP: datagram bytes it got of the
          // sender's window. Falls back to sender_bps when the server's report is missing.
  std::string throughput_source;         // "receiver" or "sender (acked)"
  double sender_bps = 0;                 // TCP: bytes the peer acknowledged (TCP_INFO); UDP: bytes sent
  std::vector<double> per_second_bps;    // per second of the window (TCP: written; UDP: received)
  std::uint64_t bytes_sent = 0;          // payload bytes written or sent, whole test with warm-up
  std::uint64_t datagrams_sent = 0;      // UDP_STREAM, in the window
  std::uint64_t datagrams_received = 0;  // UDP_STREAM, of those, received by the server
  double loss_ratio = 0;                 // UDP_STREAM: 1 - received / sent

  // RR, CRR.
  std::uint64_t transactions = 0;        // completed in the window
  std::uint64_t transactions_total = 0;  // with warm-up (for agreement with the server's count)
  double transaction_rate = 0;           // per second of the window
  std::vector<double> per_second_tps;
  std::uint64_t timeouts = 0;  // UDP_RR: requests whose response did not come within response_timeout
  LatencyRecorder latency;     // round trips in ns: corrected (from the intended send) and uncorrected
  std::vector<SecondSnapshot> latency_series;
  std::optional<PacerStats> pacer;   // open loop only
  std::optional<SendAccount> sends;  // open loop only

  std::uint64_t retransmits = 0;  // TCP segments retransmitted in the window, all data connections
  CpuUse client_cpu;
  std::optional<CpuUse> server_cpu;
  std::optional<ServerReport> server_report;
};

// {"kind":"kubeproof.agent.net-client","version":1,...} without a trailing newline.
std::string to_json_line(const ClientResult& result);
// Reads what to_json_line wrote (ErrorKind::protocol naming the field otherwise). The pacer's lag histogram
// is not carried (its late count and worst lag are).
Result<ClientResult> result_from_json_line(std::string_view line);

// "TCP_STREAM 9.41 Gbit/s ..." for progress and notes.
std::string summary(const ClientResult& result);

}  // namespace kp::drivers::net
