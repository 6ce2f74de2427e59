// The net agent's control protocol as the server and the client read it from a peer: bytes split into lines
// by LineReader (fed in pieces, with a small line limit so it is reached), each line decoded; a decoded
// message must survive encode() and decode() again. The first bytes are also read as a data connection's
// header and a datagram's header.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "drivers/net/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace net = kp::drivers::net;
  if (size == 0) {
    return 0;
  }
  const std::size_t piece = data[0] % 64 + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)net::decode_data_header(bytes);
  (void)net::decode_udp_header(bytes);

  net::LineReader reader(4096);
  for (std::size_t pos = 0; pos < bytes.size(); pos += piece) {
    reader.append(bytes.substr(pos, std::min(piece, bytes.size() - pos)));
    while (true) {
      kp::Result<std::optional<std::string>> line = reader.next_line();
      if (!line) {
        return 0;  // over the limit: the connection is dropped
      }
      if (!*line) {
        break;
      }
      kp::Result<net::ControlMessage> message = net::decode(**line);
      if (message) {
        (void)net::type_name(*message);
        std::string again = net::encode(*message);
        if (again.empty() || again.back() != '\n' ||
            !net::decode(std::string_view(again).substr(0, again.size() - 1))) {
          std::abort();  // what we accepted, we must be able to say again
        }
      }
    }
  }
  return 0;
}
