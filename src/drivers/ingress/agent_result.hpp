#pragma once

// The other end of `kubeproof agent http`'s JSON line (http_command.hpp: agent_json_line): a LoadResult read
// back from an agent pod's line, lossless for what the phase judges (counts, the open-loop account, every
// histogram), so the results of many agents merge exactly (LoadResult::merge) as if one generator had sent
// them all. The per-second series is not in the line: a phase run from pods has no time series.

#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "drivers/ingress/load.hpp"

namespace kp::drivers::ingress {

inline constexpr std::string_view kHttpAgentKind = "kubeproof.agent.http";

// ErrorKind::protocol naming the field when the line is not an http agent's result. An agent's failure line
// ({"error": ...} without counts) is ErrorKind::network with the agent's message.
Result<LoadResult> load_result_from_line(const nlohmann::json& line);

}  // namespace kp::drivers::ingress
