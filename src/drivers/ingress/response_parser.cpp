#include "drivers/ingress/response_parser.hpp"

#include <algorithm>
#include <array>

namespace kp::drivers::ingress {
namespace {

constexpr std::string_view kStatusPrefix = "HTTP/1.";

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    x = (x >= 'A' && x <= 'Z') ? static_cast<char>(x - 'A' + 'a') : x;
    y = (y >= 'A' && y <= 'Z') ? static_cast<char>(y - 'A' + 'a') : y;
    if (x != y) {
      return false;
    }
  }
  return true;
}

// RFC 9110 token characters, for header names.
constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) {
    table[static_cast<std::size_t>(c)] = true;
  }
  for (int c = 'a'; c <= 'z'; ++c) {
    table[static_cast<std::size_t>(c)] = true;
    table[static_cast<std::size_t>(c - 'a' + 'A')] = true;
  }
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) {
    table[static_cast<unsigned char>(c)] = true;
  }
  return table;
}
constexpr std::array<bool, 256> kTokenChars = make_token_table();

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

std::string_view describe(ParseError error) {
  switch (error) {
    case ParseError::none:
      return "no error";
    case ParseError::bad_status_line:
      return "malformed status line";
    case ParseError::bad_header:
      return "malformed header line";
    case ParseError::headers_too_large:
      return "header section too large";
    case ParseError::bad_content_length:
      return "invalid Content-Length";
    case ParseError::bad_chunk:
      return "malformed chunked body";
    case ParseError::truncated:
      return "connection closed mid-response";
    case ParseError::unexpected_data:
      return "data received with no request outstanding";
  }
  return "unknown parse error";
}

void ResponseParser::reset(bool head_request) {
  state_ = State::status_line;
  error_ = ParseError::none;
  partial_.clear();
  header_bytes_ = 0;
  status_code_ = 0;
  http10_ = false;
  head_request_ = head_request;
  keep_alive_ = true;
  connection_close_ = false;
  connection_keep_alive_ = false;
  chunked_ = false;
  other_transfer_coding_ = false;
  has_content_length_ = false;
  content_length_ = 0;
  remaining_ = 0;
  body_bytes_ = 0;
}

ResponseParser::Step ResponseParser::fail_with(ParseError error, std::size_t consumed) {
  state_ = State::failed;
  error_ = error;
  keep_alive_ = false;
  return Step{consumed, ParseStatus::error};
}

bool ResponseParser::next_line(std::string_view data, std::size_t& pos, std::string_view& line,
                               bool counts_as_header) {
  std::size_t newline = data.find('\n', pos);
  std::size_t piece_end = newline == std::string_view::npos ? data.size() : newline;
  std::size_t length = partial_.size() + (piece_end - pos);
  if (length > limits_.max_line_bytes ||
      (counts_as_header && header_bytes_ + length > limits_.max_header_bytes)) {
    error_ = counts_as_header ? ParseError::headers_too_large : ParseError::bad_chunk;
    return false;
  }
  if (newline == std::string_view::npos) {
    partial_.append(data.substr(pos));
    pos = data.size();
    return false;
  }
  if (partial_.empty()) {
    line = data.substr(pos, newline - pos);
  } else {
    partial_.append(data.substr(pos, newline - pos));
    line_buffer_.swap(partial_);
    partial_.clear();
    line = line_buffer_;
  }
  if (counts_as_header) {
    header_bytes_ += line.size() + 1;
  }
  pos = newline + 1;
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return true;
}

bool ResponseParser::parse_status_line(std::string_view line) {
  // "HTTP/1.1 200 OK", the reason phrase optional.
  if (line.size() < 12 || line.substr(0, kStatusPrefix.size()) != kStatusPrefix || !is_digit(line[7]) ||
      line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      (line.size() > 12 && line[12] != ' ')) {
    return false;
  }
  http10_ = line[7] == '0';
  status_code_ = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
  return status_code_ >= 100 && status_code_ <= 599;
}

bool ResponseParser::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return false;  // obsolete line folding: RFC 9112 lets a client reject it, and it hides smuggling
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  std::string_view name = line.substr(0, colon);
  for (char c : name) {
    if (!kTokenChars[static_cast<unsigned char>(c)]) {
      return false;
    }
  }
  std::string_view value = trim(line.substr(colon + 1));
  if (equals_ignore_case(name, "content-length")) {
    if (value.empty() || value.size() > 18 || !std::all_of(value.begin(), value.end(), is_digit)) {
      error_ = ParseError::bad_content_length;
      return false;
    }
    std::uint64_t length = 0;
    for (char c : value) {
      length = length * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (has_content_length_ && length != content_length_) {
      error_ = ParseError::bad_content_length;
      return false;
    }
    has_content_length_ = true;
    content_length_ = length;
  } else if (equals_ignore_case(name, "transfer-encoding")) {
    // Only the final coding decides the framing: "gzip, chunked" is chunked.
    std::string_view last = value;
    if (std::size_t comma = value.rfind(','); comma != std::string_view::npos) {
      last = trim(value.substr(comma + 1));
    }
    chunked_ = equals_ignore_case(last, "chunked");
    other_transfer_coding_ = !chunked_;
  } else if (equals_ignore_case(name, "connection")) {
    while (!value.empty()) {
      std::size_t comma = value.find(',');
      std::string_view token = trim(value.substr(0, comma));
      if (equals_ignore_case(token, "close")) {
        connection_close_ = true;
      } else if (equals_ignore_case(token, "keep-alive")) {
        connection_keep_alive_ = true;
      }
      value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    }
  }
  return true;
}

