#include "drivers/net/protocol.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kp::drivers::net {
namespace {

std::string decode_error(std::string_view line) {
  Result<ControlMessage> message = decode(line);
  return message ? std::string("decoded") : message.error().message;
}

TEST(LineReader, SplitsLinesArrivingInAnyChunking) {
  LineReader reader;
  reader.append("{\"a\":1}\n{\"b\"");
  Result<std::optional<std::string>> line = reader.next_line();
  ASSERT_TRUE(line && *line);
  EXPECT_EQ(**line, "{\"a\":1}");
  line = reader.next_line();
  ASSERT_TRUE(line);
  EXPECT_FALSE(*line);  // the second line is not complete yet
  reader.append(":2}\r\n\n");
  line = reader.next_line();
  ASSERT_TRUE(line && *line);
  EXPECT_EQ(**line, "{\"b\":2}");  // the \r of a CRLF is dropped
  line = reader.next_line();
  ASSERT_TRUE(line && *line);
  EXPECT_EQ(**line, "");
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(LineReader, ByteByByte) {
  LineReader reader;
  const std::string text = "first\nsecond\n";
  std::vector<std::string> lines;
  for (char c : text) {
    reader.append(std::string_view(&c, 1));
    Result<std::optional<std::string>> line = reader.next_line();
    ASSERT_TRUE(line);
    if (*line) {
      lines.push_back(**line);
    }
  }
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "second"}));
}

TEST(LineReader, RefusesALineLongerThanTheLimit) {
  LineReader reader(8);
  reader.append("123456789");
  Result<std::optional<std::string>> line = reader.next_line();
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().message, "control message longer than 8 bytes without a newline");
  EXPECT_EQ(line.error().kind, ErrorKind::protocol);

  LineReader complete(8);
  complete.append("1234567890\n");
  line = complete.next_line();
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().message, "control message longer than 8 bytes");
}

TEST(ControlProtocol, EveryMessageRoundTrips) {
  TestSpec spec;
  spec.scenario = Scenario::udp_rr;
  spec.streams = 3;
  spec.request_size = 100;
  spec.response_size = 2000;
  spec.rate = Rate{1500};
  spec.arrival = Arrival::poisson;
  spec.total = 42;
  ServerReport report;
  report.bytes_received = 1234;
  report.window_bytes_received = 1000;
  report.window = std::chrono::milliseconds(1500);
  report.packets_received = 7;
  report.window_packets_received = 5;
  report.transactions = 3;
  report.connections = 2;
  report.cpu_user = std::chrono::microseconds(250);
  report.cpu_system = std::chrono::microseconds(750);
  report.per_second_bytes = {1, 2, 3};
  const std::vector<ControlMessage> messages = {
      HelloMessage{spec},
      ReadyMessage{0xfedcba9876543210ull, std::chrono::milliseconds(5)},
      MarkMessage{MarkName::measure_start},
      MarkMessage{MarkName::measure_end},
      DoneMessage{},
      ResultMessage{report},
      ErrorMessage{"server busy"},
  };
  for (const ControlMessage& message : messages) {
    const std::string line = encode(message);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1) << "one message, one line";
    Result<ControlMessage> back = decode(std::string_view(line).substr(0, line.size() - 1));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->index(), message.index());
    EXPECT_EQ(encode(*back), line);
  }
  EXPECT_EQ(std::get<ResultMessage>(*decode(encode(ResultMessage{report}))).report, report);
}

