#include "drivers/dns/wire.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

void append(Bytes& bytes, std::initializer_list<int> values) {
  for (int value : values) {
    bytes.push_back(static_cast<std::uint8_t>(value));
  }
}

void append_name(Bytes& bytes, std::string_view name) {
  Result<Bytes> wire = encode_name(name);
  ASSERT_TRUE(wire) << wire.error().message;
  bytes.insert(bytes.end(), wire->begin(), wire->end());
}

// A response header: ID, QR|RD, RA|rcode, counts.
Bytes header(std::uint16_t id, int rcode, int qd, int an, int ns = 0, int ar = 0, bool tc = false) {
  Bytes bytes;
  append(bytes, {id >> 8, id & 0xff, 0x81 | (tc ? 0x02 : 0), 0x80 | rcode, 0, qd, 0, an, 0, ns, 0, ar});
  return bytes;
}

// The response a server would send for `query`: its question, then `answers` A records whose owner is a
// compression pointer to the question name (offset 12).
Bytes answer_for(const PreparedQuery& query, std::uint16_t id, int answers, int rcode = 0) {
  Bytes bytes = header(id, rcode, 1, answers);
  std::span<const std::uint8_t> question = query.question();
  bytes.insert(bytes.end(), question.begin(), question.end());
  for (int i = 0; i < answers; ++i) {
    append(bytes, {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 96, 0, 1 + i});
  }
  return bytes;
}

TEST(DnsWire, EncodesNamesAsLabels) {
  Result<Bytes> wire = encode_name("www.Example.com");
  ASSERT_TRUE(wire);
  EXPECT_EQ(*wire, (Bytes{3, 'w', 'w', 'w', 7, 'E', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0}));
  EXPECT_EQ(*encode_name("www.Example.com."), *wire);  // trailing dot or not: absolute either way
  EXPECT_EQ(*encode_name("."), (Bytes{0}));
  EXPECT_EQ(*encode_name(R"(a\.b.c)"), (Bytes{3, 'a', '.', 'b', 1, 'c', 0}));
  EXPECT_EQ(*encode_name(R"(\065.c)"), (Bytes{1, 'A', 1, 'c', 0}));
}

TEST(DnsWire, RejectsBadNamesEchoingThem) {
  EXPECT_EQ(encode_name("a..b").error().message, "bad name \"a..b\": empty label");
  EXPECT_EQ(encode_name("").error().message, "bad name \"\": empty");
  EXPECT_EQ(encode_name("a b").error().message, "bad name \"a b\": whitespace or control character");
  EXPECT_EQ(encode_name(std::string(64, 'x') + ".com").error().message,
            "bad name \"" + std::string(64, 'x') + ".com\": label longer than 63 bytes");
  EXPECT_TRUE(encode_name(std::string(63, 'x') + ".com"));
  // 4 labels of 63 = 4 * 64 + 1 = 257 bytes on the wire.
  std::string long_name = std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') +
                          "." + std::string(63, 'd');
  EXPECT_EQ(encode_name(long_name).error().message,
            "bad name \"" + long_name + "\": longer than 255 bytes on the wire (257)");
  EXPECT_EQ(encode_name(R"(a\25)").error().message,
            "bad name \"a\\25\": \\DDD needs three decimal digits up to 255");
  EXPECT_EQ(encode_name(R"(a\)").error().message, "bad name \"a\\\": dangling backslash");
}

TEST(DnsWire, PreparesAQueryOnceWithIdZero) {
  Result<PreparedQuery> query = prepare_query("kubernetes.default.svc.cluster.local", type::a);
  ASSERT_TRUE(query);
  Bytes expected;
  append(expected, {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0});
  append_name(expected, "kubernetes.default.svc.cluster.local");
  append(expected, {0, 1, 0, 1});
  EXPECT_EQ(query->wire, expected);
  EXPECT_EQ(query->question_size, expected.size() - kHeaderSize);
  set_id(query->wire, 0xbeef);
  EXPECT_EQ(query->wire[0], 0xbe);
  EXPECT_EQ(query->wire[1], 0xef);
  EXPECT_EQ(std::vector(query->wire.begin() + 2, query->wire.end()),
            std::vector(expected.begin() + 2, expected.end()));
}

TEST(DnsWire, PreparesEdnsAndNoRecursion) {
  Result<PreparedQuery> query = prepare_query(
      "example.com", type::aaaa, QueryOptions{.recursion_desired = false, .edns_udp_size = 1232});
  ASSERT_TRUE(query);
  EXPECT_EQ(query->wire[2], 0x00);
  EXPECT_EQ(read_u16(query->wire.data() + 10), 1);  // ARCOUNT: the OPT record
  Bytes opt(query->wire.end() - 11, query->wire.end());
  EXPECT_EQ(opt, (Bytes{0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0}));
  Result<Message> parsed = parse_message(query->wire);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->questions.at(0).name, "example.com.");
  EXPECT_EQ(parsed->questions.at(0).type, type::aaaa);
  EXPECT_EQ(parsed->additional.at(0).type, type::opt);
}

