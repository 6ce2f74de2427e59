#pragma once

// What one network test does: the scenario (netperf's names, as k8s-netperf uses them), how many parallel
// streams, for how long, with which message sizes and, for request/response, at which rate. The client
// sends it to the server on the control connection; both ends validate it (never trust the peer).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"

namespace kp::drivers::net {

enum class Scenario {
  tcp_stream,  // bulk TCP from client to server: goodput, retransmits
  udp_stream,  // datagrams from client to server: received throughput, loss
  tcp_rr,      // one request, one response, on a kept-open connection: round-trip latency
  udp_rr,      // the same over datagrams (a lost datagram counts as a timeout)
  tcp_crr,     // connect, request, response, close: connection rate and latency
};

std::string_view to_string(Scenario scenario);
std::optional<Scenario> parse_scenario(std::string_view name);
inline constexpr std::string_view kScenarioNames = "TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, TCP_CRR";

inline bool is_stream(Scenario s) {
  return s == Scenario::tcp_stream || s == Scenario::udp_stream;
}
inline bool is_udp(Scenario s) {
  return s == Scenario::udp_stream || s == Scenario::udp_rr;
}

// Limits that keep every test bounded in threads, memory and time.
inline constexpr int kMaxStreams = 256;
inline constexpr std::uint64_t kMaxTcpMessage = std::uint64_t{16} << 20;  // 16 MiB per write / message
inline constexpr std::uint64_t kMaxUdpMessage = 65507;                    // the largest IPv4 UDP payload
// Every datagram carries a header (session token, stream, second, sequence): a UDP message holds it.
inline constexpr std::uint64_t kUdpHeaderSize = 16;
inline constexpr Duration kMaxDuration = std::chrono::hours(12);

struct TestSpec {
  Scenario scenario = Scenario::tcp_stream;
  int streams = 1;
  Duration duration = std::chrono::seconds(10);  // measured window
  Duration warmup = std::chrono::seconds(1);     // before the window; excluded from every figure
  // Ends the window early after this many measured messages (STREAM) or transactions (RR, CRR), all streams.
  std::optional<std::uint64_t> total;
  std::uint64_t message_size = 128 * 1024;  // STREAM: each write (TCP) or datagram (UDP)
  std::uint64_t request_size = 64;          // RR, CRR
  std::uint64_t response_size = 64;         // RR, CRR
  std::optional<Rate> rate;  // RR, CRR: open loop at this rate (all streams); unset: closed loop
  Arrival arrival = Arrival::constant;
  std::optional<Bandwidth> bandwidth;  // UDP_STREAM: offered load (all streams); unset: as fast as it sends
  // RR, CRR: a TCP response later than this ends the test with an error; a UDP one counts as a timeout.
  Duration response_timeout = std::chrono::seconds(2);
};

// How validate() names a field: as the agent's flag ("--request-size") or as a JSON/YAML key
// ("request_size").
enum class FieldStyle { flag, key };
std::string field_name(std::string_view key, FieldStyle style);

// Checks the limits above and the combinations (a rate only for RR/CRR, a bandwidth only for UDP_STREAM, a
// UDP message holds the header). ErrorKind::usage: `--request-size: must be > 0, got 0`.
Result<void> validate(const TestSpec& spec, FieldStyle style);

// The spec on the wire. Durations in seconds (floating), sizes in bytes, rate per second, bandwidth bits/s.
nlohmann::json to_json(const TestSpec& spec);
// Parses and validates; errors (ErrorKind::protocol) name the field: `test.streams: must be a whole number`.
Result<TestSpec> spec_from_json(const nlohmann::json& json);

// One line for people and notes: "TCP_RR, 1 stream, 64 B/64 B, closed loop, 10s (+1s warm-up)".
std::string describe(const TestSpec& spec);

}  // namespace kp::drivers::net
