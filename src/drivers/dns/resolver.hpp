#pragma once

// The "pod resolver" mode: what glibc's stub resolver (res_nsearch, resolv/res_query.c) sends for one
// application lookup inside a Kubernetes pod, whose /etc/resolv.conf says
//   search <ns>.svc.cluster.local svc.cluster.local cluster.local
//   options ndots:5
// A name with a trailing dot is asked as is, alone. Otherwise, with at least `ndots` dots it is asked as is
// first and then with each search domain appended; with fewer dots (most names: "my-svc", "my-svc.other-ns",
// even "my-svc.ns.svc.cluster.local" has only 4) each search domain first and the name as is last. The walk
// moves on after NXDOMAIN, NODATA (NOERROR without answers) and SERVFAIL, and stops at the first answer or
// any other outcome. So an external name costs three NXDOMAINs before its answer: what an application really
// waits for.

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace kp::drivers::dns {

struct ResolverConfig {
  std::vector<std::string> search;  // without trailing dots
  int ndots = 5;
};

// A pod's resolver in namespace `ns` of a cluster with domain `domain`.
ResolverConfig pod_resolver(std::string_view ns = "default", std::string_view domain = "cluster.local");

// The names glibc would ask, in order (without trailing dots; the wire encoder takes every name as absolute).
std::vector<std::string> search_candidates(std::string_view name, const ResolverConfig& config);

// Whether the walk goes on to the next candidate after this outcome (glibc: HOST_NOT_FOUND, NO_DATA, and
// TRY_AGAIN from SERVFAIL keep searching).
bool walk_continues(int rcode, int answer_count);

}  // namespace kp::drivers::dns
