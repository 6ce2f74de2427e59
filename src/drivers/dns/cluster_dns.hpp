#pragma once

// The cluster's DNS server as the API shows it, and its cache counters (--target cluster).
//
// The Service kube-system/kube-dns (its conventional name on kubeadm, kind, k3s and the managed clusters,
// whatever server is behind it) and the pods labelled k8s-app=kube-dns behind it. The cache hit ratio comes
// only from CoreDNS's own counters (server_stats.hpp), scraped from each CoreDNS pod's :9153/metrics through
// the API server's pod proxy (GET /api/v1/namespaces/kube-system/pods/<name>:9153/proxy/metrics), before and
// after the run, summed over the pods. Where that cannot be the truth, the row is NOT MEASURED with the
// reason (cache_unmeasured), never guessed:
//   - no pod labelled k8s-app=kube-dns, or none of them runs a CoreDNS image (GKE's kube-dns, another
//   server);
//   - NodeLocal DNSCache (pods labelled k8s-app=node-local-dns) answers pods on their node first, so
//   CoreDNS's
//     counters miss the hits it serves;
//   - the agents' resolv.conf names another nameserver than the kube-dns Service;
//   - the user may not get pods/proxy in kube-system (the scrape's 403 says so).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "drivers/dns/server_stats.hpp"
#include "kube/access_review.hpp"
#include "kube/api.hpp"

namespace kp::drivers::dns {

inline constexpr std::string_view kDnsNamespace = "kube-system";
inline constexpr std::string_view kDnsService = "kube-dns";

struct CorednsPod {
  std::string name;
  int metrics_port = 9153;  // the container port named "metrics", else CoreDNS's default
};

struct ClusterDnsInfo {
  std::string service_ip;           // ClusterIP of kube-system/kube-dns; "" when there is no such Service
  std::vector<CorednsPod> coredns;  // running pods labelled k8s-app=kube-dns with a CoreDNS image
  std::vector<std::string> other_servers;  // "kube-system/kube-dns-abc (image registry/kube-dns:1.2)"
  std::vector<std::string> node_local;     // NodeLocal DNSCache pods
};

// From the kube-dns Service (null when absent) and the items of the two pod lists. Pure.
ClusterDnsInfo read_cluster_dns(const nlohmann::json& service, const std::vector<nlohmann::json>& dns_pods,
                                const std::vector<nlohmann::json>& node_local_pods);

// Why the cache hit ratio cannot be measured from CoreDNS's counters; nullopt when it can. `agent_server` is
// the nameserver the agents' resolv.conf names ("" when not known yet).
std::optional<std::string> cache_unmeasured(const ClusterDnsInfo& info, const std::string& agent_server);

// Lists and reads through `api`. Errors only when the API cannot answer at all; a 403 on a list is a reason
// in the info (other_servers stays empty and the reason is returned by cache_unmeasured as "cannot list").
Result<ClusterDnsInfo> discover_cluster_dns(kube::Api& api);

// The counters of every CoreDNS pod through the pod proxy, summed. A 403 is ErrorKind::input naming the
// permission (get pods/proxy in kube-system).
std::unique_ptr<CacheStatsSource> pod_proxy_coredns_source(kube::Api& api, std::vector<CorednsPod> pods,
                                                           Duration timeout);

// What the DNS phase on a cluster asks the preflight for, beside the pod runner's: list services and pods in
// every namespace (the mix), get services in kube-system (the kube-dns Service).
std::vector<kube::Permission> dns_cluster_permissions();
// Optional (its absence makes the cache row NOT MEASURED, not the run fail): get pods/proxy in kube-system.
kube::Permission coredns_metrics_permission();

}  // namespace kp::drivers::dns
