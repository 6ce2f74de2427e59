#include "lab/cluster_zone.hpp"

#include <fmt/format.h>

namespace kp::lab {
namespace {

// Service ClusterIPs start above the well-known ones (10.96.0.1 kubernetes, 10.96.0.10 kube-dns).
constexpr int kFirstServiceHost = 20;

int pods_per_namespace(const ClusterShape& shape) {
  return shape.services_per_namespace * shape.pods_per_service;
}

}  // namespace

std::string ZoneRecord::text() const {
  return fmt::format("{} {} IN {} {}", owner, ttl, type, data);
}

std::vector<std::string> namespace_names(const ClusterShape& shape) {
  std::vector<std::string> names;
  for (int i = 0; i < shape.namespaces; ++i) {
    if (i == 0) {
      names.emplace_back("default");
    } else if (i == 1) {
      names.emplace_back("kube-system");
    } else {
      names.push_back(fmt::format("ns-{:02d}", i - 1));
    }
  }
  return names;
}

std::string service_name(int index) {
  return fmt::format("svc-{:02d}", index);
}

std::string service_fqdn(const ClusterShape& shape, int ns, int service) {
  return fmt::format("{}.{}.svc.{}", service_name(service), namespace_names(shape).at(ns), shape.domain);
}

std::string pod_fqdn(const ClusterShape& shape, int ns, int pod) {
  return fmt::format("10-244-{}-{}.{}.pod.{}", ns, pod + 1, namespace_names(shape).at(ns), shape.domain);
}

std::string external_fqdn(const ClusterShape& shape, int index) {
  return fmt::format("www-{:03d}.{}", index, shape.external_zone);
}

std::vector<std::string> zone_names(const ClusterShape& shape) {
  return {shape.domain, shape.external_zone};
}

std::vector<ZoneRecord> cluster_zone_records(const ClusterShape& shape) {
  std::vector<ZoneRecord> records;
  const std::string domain = shape.domain + ".";
  records.push_back(
      ZoneRecord{domain, shape.ttl, "SOA",
                 fmt::format("ns.dns.{0} hostmaster.{0} 1 7200 1800 86400 {1}", domain, shape.negative_ttl)});
  const std::string external = shape.external_zone + ".";
  records.push_back(
      ZoneRecord{external, shape.external_ttl, "SOA",
                 fmt::format("ns.{0} hostmaster.{0} 1 7200 1800 86400 {1}", external, shape.external_ttl)});

  const std::vector<std::string> namespaces = namespace_names(shape);
  auto service = [&](const std::string& fqdn, const std::string& ip, std::string_view port_name, int port) {
    records.push_back(ZoneRecord{fqdn + ".", shape.ttl, "A", ip});
    records.push_back(ZoneRecord{fmt::format("_{}._tcp.{}.", port_name, fqdn), shape.ttl, "SRV",
                                 fmt::format("0 100 {} {}.", port, fqdn)});
  };
  if (shape.namespaces >= 1) {
    service(fmt::format("kubernetes.default.svc.{}", shape.domain), "10.96.0.1", "https", 443);
  }
  if (shape.namespaces >= 2) {
    service(fmt::format("kube-dns.kube-system.svc.{}", shape.domain), "10.96.0.10", "dns", 53);
  }
  for (int ns = 0; ns < shape.namespaces; ++ns) {
    for (int s = 0; s < shape.services_per_namespace; ++s) {
      service(service_fqdn(shape, ns, s),
              fmt::format("10.{}.{}.{}", 96 + ns / 256, ns % 256, kFirstServiceHost + s), "http", 80);
    }
  }
  for (int ns = 0; ns < shape.namespaces; ++ns) {
    for (int p = 0; p < pods_per_namespace(shape); ++p) {
      records.push_back(
          ZoneRecord{pod_fqdn(shape, ns, p) + ".", shape.ttl, "A", fmt::format("10.244.{}.{}", ns, p + 1)});
    }
  }
  for (int i = 0; i < shape.external_names; ++i) {
    records.push_back(ZoneRecord{external_fqdn(shape, i) + ".", shape.external_ttl, "A",
                                 fmt::format("198.51.100.{}", i % 254 + 1)});
  }
  return records;
}

}  // namespace kp::lab
