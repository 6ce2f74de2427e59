#include "drivers/ingress/response_parser.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kp::drivers::ingress {
namespace {

struct Outcome {
  ParseStatus status = ParseStatus::need_more;
  std::size_t consumed = 0;  // in total
  int code = 0;
  bool keep_alive = false;
  std::uint64_t body = 0;
  ParseError error = ParseError::none;
};

// Feeds `pieces` one after another, as separate reads; stops at the first complete or error.
Outcome feed_pieces(const std::vector<std::string>& pieces, bool eof = false, bool head = false,
                    ParseLimits limits = {}) {
  ResponseParser parser(limits);
  parser.reset(head);
  Outcome outcome;
  for (const std::string& piece : pieces) {
    ResponseParser::Step step = parser.feed(piece);
    outcome.consumed += step.consumed;
    outcome.status = step.status;
    if (step.status != ParseStatus::need_more) {
      break;
    }
  }
  if (eof && outcome.status == ParseStatus::need_more) {
    outcome.status = parser.finish();
  }
  outcome.code = parser.status_code();
  outcome.keep_alive = parser.keep_alive();
  outcome.body = parser.body_bytes();
  outcome.error = parser.error();
  return outcome;
}

Outcome feed_whole(const std::string& text, bool eof = false) {
  return feed_pieces({text}, eof);
}

// Every way of cutting `text` into two reads, and byte by byte, must give the same result as one read.
void expect_same_at_every_split(const std::string& text, const Outcome& expected) {
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    Outcome split = feed_pieces({text.substr(0, cut), text.substr(cut)});
    EXPECT_EQ(split.status, expected.status) << "cut at " << cut;
    EXPECT_EQ(split.code, expected.code) << "cut at " << cut;
    EXPECT_EQ(split.body, expected.body) << "cut at " << cut;
    EXPECT_EQ(split.keep_alive, expected.keep_alive) << "cut at " << cut;
    EXPECT_EQ(split.error, expected.error) << "cut at " << cut;
  }
  std::vector<std::string> bytes;
  for (char c : text) {
    bytes.emplace_back(1, c);
  }
  Outcome byte_by_byte = feed_pieces(bytes);
  EXPECT_EQ(byte_by_byte.status, expected.status);
  EXPECT_EQ(byte_by_byte.code, expected.code);
  EXPECT_EQ(byte_by_byte.body, expected.body);
  EXPECT_EQ(byte_by_byte.error, expected.error);
}

const std::string kSimple =
    "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";

TEST(ResponseParser, ContentLengthResponse) {
  Outcome outcome = feed_whole(kSimple);
  EXPECT_EQ(outcome.status, ParseStatus::complete);
  EXPECT_EQ(outcome.code, 200);
  EXPECT_EQ(outcome.body, 5u);
  EXPECT_TRUE(outcome.keep_alive);
  EXPECT_EQ(outcome.consumed, kSimple.size());
  expect_same_at_every_split(kSimple, outcome);
}

TEST(ResponseParser, ChunkedResponseAtEveryByteBoundary) {
  const std::string text =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n1a;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
  Outcome outcome = feed_whole(text);
  EXPECT_EQ(outcome.status, ParseStatus::complete);
  EXPECT_EQ(outcome.body, 31u);
  EXPECT_TRUE(outcome.keep_alive);
  EXPECT_EQ(outcome.consumed, text.size());
  expect_same_at_every_split(text, outcome);
}

TEST(ResponseParser, StopsAtTheEndOfTheResponse) {
  std::string two = kSimple + kSimple;
  ResponseParser parser;
  parser.reset();
  ResponseParser::Step step = parser.feed(two);
  EXPECT_EQ(step.status, ParseStatus::complete);
  EXPECT_EQ(step.consumed, kSimple.size());
}

TEST(ResponseParser, BareLineFeedsAndNoReason) {
  Outcome outcome = feed_whole("HTTP/1.1 204\nDate: x\n\n");
  EXPECT_EQ(outcome.status, ParseStatus::complete);
  EXPECT_EQ(outcome.code, 204);
  EXPECT_EQ(outcome.body, 0u);
}

TEST(ResponseParser, ServerErrorIsAResponseNotAParseError) {
  Outcome outcome = feed_whole("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 3\r\n\r\nbad");
  EXPECT_EQ(outcome.status, ParseStatus::complete);
  EXPECT_EQ(outcome.code, 500);
}

TEST(ResponseParser, HeadAnd304HaveNoBody) {
  EXPECT_EQ(feed_pieces({"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"}, false, true).status,
            ParseStatus::complete);
  EXPECT_EQ(feed_whole("HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n").status,
            ParseStatus::complete);
}

