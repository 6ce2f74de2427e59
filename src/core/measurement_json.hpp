#pragma once

// A Measurement read back from the form agents print (to_json in measurement.hpp), e.g. from a pod's log.

#include <nlohmann/json_fwd.hpp>

#include "core/error.hpp"
#include "core/measurement.hpp"

namespace kp {

// ErrorKind::protocol naming what is missing or malformed.
Result<Measurement> measurement_from_json(const nlohmann::json& json);

}  // namespace kp
