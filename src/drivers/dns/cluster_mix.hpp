#pragma once

// The query mix of a cluster run, built from what the cluster really has (read from the API), so a real
// cluster answers the names applications ask instead of NXDOMAIN for the lab's. Application names, as code
// in a pod writes them, for the pod resolver mode: each one walks the agent pod's own search list (ndots:5),
// so the NXDOMAIN fan-out of short names is real. Shares of `count` lookups (stated in every run's notes):
//   40 % Service A      "<svc>.<ns>"                       (first search step NXDOMAIN, then the answer)
//   10 % kubernetes.default A                              (every cluster has it)
//   10 % Service AAAA   "<svc>.<ns>"                       (NODATA in an IPv4 cluster: the whole walk)
//   10 % Service SRV    "_<port>._<proto>.<svc>.<ns>.svc.<domain>" of a named port; none: Service A
//   10 % pod A          "<a-b-c-d>.<ns>.pod.<domain>"      of a running pod's IP; none: Service A
//   10 % external name  one of `external_names`            (the search walk, then the upstream's answer)
//   10 % NXDOMAIN       "kubeproof-absent-<k>.<ns>"        (deliberate: a whole walk of NXDOMAINs)
// Services: every one except type ExternalName; headless ones too (their A answers are the pods'). Without
// any Service, the kubernetes Service in "default" is assumed (the API server's own, on every cluster).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "drivers/dns/queries.hpp"

namespace kp::drivers::dns {

struct ClusterService {
  std::string name;
  std::string ns;
  std::vector<std::pair<std::string, std::string>> named_ports;  // {"https", "tcp"}
};

struct ClusterNames {
  std::vector<ClusterService> services;
  std::vector<std::pair<std::string, std::string>> pods;  // {namespace, IPv4}
};

// From the items of a Service list and a Pod list (any namespaces). Pods without an IPv4 podIP, host-network
// pods (their IP is the node's) and finished pods are left out.
ClusterNames read_cluster_names(const std::vector<nlohmann::json>& services,
                                const std::vector<nlohmann::json>& pods);

struct ClusterMix {
  std::vector<QuerySpec> queries;  // `count` lookups in a fixed shuffled order
  std::string description;         // the shares as run, for the notes
};

ClusterMix cluster_mix(const ClusterNames& names, const std::string& domain,
                       const std::vector<std::string>& external_names, std::size_t count = 200,
                       std::uint64_t seed = 1);

}  // namespace kp::drivers::dns
