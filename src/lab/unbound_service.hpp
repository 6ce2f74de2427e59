#pragma once

// The lab's DNS: two unbound processes from the Debian package, as a cluster has CoreDNS in front of an
// authority.
//   unbound-zone  the authority: the cluster-shaped zone of lab/cluster_zone.hpp as local-data (and NXDOMAIN
//                 with an SOA for every other name, so negative answers are cacheable), 1 thread, no cache
//                 worth speaking of: it answers everything from local data.
//   unbound       the caching server the DNS phase queries: forwards every name to unbound-zone and caches
//   the
//                 answers for their (short) TTLs, so misses and hits both happen as in CoreDNS; 2 threads and
//                 so-reuseport like the anchor baselines; remote control on a loopback port without
//                 certificates, for `stats_noreset` (the phase's cache hit ratio).
// A single unbound cannot measure a hit ratio: it counts answers from its own local-data as cache hits.
//
// `unbound` reads the running unbound-zone's record from the same state dir to learn where to forward, so
// unbound-zone must be started first (service_specs() lists it first).

#include <memory>

#include "lab/services.hpp"

namespace kp::lab {

std::unique_ptr<ServiceSpec> make_unbound_zone_service();
std::unique_ptr<ServiceSpec> make_unbound_service();

// The service names, for callers that look them up (the DNS phase's lab endpoints).
inline constexpr std::string_view kUnboundZoneService = "unbound-zone";
inline constexpr std::string_view kUnboundService = "unbound";

}  // namespace kp::lab
