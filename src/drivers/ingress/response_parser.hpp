#pragma once

// An incremental HTTP/1.1 response parser for the load generator: it is fed whatever a read() returned, in
// pieces of any size, and says when a response is complete. It keeps no body (a load generator only counts
// it), so its memory is bounded by the header limit whatever the server sends.
//
// Defensive: anything that is not a well-formed response (garbage instead of a status line, a header without
// a colon, an oversize header section, a bad or conflicting Content-Length, a bad chunk size) is an error
// with a reason; the caller counts it and closes the connection, since its framing can no longer be trusted.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kp::drivers::ingress {

enum class ParseError {
  none,                // no error
  bad_status_line,     // not "HTTP/1.x NNN reason" (garbage, another protocol, a status outside 100..599)
  bad_header,          // a header line without a colon, with an empty or invalid name, or folded
  headers_too_large,   // status line plus headers exceed Limits::max_header_bytes
  bad_content_length,  // not a decimal number, too large, or two different values
  bad_chunk,           // a chunk size that is not hex, overflows, or chunk data not followed by CRLF
  truncated,           // the connection closed before the response was complete
  unexpected_data,     // bytes arrived while no request was outstanding
};

// One line for people: "malformed status line".
std::string_view describe(ParseError error);

enum class ParseStatus {
  need_more,  // everything given was consumed; the response is not complete yet
  complete,   // a whole response was parsed; bytes after it were not consumed
  error,      // see ResponseParser::error()
};

struct ParseLimits {
  std::size_t max_header_bytes = 64 * 1024;  // status line, headers and trailers together
  std::size_t max_line_bytes = 16 * 1024;    // any single line, including a chunk-size line
};

class ResponseParser {
 public:
  explicit ResponseParser(ParseLimits limits = {}) : limits_(limits) {}

  // Prepares for the next response. A response to HEAD has no body whatever its headers say.
  void reset(bool head_request = false);

  struct Step {
    std::size_t consumed = 0;
    ParseStatus status = ParseStatus::need_more;
  };
  // Parses from the start of `data`. After `complete`, data[consumed..] belongs to whatever follows (for a
  // client without pipelining: unsolicited bytes).
  Step feed(std::string_view data);
  // The peer closed the connection: completes a response whose body runs until close, otherwise `truncated`
  // (or need_more if nothing of a response had arrived yet, which the caller treats as a closed idle
  // connection).
  ParseStatus finish();

  int status_code() const { return status_code_; }
  // Whether the connection may carry another request after this response (HTTP/1.1 default, no
  // "Connection: close", and a body not delimited by close).
  bool keep_alive() const { return keep_alive_; }
  std::uint64_t body_bytes() const { return body_bytes_; }
  ParseError error() const { return error_; }
  // True once any byte of the current response was consumed.
  bool started() const { return state_ != State::status_line || !partial_.empty() || header_bytes_ > 0; }

 private:
  enum class State {
    status_line,
    header_line,
    body_length,
    body_until_close,
    chunk_size,
    chunk_data,
    chunk_data_end,
    trailer_line,
    done,
    failed,
  };

  // Returns the next complete line (without CR LF) starting at data[*pos], or sets `need_more` after keeping
  // the partial line. An over-long line sets the error.
  bool next_line(std::string_view data, std::size_t& pos, std::string_view& line, bool counts_as_header);
  Step fail_with(ParseError error, std::size_t consumed);
  bool parse_status_line(std::string_view line);
  bool parse_header_line(std::string_view line);
  // After the blank line that ends the headers: decides how the body is delimited.
  void start_body();

  ParseLimits limits_;
  State state_ = State::status_line;
  ParseError error_ = ParseError::none;
  std::string partial_;      // a line split across feeds
  std::string line_buffer_;  // the completed split line, valid until the next line is taken
  std::size_t header_bytes_ = 0;
  int status_code_ = 0;
  bool http10_ = false;
  bool head_request_ = false;
  bool keep_alive_ = true;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool chunked_ = false;
  bool other_transfer_coding_ = false;
  bool has_content_length_ = false;
  std::uint64_t content_length_ = 0;
  std::uint64_t remaining_ = 0;
  std::uint64_t body_bytes_ = 0;
};

}  // namespace kp::drivers::ingress
