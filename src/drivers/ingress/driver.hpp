#pragma once

// The ingress phase as an engine::Driver. Load: an open-loop request run at capacity.ingress_rps x load
// (keep- alive connections), then a connection-rate run at capacity.ingress_connection_rate x load (a new
// connection, and TLS handshake, per request) for `connection_share` of the phase duration. Target: the
// settings' url, or for
// `--target local` the lab's nginx (absent -> the phase is SKIPPED with the reason).
// Measurements: ingress.rps, ingress.p99 (histogram: P50/P90/P99.9), ingress.error_rate_5xx,
// ingress.connection_rate. The run is INVALID when a schedule fell behind (>1 % late sends), sent < 99 % of
// the intended requests, or > 1 % of requests got no response.

#include <filesystem>
#include <memory>

#include "engine/driver.hpp"

namespace kp::drivers::ingress {

// `lab_dir` is where `--target local` finds the lab (lab::default_state_dir() unless the CLI says otherwise).
engine::DriverFactory driver_factory(std::filesystem::path lab_dir);

std::unique_ptr<engine::Driver> make_driver(const config::Plan& plan, std::filesystem::path lab_dir);

}  // namespace kp::drivers::ingress
