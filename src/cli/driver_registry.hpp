#pragma once

// The one place that knows which driver runs which phase. Phases without an entry are reported SKIPPED ("no
// driver for this phase yet"); each driver's issue adds its line in driver_registry.cpp.

#include <map>

#include "core/phase.hpp"
#include "engine/driver.hpp"

namespace kp::cli {

std::map<Phase, engine::DriverFactory> driver_registry();

}  // namespace kp::cli
