#pragma once

// A storage agent's JSON line (agent.hpp writes it, the last "kubeproof.agent.storage" line of its pod's log)
// read back by the phase. Its own file, apart from the cluster plan, so the fuzz target reads it with nothing
// else (tests/fuzz/targets/agent_log.cpp).

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/measurement.hpp"
#include "drivers/storage/fio_series.hpp"

namespace kp::drivers::storage {

inline constexpr std::string_view kAgentLineKind = "kubeproof.agent.storage";

// One agent's JSON line, read back.
struct AgentResult {
  std::string fio_version;
  std::vector<Measurement> measurements;
  std::vector<std::string> warnings;
  std::vector<std::string> invalid_reasons;
  std::vector<std::string> notes;
  nlohmann::json comparison = nlohmann::json::array();
  bool cancelled = false;
  // fio's per-second series on the agent's volume (and baseline), absent from agents before they carried
  // them; each placed by the wall-clock time its last second ended.
  std::vector<RecordedSeries> series;
};

// The most seconds of series one line carries, over all its series: about 50 bytes each, so a line stays
// well under a megabyte. A load run's six jobs of 10 minutes each fit.
inline constexpr std::size_t kMaxLineSeriesSeconds = 4000;

struct LineSeries {
  nlohmann::json json = nlohmann::json::array();
  std::size_t left_out = 0;  // seconds past kMaxLineSeriesSeconds (the last series' ends), not carried
};
// The line's "series": per series its name, offered rate, the Unix time in ms its last second ended, and per
// second [I/Os per second, bits per second, P50 ns, P99 ns] (a percentile null when the second had none).
LineSeries line_series(const std::vector<RecordedSeries>& series,
                       std::size_t max_seconds = kMaxLineSeriesSeconds);
// ErrorKind::protocol naming the field when the line is not the agent's.
Result<AgentResult> parse_agent_line(const nlohmann::json& line);

}  // namespace kp::drivers::storage
