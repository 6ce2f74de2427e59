// An agent pod's log as the runner reads it back: find_result_line() picks the last JSON line of the agent's
// kind, and the storage phase reads it with parse_agent_line() (the net phase's line has its own target,
// net_result). While the pod runs, each line is offered to read_live_line() (the agents' `kp-live` counts);
// a line it accepts must come back the same through live_line().
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "cluster/pod_status.hpp"
#include "core/live_lines.hpp"
#include "drivers/storage/agent_line.hpp"

namespace {

void read_live_lines(std::string_view log) {
  while (!log.empty()) {
    const std::size_t end = log.find('\n');
    const std::string_view text = log.substr(0, end);
    log = end == std::string_view::npos ? std::string_view() : log.substr(end + 1);
    std::optional<kp::LiveLine> line = kp::read_live_line(text);
    if (!line) {
      continue;
    }
    line->delta.series = line->series;
    std::optional<kp::LiveLine> again = kp::read_live_line(kp::live_line(line->delta));
    if (!again || again->series != line->series || again->delta.ok != line->delta.ok ||
        again->delta.errors != line->delta.errors || again->delta.bytes != line->delta.bytes ||
        again->delta.latency_sum_ns != line->delta.latency_sum_ns ||
        again->delta.buckets != line->delta.buckets) {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace storage = kp::drivers::storage;
  std::string_view log(reinterpret_cast<const char*>(data), size);
  std::optional<kp::cluster::json> line = kp::cluster::find_result_line(log, storage::kAgentLineKind);
  if (line) {
    (void)storage::parse_agent_line(*line);
  }
  (void)kp::cluster::last_log_line(log, 200);
  read_live_lines(log);
  return 0;
}