TEST(DnsWire, ChecksResponsesAgainstTheirQuery) {
  PreparedQuery query = *prepare_query("svc-01.default.svc.cluster.local", type::a);
  EXPECT_EQ(check_response(answer_for(query, 7, 1), query), Check::ok);
  EXPECT_EQ(check_response(Bytes{0, 7, 0x81, 0x80, 0, 1}, query), Check::too_short);
  // QR clear: a query, not an answer.
  Bytes not_response = answer_for(query, 7, 1);
  not_response[2] = 0x01;
  EXPECT_EQ(check_response(not_response, query), Check::not_response);
  // Opcode other than QUERY.
  Bytes notify = answer_for(query, 7, 1);
  notify[2] |= 0x20;
  EXPECT_EQ(check_response(notify, query), Check::not_response);
  // The answer to another name.
  PreparedQuery other = *prepare_query("svc-02.default.svc.cluster.local", type::a);
  EXPECT_EQ(check_response(answer_for(other, 7, 1), query), Check::question_mismatch);
  // Another type for the same name.
  PreparedQuery aaaa = *prepare_query("svc-01.default.svc.cluster.local", type::aaaa);
  EXPECT_EQ(check_response(answer_for(aaaa, 7, 0), query), Check::question_mismatch);
  // Case changes are allowed (RFC 4343; 0x20 randomisation).
  PreparedQuery upper = *prepare_query("SVC-01.Default.svc.cluster.LOCAL", type::a);
  EXPECT_EQ(check_response(answer_for(upper, 7, 1), query), Check::ok);
  // Cut inside the question.
  Bytes cut = answer_for(query, 7, 0);
  cut.resize(kHeaderSize + 5);
  EXPECT_EQ(check_response(cut, query), Check::question_mismatch);
  // No question: fine for REFUSED, not for NOERROR.
  EXPECT_EQ(check_response(header(7, rcode::refused, 0, 0), query), Check::ok);
  EXPECT_EQ(check_response(header(7, rcode::noerror, 0, 0), query), Check::question_mismatch);
}

TEST(DnsWire, ParsesACompressedResponse) {
  PreparedQuery query = *prepare_query("kubernetes.default.svc.cluster.local", type::a);
  Bytes response = answer_for(query, 0x1234, 2);
  Result<Message> message = parse_message(response);
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(message->header.id, 0x1234);
  EXPECT_TRUE(message->header.qr);
  EXPECT_TRUE(message->header.ra);
  EXPECT_EQ(message->header.rcode, 0);
  ASSERT_EQ(message->answers.size(), 2u);
  EXPECT_EQ(message->answers[0].name, "kubernetes.default.svc.cluster.local.");
  EXPECT_EQ(message->answers[0].ttl, 5u);
  EXPECT_EQ(message->answers[0].data, "10.96.0.1");
  EXPECT_EQ(message->answers[1].data, "10.96.0.2");
}

