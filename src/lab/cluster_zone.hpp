#pragma once

// The lab's DNS data: a zone shaped like a Kubernetes cluster's, as CoreDNS's kubernetes plugin would answer
// it (https://github.com/kubernetes/dns/blob/master/docs/specification.md): services
// `<svc>.<ns>.svc.cluster.local` (A), their named ports `_http._tcp.<svc>.<ns>.svc.cluster.local` (SRV),
// pods `<a-b-c-d>.<ns>.pod.cluster.local` (A), plus an "external" zone standing in for the internet.
// Records carry a 30 s TTL, so a caching server in front sees both hits (repeats within 30 s) and misses
// (first asks, and again after each expiry).
//
// The lab's authoritative server serves exactly these records, and the DNS phase's built-in Kubernetes
// query mix asks for them, so the two never drift apart.

#include <cstdint>
#include <string>
#include <vector>

namespace kp::lab {

struct ClusterShape {
  std::string domain = "cluster.local";
  // "default" and "kube-system", then ns-01, ns-02, ...
  int namespaces = 20;
  int services_per_namespace = 50;  // svc-00 .. svc-49 in each, plus kubernetes.default and kube-dns
  int pods_per_service = 2;
  // What a kubeadm cluster's CoreDNS serves from its cache: kubeadm's default Corefile sets `ttl 30` in the
  // kubernetes plugin (its own default is 5 s) and `cache 30`, which caps positive and negative answers at
  // 30 s. With 5 s the lab's cache expired six times as often as a cluster's, and a short run measured a
  // cache colder than any running cluster has.
  std::uint32_t ttl = 30;
  std::uint32_t negative_ttl = 30;  // SOA minimum: how long NXDOMAIN/NODATA may be cached
  // The names applications actually ask for (the built-in query mixes): in each namespace the apps call a
  // few of its services, and the cluster as a whole a few external APIs; the rest of the zone exists but is
  // rarely asked, as in a cluster whose traffic concentrates on its busy services. 20 namespaces x 4
  // services give ~500 distinct query names (A, AAAA, SRV, pods, search misses): at the smoke rate (1000/s)
  // a cold cache misses each once and then hits (~90 % hits after 6 s, ~99 % over minutes, as a warm
  // CoreDNS shows); each expiry after 30 s misses again.
  int asked_services_per_namespace = 4;
  int asked_external_names = 5;
  std::string external_zone = "example.com";
  int external_names = 100;  // www-000 .. www-099
  std::uint32_t external_ttl = 30;
};

struct ZoneRecord {
  std::string owner;  // absolute, with the trailing dot
  std::uint32_t ttl = 0;
  std::string type;  // "A", "SRV", "SOA"
  std::string data;  // as in a zone file: "10.96.0.1", "0 100 80 svc-00.default.svc.cluster.local."

  // "owner ttl IN type data", the form of a zone file line and of unbound's local-data.
  std::string text() const;
};

std::vector<std::string> namespace_names(const ClusterShape& shape);
std::string service_name(int index);                                       // "svc-07"
std::string service_fqdn(const ClusterShape& shape, int ns, int service);  // "svc-07.ns-03.svc.cluster.local"
std::string pod_fqdn(const ClusterShape& shape, int ns, int pod);  // "10-244-3-17.ns-03.pod.cluster.local"
std::string external_fqdn(const ClusterShape& shape, int index);   // "www-007.example.com"

// The zones the authoritative server holds: the cluster domain and the external zone.
std::vector<std::string> zone_names(const ClusterShape& shape);

// Every record: each zone's SOA first, then services (A, SRV), pods (A) and external names (A).
std::vector<ZoneRecord> cluster_zone_records(const ClusterShape& shape);

}  // namespace kp::lab
