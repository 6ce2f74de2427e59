#pragma once

// TCP ports on 127.0.0.1 for the lab's services.

#include <cstdint>
#include <vector>

#include "core/error.hpp"

namespace kp::lab {

// `count` distinct ports that were free a moment ago (the kernel's choice for bind(0)). All are held open
// until every one is chosen, so they differ; a race with another program remains possible and shows as a
// start error.
Result<std::vector<std::uint16_t>> choose_free_ports(std::size_t count);

// True when a listener could bind 127.0.0.1:port now (with SO_REUSEADDR, as etcd and most servers use).
bool port_is_free(std::uint16_t port);

}  // namespace kp::lab
