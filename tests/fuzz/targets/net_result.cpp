// A net-client agent's result line (its stdout in the lab, the last line of its pod's log on a cluster):
// result_from_json_line, and what the phase does next with an accepted result (the summary, the line again).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "drivers/net/result.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace net = kp::drivers::net;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  kp::Result<net::ClientResult> result = net::result_from_json_line(line);
  if (result) {
    (void)net::summary(*result);
    (void)net::to_json_line(*result);
  }
  return 0;
}
