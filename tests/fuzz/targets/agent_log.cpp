// An agent pod's log as the runner reads it back: find_result_line() picks the last JSON line of the agent's
// kind, and the storage phase reads it with parse_agent_line() (the net phase's line has its own target,
// net_result).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "cluster/pod_status.hpp"
#include "drivers/storage/agent_line.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace storage = kp::drivers::storage;
  std::string_view log(reinterpret_cast<const char*>(data), size);
  std::optional<kp::cluster::json> line = kp::cluster::find_result_line(log, storage::kAgentLineKind);
  if (line) {
    (void)storage::parse_agent_line(*line);
  }
  (void)kp::cluster::last_log_line(log, 200);
  return 0;
}
