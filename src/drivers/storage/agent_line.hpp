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
};
// ErrorKind::protocol naming the field when the line is not the agent's.
Result<AgentResult> parse_agent_line(const nlohmann::json& line);

}  // namespace kp::drivers::storage
