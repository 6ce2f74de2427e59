#pragma once

// What the DNS phase asks: dnsperf's query-file format, so users can reuse their files, or the built-in
// Kubernetes mix.
//
// Query file (dnsperf -d): one query per line, `name TYPE` separated by blanks ("www.example.com A",
// "_https._tcp.kubernetes.default.svc.cluster.local SRV"); blank lines and lines starting with ';' (dnsperf's
// comments) or '#' are skipped. Anything else is an error naming the file and line:
//   queries.txt:3: expected "name TYPE", got "www.example.com"
//   queries.txt:7: unknown query type "AX" (A, AAAA, SRV, PTR, TXT, ... or TYPE<n>)

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "lab/cluster_zone.hpp"

namespace kp::drivers::dns {

struct QuerySpec {
  std::string name;
  std::uint16_t type = 1;
  friend bool operator==(const QuerySpec&, const QuerySpec&) = default;
};

// Stands for the cluster's DNS domain in a query name ("_http._tcp.web.shop.svc.{cluster_domain}"): the pod
// runner builds its mix with it, and each agent puts in the domain its pod really has (with_cluster_domain),
// which the runner cannot know from outside the cluster. Braces are not in any DNS name a query file holds.
inline constexpr std::string_view kClusterDomainToken = "{cluster_domain}";
// `line` with every kClusterDomainToken replaced by `domain`.
std::string with_cluster_domain(std::string_view line, std::string_view domain);

// `source` names the text in errors ("queries.txt").
Result<std::vector<QuerySpec>> parse_query_file(std::string_view text, std::string_view source);
// Reads and parses a file; an unreadable file is "queries.txt: cannot read: No such file or directory".
Result<std::vector<QuerySpec>> read_query_file(const std::filesystem::path& file);

// The built-in mix, as fully qualified names (what CoreDNS receives), in a fixed shuffled order (`seed`):
//   40 % service A      svc-NN.<ns>.svc.cluster.local
//   10 % kubernetes.default.svc.cluster.local A
//   10 % service AAAA   (NODATA in an IPv4 cluster: glibc asks A and AAAA for every getaddrinfo)
//   10 % service SRV    _http._tcp.svc-NN.<ns>.svc.cluster.local
//   10 % pod A          a-b-c-d.<ns>.pod.cluster.local
//   10 % external A     www-NNN.example.com
//   10 % search miss    www-NNN.example.com.<ns>.svc.cluster.local A (NXDOMAIN: the first step of an ndots:5
//                       walk for an external name)
// `count` entries over the names of the lab's zone that applications ask for (ClusterShape's asked_*: a few
// services per namespace, their pods, a few external names), so in the lab every positive name exists and a
// cache sees the repeats a cluster's does. On a
// real cluster only kubernetes.default exists; the other cluster names get NXDOMAIN from CoreDNS's kubernetes
// plugin, which still exercises its cache (denials are cached too).
std::vector<QuerySpec> kubernetes_mix(const lab::ClusterShape& shape, std::size_t count = 10000,
                                      std::uint64_t seed = 1);

// The application names behind a pod's lookups, for the pod resolver mode (resolver.hpp expands them):
// short service names in the pod's own namespace ("svc-07"), "svc-07.ns-03", "kubernetes.default",
// fully qualified ones without the trailing dot, and external names ("www-007.example.com").
std::vector<QuerySpec> kubernetes_application_mix(const lab::ClusterShape& shape, std::size_t count = 10000,
                                                  std::uint64_t seed = 1);

}  // namespace kp::drivers::dns
