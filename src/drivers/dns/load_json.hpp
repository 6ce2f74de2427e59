#pragma once

// A LoadResult as JSON and back, losslessly: every count, every histogram (core/histogram.hpp's form) and the
// times in nanoseconds. The agent prints it in its result line ("load"), so the pod runner can merge many
// agents' runs exactly (LoadResult::merge: counts add up, histograms merge bucket by bucket) and judge the
// merged run with the same build_run as one process's.

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "drivers/dns/load_engine.hpp"

namespace kp::drivers::dns {

nlohmann::json load_to_json(const LoadResult& load);
// ErrorKind::protocol naming the field when something is missing or of the wrong type.
Result<LoadResult> load_from_json(const nlohmann::json& json);

}  // namespace kp::drivers::dns