TEST(ResponseParser, InterimResponsesAreSkipped) {
  Outcome outcome =
      feed_whole("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(outcome.status, ParseStatus::complete);
  EXPECT_EQ(outcome.code, 201);
}

TEST(ResponseParser, ConnectionCloseAndHttp10) {
  EXPECT_FALSE(feed_whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_FALSE(feed_whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(
      feed_whole("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keep_alive);
}

TEST(ResponseParser, BodyUntilCloseCompletesAtEof) {
  Outcome open = feed_whole("HTTP/1.1 200 OK\r\n\r\nsome body", false);
  EXPECT_EQ(open.status, ParseStatus::need_more);
  Outcome closed = feed_whole("HTTP/1.1 200 OK\r\n\r\nsome body", true);
  EXPECT_EQ(closed.status, ParseStatus::complete);
  EXPECT_EQ(closed.body, 9u);
  EXPECT_FALSE(closed.keep_alive);
}

TEST(ResponseParser, GarbageIsRejectedAtOnce) {
  Outcome outcome = feed_whole("SSH-2.0-OpenSSH_9.2\r\n");
  EXPECT_EQ(outcome.status, ParseStatus::error);
  EXPECT_EQ(outcome.error, ParseError::bad_status_line);
  // Without a newline too: garbage is not buffered up to the line limit.
  EXPECT_EQ(feed_whole(std::string(100000, '\x01')).error, ParseError::bad_status_line);
  EXPECT_EQ(feed_pieces({"HT", "XP/1.1 200 OK\r\n"}).error, ParseError::bad_status_line);
}

TEST(ResponseParser, MalformedStatusLines) {
  for (const char* line : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 099 Low\r\n\r\n",
                           "HTTP/1.1 600 High\r\n\r\n", "HTTP/1.x 200 OK\r\n\r\n", "HTTP/1.1  200 OK\r\n\r\n",
                           "HTTP/1.1 2x0 OK\r\n\r\n"}) {
    Outcome outcome = feed_whole(line);
    EXPECT_EQ(outcome.status, ParseStatus::error) << line;
    EXPECT_EQ(outcome.error, ParseError::bad_status_line) << line;
  }
}

TEST(ResponseParser, MalformedHeaders) {
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n").error, ParseError::bad_header);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n").error, ParseError::bad_header);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n").error, ParseError::bad_header);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n").error, ParseError::bad_header);
}

TEST(ResponseParser, OversizeHeadersAreRejected) {
  ParseLimits limits{.max_header_bytes = 1024, .max_line_bytes = 512};
  std::string many = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 100; ++i) {
    many += "X-Filler: 0123456789\r\n";
  }
  many += "\r\n";
  EXPECT_EQ(feed_pieces({many}, false, false, limits).error, ParseError::headers_too_large);
  std::string long_line = "HTTP/1.1 200 OK\r\nX-Long: " + std::string(600, 'a') + "\r\n\r\n";
  EXPECT_EQ(feed_pieces({long_line}, false, false, limits).error, ParseError::headers_too_large);
  // Split into single bytes the limit still holds (the partial line is bounded, not only complete ones).
  std::vector<std::string> bytes;
  for (char c : long_line) {
    bytes.emplace_back(1, c);
  }
  EXPECT_EQ(feed_pieces(bytes, false, false, limits).error, ParseError::headers_too_large);
}

TEST(ResponseParser, WrongContentLength) {
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n").error,
            ParseError::bad_content_length);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").error,
            ParseError::bad_content_length);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n").error,
            ParseError::bad_content_length);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello").error,
            ParseError::bad_content_length);
  // The same value twice is allowed.
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello").status,
            ParseStatus::complete);
  // Longer than the body the server sends: truncated when the connection closes.
  Outcome short_body = feed_whole("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", true);
  EXPECT_EQ(short_body.status, ParseStatus::error);
  EXPECT_EQ(short_body.error, ParseError::truncated);
  // Shorter than the body: the response completes and the rest is left unconsumed for the caller to reject.
  ResponseParser parser;
  parser.reset();
  std::string text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello";
  ResponseParser::Step step = parser.feed(text);
  EXPECT_EQ(step.status, ParseStatus::complete);
  EXPECT_LT(step.consumed, text.size());
}

TEST(ResponseParser, MalformedChunks) {
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").error,
            ParseError::bad_chunk);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n").error,
            ParseError::bad_chunk);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n").error,
            ParseError::bad_chunk);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n").error,
            ParseError::bad_chunk);
  EXPECT_EQ(feed_whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", true).error,
            ParseError::truncated);
}

TEST(ResponseParser, ChunkedWinsOverContentLengthAndClosesAfter) {
  Outcome outcome = feed_whole(
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(outcome.status, ParseStatus::complete);
  EXPECT_EQ(outcome.body, 2u);
  EXPECT_FALSE(outcome.keep_alive);
}

TEST(ResponseParser, EofBeforeAnythingIsNotAnError) {
  ResponseParser parser;
  parser.reset();
  EXPECT_EQ(parser.finish(), ParseStatus::need_more);
  ResponseParser partial;
  partial.reset();
  partial.feed("HTTP/1.1 2");
  EXPECT_EQ(partial.finish(), ParseStatus::error);
  EXPECT_EQ(partial.error(), ParseError::truncated);
}

TEST(ResponseParser, ResetAllowsReuse) {
  ResponseParser parser;
  for (int i = 0; i < 3; ++i) {
    parser.reset();
    ResponseParser::Step step = parser.feed(kSimple);
    EXPECT_EQ(step.status, ParseStatus::complete);
    EXPECT_EQ(parser.body_bytes(), 5u);
  }
}

TEST(ResponseParser, DescribesEveryError) {
  EXPECT_EQ(describe(ParseError::bad_status_line), "malformed status line");
  EXPECT_EQ(describe(ParseError::truncated), "connection closed mid-response");
}

}  // namespace
}  // namespace kp::drivers::ingress
