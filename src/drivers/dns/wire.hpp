#pragma once

// The DNS wire format (RFC 1035 section 4), our own: queries are prepared once and only their ID (bytes 0-1)
// changes per send; responses are read defensively, because a load generator talks to servers that are
// overloaded, misconfigured or (in tests) hostile: every length is checked against the datagram, compression
// pointers must point backwards (so they cannot loop) and a name is at most 255 bytes however it is spelt.
//
// Two readers: check_response() is the hot path (header and question only, no allocation), parse_message()
// reads every record for verification and one-shot queries.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace kp::drivers::dns {

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameWireLength = 255;
inline constexpr std::size_t kMaxLabelLength = 63;
// A classic DNS-over-UDP message without EDNS.
inline constexpr std::size_t kClassicUdpPayload = 512;

// Record types people write in query files; any other is "TYPE<n>" (RFC 3597).
namespace type {
inline constexpr std::uint16_t a = 1;
inline constexpr std::uint16_t ns = 2;
inline constexpr std::uint16_t cname = 5;
inline constexpr std::uint16_t soa = 6;
inline constexpr std::uint16_t ptr = 12;
inline constexpr std::uint16_t mx = 15;
inline constexpr std::uint16_t txt = 16;
inline constexpr std::uint16_t aaaa = 28;
inline constexpr std::uint16_t srv = 33;
inline constexpr std::uint16_t naptr = 35;
inline constexpr std::uint16_t opt = 41;
inline constexpr std::uint16_t ds = 43;
inline constexpr std::uint16_t rrsig = 46;
inline constexpr std::uint16_t dnskey = 48;
inline constexpr std::uint16_t svcb = 64;
inline constexpr std::uint16_t https = 65;
inline constexpr std::uint16_t any = 255;
inline constexpr std::uint16_t caa = 257;
}  // namespace type

inline constexpr std::uint16_t kClassIn = 1;

namespace rcode {
inline constexpr std::uint8_t noerror = 0;
inline constexpr std::uint8_t formerr = 1;
inline constexpr std::uint8_t servfail = 2;
inline constexpr std::uint8_t nxdomain = 3;
inline constexpr std::uint8_t notimp = 4;
inline constexpr std::uint8_t refused = 5;
}  // namespace rcode

// "A", "aaaa", "TYPE65" -> the number; unknown mnemonics are errors echoing the text.
Result<std::uint16_t> parse_type(std::string_view text);
// 1 -> "A", 65 -> "HTTPS", 4711 -> "TYPE4711".
std::string type_name(std::uint16_t type);
// 0 -> "NOERROR", 3 -> "NXDOMAIN", 12 -> "RCODE12".
std::string rcode_name(std::uint8_t rcode);

// Presentation form -> wire form. Accepts a trailing dot (or not: every name is taken as absolute), "." for
// the root, and the escapes "\." and "\DDD" of RFC 1035 section 5.1. Errors echo the name: an empty label
// ("a..b"), a label over 63 bytes, a name over 255 bytes on the wire, whitespace or control characters.
Result<std::vector<std::uint8_t>> encode_name(std::string_view name);

struct QueryOptions {
  bool recursion_desired = true;
  // Adds an OPT record advertising this UDP payload size (EDNS0, RFC 6891); unset: no EDNS, classic 512.
  std::optional<std::uint16_t> edns_udp_size;
  bool dnssec_ok = false;  // EDNS DO bit; only with edns_udp_size
};

// A query prepared once. `wire` holds the whole message with ID 0; a sender writes the two ID bytes (or, to
// avoid the copy, sends them from a separate buffer followed by wire[2..]).
struct PreparedQuery {
  std::string name;  // as the user wrote it, for people
  std::uint16_t type = type::a;
  std::vector<std::uint8_t> wire;
  std::size_t question_size = 0;  // wire[12, 12 + question_size) is QNAME QTYPE QCLASS

  std::span<const std::uint8_t> question() const {
    return std::span<const std::uint8_t>(wire).subspan(kHeaderSize, question_size);
  }
};

Result<PreparedQuery> prepare_query(std::string_view name, std::uint16_t qtype,
                                    const QueryOptions& options = {});

inline std::uint16_t read_u16(const std::uint8_t* bytes) {
  return static_cast<std::uint16_t>((std::uint16_t{bytes[0]} << 8) | bytes[1]);
}
inline void write_u16(std::uint8_t* bytes, std::uint16_t value) {
  bytes[0] = static_cast<std::uint8_t>(value >> 8);
  bytes[1] = static_cast<std::uint8_t>(value & 0xff);
}
inline void set_id(std::span<std::uint8_t> message, std::uint16_t id) {
  write_u16(message.data(), id);
}

struct Header {
  std::uint16_t id = 0;
  bool qr = false;  // a response
  std::uint8_t opcode = 0;
  bool aa = false;
  bool tc = false;  // truncated: the answer did not fit; ask again over TCP
  bool rd = false;
  bool ra = false;
  std::uint8_t rcode = 0;  // the 4 header bits (extended RCODEs live in OPT and are not read)
  std::uint16_t qdcount = 0;
  std::uint16_t ancount = 0;
  std::uint16_t nscount = 0;
  std::uint16_t arcount = 0;
};

// The header of a message; nullopt when it is shorter than 12 bytes.
std::optional<Header> read_header(std::span<const std::uint8_t> message);

// What the hot path concludes about a datagram whose ID matched a query in flight.
enum class Check {
  ok,                 // a response to this query (any RCODE, possibly TC)
  too_short,          // fewer than 12 bytes: not even a header
  not_response,       // QR bit clear, or an opcode other than QUERY
  question_mismatch,  // a response, but to another question (stale, spoofed or a server bug)
};
std::string_view to_string(Check check);

// Checks that `response` answers `query`: header present, QR set, opcode QUERY, and the question section
// echoes the query's (QNAME compared case-insensitively, as servers may change case: RFC 4343). A response
// with QDCOUNT 0 is accepted only with a non-zero RCODE (FORMERR/REFUSED answers may drop the question).
// Allocation-free.
Check check_response(std::span<const std::uint8_t> response, const PreparedQuery& query);

struct Question {
  std::string name;  // presentation form, with the trailing dot
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
};

struct ResourceRecord {
  std::string name;
  std::uint16_t type = 0;
  std::uint16_t klass = 0;
  std::uint32_t ttl = 0;
  // Presentation of the RDATA as in a zone file for A, AAAA, NS, CNAME, PTR, MX, SRV, SOA, TXT ("10.96.0.1",
  // "0 100 443 kubernetes.default.svc.cluster.local."); RFC 3597's "\# <len> <hex>" for the rest.
  std::string data;
};

struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<ResourceRecord> answers;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;
};

// Reads a whole message. ErrorKind::protocol with the offset and what was wrong: "truncated header (7 of 12
// bytes)", "answer 2 at offset 61: RDATA runs past the end (rdlength 16, 4 bytes left)", "name at offset 12:
// compression pointer to offset 40 does not point backwards".
Result<Message> parse_message(std::span<const std::uint8_t> message);

// Reads the (possibly compressed) name at `offset`. Returns it in presentation form and the offset just after
// it in the original position (after the first pointer, if any).
struct NameRead {
  std::string name;
  std::size_t next = 0;
};
Result<NameRead> read_name(std::span<const std::uint8_t> message, std::size_t offset);

}  // namespace kp::drivers::dns
