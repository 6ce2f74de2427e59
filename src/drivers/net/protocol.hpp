#pragma once

// The agent's wire protocol. Everything goes to one server port, so a Kubernetes Service (or the lab's DNAT
// rule) needs one port mapping, for TCP and UDP alike.
//
// Control connection (TCP): JSON lines, one message a line, at most kMaxLineBytes each.
//   client -> server  {"type":"hello","version":1,"test":{...TestSpec...}}
//   server -> client  {"type":"ready","version":1,"session":N,"hold_ns":N}  or
//   {"type":"error","message":"..."} client -> server  {"type":"mark","name":"measure_start"}  ...
//   {"type":"mark","name":"measure_end"} client -> server  {"type":"done"} server -> client
//   {"type":"result","report":{...ServerReport...}}
// The marks let the server count its bytes and CPU over the same window as the client.
//
// Data connection (TCP): starts with a 16-byte DataHeader (magic "KPD1", stream, session), then raw bytes:
// STREAM a byte stream until the client shuts its side; RR requests of request_size and responses of
// response_size; CRR one request, one response, then the server closes.
// Datagrams (UDP): each starts with a 16-byte UdpHeader (token, stream, second, sequence).
// Integers on the wire are big-endian.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/net/test_spec.hpp"

namespace kp::drivers::net {

inline constexpr int kProtocolVersion = 1;
// A control line is a few hundred bytes; the result with per-second samples of a 12 h run stays far below.
inline constexpr std::size_t kMaxLineBytes = std::size_t{4} << 20;

// Splits a byte stream into lines. Bytes arrive in any chunking; a line longer than the limit is an error
// (a peer that is not our agent, or a bug), never an unbounded buffer.
class LineReader {
 public:
  explicit LineReader(std::size_t max_line = kMaxLineBytes) : max_line_(max_line) {}
  void append(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete line without its '\n' (a trailing '\r' is dropped too); nullopt until one is complete.
  Result<std::optional<std::string>> next_line();
  std::size_t buffered() const { return buffer_.size() - consumed_; }

 private:
  std::size_t max_line_;
  std::string buffer_;
  std::size_t consumed_ = 0;  // bytes of buffer_ already returned as lines
  std::size_t scanned_ = 0;   // bytes after consumed_ known to hold no '\n'
};

// The server's side of a test, counted over the whole test and over the marked window.
struct ServerReport {
  std::uint64_t bytes_received = 0;         // payload bytes read from data connections/datagrams, whole test
  std::uint64_t window_bytes_received = 0;  // a part of bytes_received: between the marks
  Duration window{0};                       // between the marks, on the server's clock
  std::uint64_t packets_received = 0;       // UDP datagrams of this test, whole test
  std::uint64_t window_packets_received = 0;  // UDP_STREAM: datagrams the client sent inside its window
  std::uint64_t transactions = 0;             // responses sent (RR, CRR), whole test
  std::uint64_t connections = 0;              // data connections accepted for this test
  Duration cpu_user{0};                       // the server process's CPU time between the marks
  Duration cpu_system{0};
  // UDP_STREAM: payload bytes received per second of the client's window (by the second in each datagram).
  std::vector<std::uint64_t> per_second_bytes;
  friend bool operator==(const ServerReport&, const ServerReport&) = default;
};

struct HelloMessage {
  TestSpec spec;
};
struct ReadyMessage {
  std::uint64_t session = 0;
  Duration hold{0};  // the server holds each response this long (a test option of the server)
};
enum class MarkName { measure_start, measure_end };
struct MarkMessage {
  MarkName name = MarkName::measure_start;
};
struct DoneMessage {};
struct ResultMessage {
  ServerReport report;
};
struct ErrorMessage {
  std::string message;
};
using ControlMessage =
    std::variant<HelloMessage, ReadyMessage, MarkMessage, DoneMessage, ResultMessage, ErrorMessage>;

// One JSON line, '\n' included.
std::string encode(const ControlMessage& message);
// ErrorKind::protocol with a message that says what was wrong: `control message is not JSON: "hello"`.
Result<ControlMessage> decode(std::string_view line);
std::string_view type_name(const ControlMessage& message);

inline constexpr std::size_t kDataHeaderSize = 16;
inline constexpr std::array<char, 4> kDataMagic = {'K', 'P', 'D', '1'};

struct DataHeader {
  std::uint32_t stream = 0;
  std::uint64_t session = 0;
};
std::array<char, kDataHeaderSize> encode(const DataHeader& header);
// ErrorKind::protocol: `data connection: bad magic "GET "`.
Result<DataHeader> decode_data_header(std::string_view bytes);

// The second of the window a datagram was sent in; this value marks a warm-up datagram.
inline constexpr std::uint16_t kWarmupSecond = 0xFFFF;

struct UdpHeader {
  std::uint32_t token = 0;  // the session's low 32 bits: datagrams of another test are dropped
  std::uint16_t stream = 0;
  std::uint16_t second = kWarmupSecond;
  std::uint64_t sequence = 0;
};
// Writes the header into the first kUdpHeaderSize bytes of `buffer` (which must hold them).
void encode_into(const UdpHeader& header, char* buffer);
// ErrorKind::protocol when the datagram is shorter than a header.
Result<UdpHeader> decode_udp_header(std::string_view datagram);

}  // namespace kp::drivers::net