void ResponseParser::start_body() {
  keep_alive_ = http10_ ? connection_keep_alive_ && !connection_close_ : !connection_close_;
  bool no_body = head_request_ || status_code_ == 204 || status_code_ == 304 || status_code_ < 200;
  if (no_body) {
    state_ = State::done;
    if (status_code_ == 101) {
      keep_alive_ = false;  // we never ask to switch protocols; whatever follows is not HTTP/1.1
    }
    return;
  }
  if (chunked_) {
    if (has_content_length_) {
      keep_alive_ = false;  // RFC 9112 6.3: both present is a smuggling risk; close after this response
    }
    state_ = State::chunk_size;
  } else if (other_transfer_coding_ || !has_content_length_) {
    keep_alive_ = false;
    state_ = State::body_until_close;
  } else if (content_length_ == 0) {
    state_ = State::done;
  } else {
    remaining_ = content_length_;
    state_ = State::body_length;
  }
}

ResponseParser::Step ResponseParser::feed(std::string_view data) {
  std::size_t pos = 0;
  if (state_ == State::status_line && partial_.size() < kStatusPrefix.size()) {
    // Reject garbage at its first bytes rather than buffering it up to the line limit.
    std::size_t have = std::min(kStatusPrefix.size() - partial_.size(), data.size());
    if (data.substr(0, have) != kStatusPrefix.substr(partial_.size(), have)) {
      return fail_with(ParseError::bad_status_line, 0);
    }
  }
  while (true) {
    switch (state_) {
      case State::done:
        return Step{pos, ParseStatus::complete};
      case State::failed:
        return Step{pos, ParseStatus::error};
      case State::status_line:
      case State::header_line:
      case State::trailer_line: {
        if (pos == data.size()) {
          return Step{pos, ParseStatus::need_more};
        }
        std::string_view line;
        if (!next_line(data, pos, line, true)) {
          if (error_ != ParseError::none) {
            return fail_with(error_, pos);
          }
          return Step{pos, ParseStatus::need_more};
        }
        if (state_ == State::status_line) {
          if (!parse_status_line(line)) {
            return fail_with(ParseError::bad_status_line, pos);
          }
          state_ = State::header_line;
        } else if (line.empty()) {
          if (state_ == State::trailer_line) {
            state_ = State::done;
          } else if (status_code_ >= 100 && status_code_ < 200 && status_code_ != 101) {
            // An interim response (100 Continue, 103 Early Hints): the final one follows.
            state_ = State::status_line;
            has_content_length_ = false;
            chunked_ = false;
            other_transfer_coding_ = false;
            connection_close_ = false;
            connection_keep_alive_ = false;
          } else {
            start_body();
          }
        } else if (!parse_header_line(line)) {
          return fail_with(error_ == ParseError::none ? ParseError::bad_header : error_, pos);
        }
        break;
      }
      case State::body_length:
      case State::chunk_data: {
        if (pos == data.size()) {
          return Step{pos, ParseStatus::need_more};
        }
        std::uint64_t take = std::min<std::uint64_t>(remaining_, data.size() - pos);
        pos += static_cast<std::size_t>(take);
        remaining_ -= take;
        body_bytes_ += take;
        if (remaining_ == 0) {
          state_ = state_ == State::body_length ? State::done : State::chunk_data_end;
        }
        break;
      }
      case State::body_until_close: {
        body_bytes_ += data.size() - pos;
        return Step{data.size(), ParseStatus::need_more};
      }
      case State::chunk_size:
      case State::chunk_data_end: {
        if (pos == data.size()) {
          return Step{pos, ParseStatus::need_more};
        }
        std::string_view line;
        if (!next_line(data, pos, line, false)) {
          if (error_ != ParseError::none) {
            return fail_with(error_, pos);
          }
          return Step{pos, ParseStatus::need_more};
        }
        if (state_ == State::chunk_data_end) {
          if (!line.empty()) {
            return fail_with(ParseError::bad_chunk, pos);
          }
          state_ = State::chunk_size;
          break;
        }
        // "1a2b" optionally followed by ";extension" (ignored) or whitespace before it.
        std::uint64_t size = 0;
        std::size_t digits = 0;
        for (char c : line) {
          int value = hex_value(c);
          if (value < 0) {
            if (c != ';' && c != ' ' && c != '\t') {
              return fail_with(ParseError::bad_chunk, pos);
            }
            break;
          }
          if (++digits > 15) {
            return fail_with(ParseError::bad_chunk, pos);  // beyond 2^60 bytes: garbage, not a body
          }
          size = size * 16 + static_cast<std::uint64_t>(value);
        }
        if (digits == 0) {
          return fail_with(ParseError::bad_chunk, pos);
        }
        if (size == 0) {
          state_ = State::trailer_line;
        } else {
          remaining_ = size;
          state_ = State::chunk_data;
        }
        break;
      }
    }
  }
}

ParseStatus ResponseParser::finish() {
  switch (state_) {
    case State::done:
      return ParseStatus::complete;
    case State::failed:
      return ParseStatus::error;
    case State::body_until_close:
      state_ = State::done;
      return ParseStatus::complete;
    case State::status_line:
      if (!started()) {
        return ParseStatus::need_more;
      }
      break;
    default:
      break;
  }
  state_ = State::failed;
  error_ = ParseError::truncated;
  keep_alive_ = false;
  return ParseStatus::error;
}

}  // namespace kp::drivers::ingress
