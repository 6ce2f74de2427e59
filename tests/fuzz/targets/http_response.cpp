// HTTP/1.1 responses as the ingress load generator reads them: ResponseParser fed in pieces of the sizes a
// read() might return (chosen by the first byte), responses one after another on the same connection, and the
// connection closed at the end. Also checks what must hold whatever the bytes: a step never consumes more
// than it was given, and an error always has a reason.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "drivers/ingress/response_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace ingress = kp::drivers::ingress;
  if (size == 0) {
    return 0;
  }
  const bool head_request = (data[0] & 0x80) != 0;
  const std::size_t piece = (data[0] & 0x7f) + 1u;  // 1..128 bytes a read
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  ingress::ParseLimits limits;
  limits.max_header_bytes = 2048;  // small, so the limits are reached too
  limits.max_line_bytes = 512;
  ingress::ResponseParser parser(limits);
  parser.reset(head_request);
  std::size_t pos = 0;
  bool failed = false;
  while (pos < bytes.size() && !failed) {
    std::string_view chunk = bytes.substr(pos, std::min(piece, bytes.size() - pos));
    ingress::ResponseParser::Step step = parser.feed(chunk);
    if (step.consumed > chunk.size()) {
      std::abort();
    }
    pos += step.consumed;
    switch (step.status) {
      case ingress::ParseStatus::complete:
        (void)parser.status_code();
        (void)parser.keep_alive();
        parser.reset(head_request);
        break;
      case ingress::ParseStatus::error:
        if (parser.error() == ingress::ParseError::none) {
          std::abort();
        }
        (void)ingress::describe(parser.error());
        failed = true;
        break;
      case ingress::ParseStatus::need_more:
        if (step.consumed != chunk.size()) {
          std::abort();  // need_more promises everything given was consumed
        }
        break;
    }
  }
  if (!failed) {
    (void)parser.finish();
  }
  return 0;
}