TEST(ControlProtocol, MalformedInputGetsExactErrors) {
  EXPECT_EQ(decode_error("hello"), "control message is not JSON: \"hello\"");
  EXPECT_EQ(decode_error("{\"type\":"), "control message is not JSON: \"{\"type\":\"");
  EXPECT_EQ(decode_error("[1,2]"), "control message must be a JSON object, got \"[1,2]\"");
  EXPECT_EQ(decode_error("{}"), "control message has no \"type\"");
  EXPECT_EQ(decode_error("{\"type\":3}"), "control message has no \"type\"");
  EXPECT_EQ(decode_error("{\"type\":\"bye\"}"),
            "control message type \"bye\" is unknown (expected hello, ready, mark, done, result, error)");
  EXPECT_EQ(decode_error("{\"type\":\"hello\",\"test\":{}}"), "hello: missing protocol version");
  EXPECT_EQ(decode_error("{\"type\":\"hello\",\"version\":2,\"test\":{}}"),
            "hello: protocol version 2 is not supported (this agent speaks 1)");
  EXPECT_EQ(decode_error("{\"type\":\"hello\",\"version\":1}"), "hello: missing \"test\"");
  EXPECT_EQ(decode_error("{\"type\":\"mark\",\"name\":\"middle\"}"),
            "mark: \"name\" must be \"measure_start\" or \"measure_end\"");
  EXPECT_EQ(decode_error("{\"type\":\"ready\",\"version\":1,\"session\":-1,\"hold_ns\":0}"),
            "ready.session: must be a whole number >= 0");
  // Beyond int64 these wrapped to a negative Duration that encode() wrote and decode() then refused
  // (found by fuzz_net_control's round-trip check).
  EXPECT_EQ(decode_error("{\"type\":\"ready\",\"version\":1,\"session\":1,\"hold_ns\":9223372036854775808}"),
            "ready.hold_ns: must be at most 100000000000000000 ns, got 9223372036854775808");
  EXPECT_EQ(decode_error("{\"type\":\"error\"}"), "error: missing \"message\"");
  EXPECT_EQ(decode_error("{\"type\":\"result\",\"report\":[]}"), "result.report: must be an object");
  // Control characters of a foreign peer are not echoed raw.
  EXPECT_EQ(decode_error(std::string("\x01\x02GET", 5)), "control message is not JSON: \"??GET\"");
}

TEST(ControlProtocol, HelloChecksTheTestItCarries) {
  auto hello_with = [](const std::string& field, const std::string& value) {
    nlohmann::json test = to_json(TestSpec{});
    test[field] = nlohmann::json::parse(value);
    return decode_error(nlohmann::json{{"type", "hello"}, {"version", 1}, {"test", test}}.dump());
  };
  EXPECT_EQ(hello_with("scenario", "\"TCP_MAERTS\""),
            "hello: test.scenario: must be one of TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, TCP_CRR, got "
            "\"TCP_MAERTS\"");
  EXPECT_EQ(hello_with("message_size", "0"), "hello: test.message_size: must be > 0, got 0");
  EXPECT_EQ(hello_with("streams", "\"4\""), "hello: test.streams: must be a whole number >= 0, got \"4\"");
  EXPECT_EQ(hello_with("streams", "0"), "hello: test.streams: must be within 1..256, got 0");
  EXPECT_EQ(hello_with("rate", "\"fast\""), "hello: test.rate: must be a number or null, got \"fast\"");
  EXPECT_EQ(hello_with("arrival", "\"bursty\""), "hello: test.arrival: must be \"constant\" or \"poisson\"");
  EXPECT_EQ(hello_with("colour", "1"), "hello: test.colour: unknown field");
}

TEST(DataHeader, RoundTripsAndRejectsStrangers) {
  const auto bytes = encode(DataHeader{7, 0x0102030405060708ull});
  EXPECT_EQ(std::string(bytes.data(), 4), "KPD1");
  Result<DataHeader> header = decode_data_header(std::string_view(bytes.data(), bytes.size()));
  ASSERT_TRUE(header);
  EXPECT_EQ(header->stream, 7u);
  EXPECT_EQ(header->session, 0x0102030405060708ull);
  Result<DataHeader> http = decode_data_header("GET / HTTP/1.1\r\n");
  ASSERT_FALSE(http);
  EXPECT_EQ(http.error().message, "data connection: bad magic \"GET \"");
  Result<DataHeader> short_header = decode_data_header("KPD1");
  ASSERT_FALSE(short_header);
  EXPECT_EQ(short_header.error().message, "data connection: header of 4 bytes, expected 16");
}

TEST(UdpHeader, RoundTripsInTheFirstSixteenBytes) {
  std::string datagram(64, 'x');
  encode_into(UdpHeader{0xdeadbeef, 3, 17, 123456789}, datagram.data());
  Result<UdpHeader> header = decode_udp_header(datagram);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->token, 0xdeadbeefu);
  EXPECT_EQ(header->stream, 3);
  EXPECT_EQ(header->second, 17);
  EXPECT_EQ(header->sequence, 123456789u);
  EXPECT_EQ(datagram.substr(16), std::string(48, 'x'));
  Result<UdpHeader> short_datagram = decode_udp_header("tiny");
  ASSERT_FALSE(short_datagram);
  EXPECT_EQ(short_datagram.error().message, "datagram of 4 bytes, shorter than the 16-byte header");
}

}  // namespace
}  // namespace kp::drivers::net
