#pragma once

// One DNS question over UDP, for the lab's health checks: is the server up and does it answer this name?
// Deliberately minimal (the lab cannot depend on the DNS phase's driver, which depends on the lab); the DNS
// phase's own wire code (drivers/dns/wire.hpp) is the complete, tested implementation.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::lab {

struct ProbeAnswer {
  int rcode = 0;
  int answers = 0;  // ANCOUNT
};

// Sends `name` (type A, class IN, RD set) to 127.0.0.1-style `host`:`port` and waits up to `timeout` for the
// response with the same ID. Errors: network (send failed, ICMP refused), timeout, protocol (malformed).
Result<ProbeAnswer> probe_dns(std::string_view host, std::uint16_t port, std::string_view name,
                              Duration timeout);

}  // namespace kp::lab