TEST(DnsWire, ParsesRecordDataOfCommonTypes) {
  Bytes bytes = header(1, 0, 0, 3, 1);
  std::size_t owner = bytes.size();
  append_name(bytes, "svc.cluster.local");
  // SRV 0 100 443 -> pointer to the owner name.
  append(bytes, {0, 33, 0, 1, 0, 0, 0, 30, 0, 8, 0, 0, 0, 100, 0x01, 0xbb, 0xc0, static_cast<int>(owner)});
  // AAAA ::1
  append(bytes, {0xc0, static_cast<int>(owner), 0, 28, 0, 1, 0, 0, 0, 30, 0, 16});
  append(bytes, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  // TXT "a\"b"
  append(bytes, {0xc0, static_cast<int>(owner), 0, 16, 0, 1, 0, 0, 0, 30, 0, 4, 3, 'a', '"', 'b'});
  // Authority: SOA with compressed names.
  append(bytes, {0xc0, static_cast<int>(owner), 0, 6, 0, 1, 0, 0, 0, 5, 0, 29});
  append(bytes, {2, 'n', 's', 0xc0, static_cast<int>(owner), 1, 'h', 0xc0, static_cast<int>(owner)});
  append(bytes, {0, 0, 0, 1, 0, 0, 0x1c, 0x20, 0, 0, 0x07, 0x08, 0, 1, 0x51, 0x80, 0, 0, 0, 5});
  Result<Message> message = parse_message(bytes);
  ASSERT_TRUE(message) << message.error().message;
  EXPECT_EQ(message->answers[0].data, "0 100 443 svc.cluster.local.");
  EXPECT_EQ(message->answers[1].data, "::1");
  EXPECT_EQ(message->answers[2].data, "\"a\\\"b\"");
  EXPECT_EQ(message->authority[0].data, "ns.svc.cluster.local. h.svc.cluster.local. 1 7200 1800 86400 5");
}

TEST(DnsWire, RefusesMalformedMessages) {
  EXPECT_EQ(parse_message(Bytes{1, 2, 3, 4, 5, 6, 7}).error().message, "truncated header (7 of 12 bytes)");

  // A pointer to itself: the classic loop.
  Bytes loop = header(1, 0, 1, 0);
  append(loop, {0xc0, 12, 0, 1, 0, 1});
  EXPECT_EQ(parse_message(loop).error().message,
            "question 1 at offset 12: name at offset 12: compression pointer to offset 12 does not point "
            "backwards");

  // A pointer forwards (could start a cycle through later bytes).
  Bytes forward = header(1, 0, 1, 0);
  append(forward, {0xc0, 20, 0, 1, 0, 1, 0, 0, 1, 'a', 0});
  EXPECT_EQ(parse_message(forward).error().message,
            "question 1 at offset 12: name at offset 12: compression pointer to offset 20 does not point "
            "backwards");

  // Two pointers pointing at each other: the second points backwards to the first, which points forwards.
  Bytes mutual = header(1, 0, 0, 1);
  append(mutual, {0xc0, 14, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
  EXPECT_FALSE(parse_message(mutual));

  // A chain of backward pointers that spells a name over 255 bytes.
  Bytes chain = header(1, 0, 0, 1);
  const std::size_t first = chain.size();
  append(chain, {63});
  chain.insert(chain.end(), 63, 'x');
  append(chain, {0});
  std::size_t previous = first;
  for (int i = 0; i < 5; ++i) {
    std::size_t here = chain.size();
    append(chain, {63});
    chain.insert(chain.end(), 63, 'y');
    append(chain, {0xc0 | static_cast<int>(previous >> 8), static_cast<int>(previous & 0xff)});
    previous = here;
  }
  // Read from the last link: six 63-byte labels, every pointer backwards, but 384 bytes in all.
  Result<NameRead> too_long = read_name(chain, previous);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().message, fmt::format("name at offset {}: longer than 255 bytes", previous));

  // A label running past the end.
  Bytes label = header(1, 0, 1, 0);
  append(label, {10, 'a', 'b'});
  EXPECT_EQ(parse_message(label).error().message,
            "question 1 at offset 12: name at offset 12: label runs past the end");

  // RDATA longer than what is left.
  PreparedQuery query = *prepare_query("a.example", type::a);
  Bytes rdata = header(1, 0, 1, 1);
  std::span<const std::uint8_t> question = query.question();
  rdata.insert(rdata.end(), question.begin(), question.end());
  const std::size_t record_at = rdata.size();
  append(rdata, {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 16, 10, 0, 0, 1});
  EXPECT_EQ(
      parse_message(rdata).error().message,
      fmt::format("answer 1 at offset {}: RDATA runs past the end (rdlength 16, 4 bytes left)", record_at));

  // An A record of the wrong length.
  Bytes a_length = header(1, 0, 1, 1);
  a_length.insert(a_length.end(), question.begin(), question.end());
  append(a_length, {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3, 10, 0, 0});
  EXPECT_EQ(parse_message(a_length).error().message,
            fmt::format("answer 1 at offset {}: A RDATA at offset {} has a wrong length (3)", record_at,
                        record_at + 12));

  // A count that promises more records than there are.
  Bytes short_count = header(1, 0, 1, 2);
  short_count.insert(short_count.end(), question.begin(), question.end());
  append(short_count, {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1});
  EXPECT_FALSE(parse_message(short_count));

  // The reserved label types 0x40/0x80.
  Bytes reserved = header(1, 0, 1, 0);
  append(reserved, {0x41, 0, 0, 1, 0, 1});
  EXPECT_EQ(parse_message(reserved).error().message,
            "question 1 at offset 12: name at offset 12: unsupported label type 0x41");
}

TEST(DnsWire, ReadsTruncationAndRcodeFromTheHeader) {
  std::optional<Header> h = read_header(header(9, rcode::nxdomain, 1, 0, 1, 0, true));
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->tc);
  EXPECT_EQ(h->rcode, rcode::nxdomain);
  EXPECT_EQ(h->nscount, 1);
  EXPECT_FALSE(read_header(Bytes(11, 0)));
}

TEST(DnsWire, NamesTypesAndRcodes) {
  EXPECT_EQ(*parse_type("A"), type::a);
  EXPECT_EQ(*parse_type("aaaa"), type::aaaa);
  EXPECT_EQ(*parse_type("SRV"), type::srv);
  EXPECT_EQ(*parse_type("TYPE65"), 65);
  EXPECT_EQ(parse_type("AX").error().message,
            "unknown query type \"AX\" (A, AAAA, SRV, PTR, TXT, ... or TYPE<n>)");
  EXPECT_FALSE(parse_type("TYPE70000"));
  EXPECT_EQ(type_name(65), "HTTPS");
  EXPECT_EQ(type_name(4711), "TYPE4711");
  EXPECT_EQ(rcode_name(3), "NXDOMAIN");
  EXPECT_EQ(rcode_name(12), "RCODE12");
}

}  // namespace
}  // namespace kp::drivers::dns
