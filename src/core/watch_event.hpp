#pragma once

// Something a soak's watches saw while the load went on (docs/soak.md, "Watches"): an etcd leader election,
// a member that stopped answering, a node NotReady, a CoreDNS pod restarted, an API server restarted. Kept
// with its time so a report says when, beside the latency of that hour.

#include <string>

#include "core/clock.hpp"

namespace kp {

struct WatchEvent {
  WallTime at{};       // when the watch first saw it (it happened since the poll before)
  std::string source;  // the watch: "etcd", "nodes", "coredns", "apiserver"
  std::string kind;    // what, for machines: "election", "unreachable", "reachable", "not_ready", "ready",
                       // "restart", "replaced", "added", "removed", "list_failed", "list_ok"
  std::string text;    // what, for people: who, and the figures (terms, restart counts, reasons)
};

}  // namespace kp
