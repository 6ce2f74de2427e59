#include "drivers/dns/cluster_dns.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json_read.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

constexpr std::string_view kDnsLabel = "k8s-app=kube-dns";
constexpr std::string_view kNodeLocalLabel = "k8s-app=node-local-dns";

// A CoreDNS image is named after it, whoever mirrors it: registry.k8s.io/coredns/coredns:v1.11.1,
// rancher/mirrored-coredns-coredns:1.10.1, mcr.microsoft.com/oss/kubernetes/coredns:v1.9.4.
bool coredns_image(const std::string& image) {
  const std::string path = image.substr(0, image.find('@'));
  const std::size_t slash = path.rfind('/');
  const std::string last = path.substr(slash == std::string::npos ? 0 : slash + 1);
  return last.find("coredns") != std::string::npos;
}

std::string pod_ref(const json& pod) {
  const json& meta = json_member_or_null(pod, "metadata");
  return fmt::format("{}/{}", json_text_or(meta, "namespace", std::string(kDnsNamespace)),
                     json_text_or(meta, "name"));
}

kube::Resource services() {
  return *kube::builtin_resource("v1", "Service");
}

class PodProxySource final : public CacheStatsSource {
 public:
  PodProxySource(kube::Api& api, std::vector<CorednsPod> pods, Duration timeout)
      : api_(api), pods_(std::move(pods)), timeout_(timeout) {}

  Result<CacheCounters> read() override {
    CacheCounters total;
    total.present = false;
    for (const CorednsPod& pod : pods_) {
      const std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}:{}/proxy/metrics", kDnsNamespace,
                                           pod.name, pod.metrics_port);
      kube::ApiResult<std::string> page = api_.get_text(path, timeout_);
      if (!page) {
        if (page.error().code == 403) {
          return fail(ErrorKind::input,
                      fmt::format("no permission to get pods/proxy in {} (CoreDNS's :{}/metrics through the "
                                  "API server): {}",
                                  kDnsNamespace, pod.metrics_port, page.error().error.message));
        }
        return fail(page.error().error.kind, fmt::format("GET {}: {}", path, page.error().error.message));
      }
      Result<CacheCounters> counters = coredns_cache_counters(*page);
      if (!counters) {
        return std::unexpected(with_context(counters.error(), fmt::format("GET {}: ", path)));
      }
      total.hits += counters->hits;
      total.misses += counters->misses;
      total.present = total.present || counters->present;
      for (const auto& [type, count] : counters->requests_by_type) {
        total.requests_by_type[type] += count;
      }
    }
    return total;
  }

  std::string describe() const override {
    std::vector<std::string> names;
    for (const CorednsPod& pod : pods_) {
      names.push_back(pod.name);
    }
    return fmt::format("CoreDNS pods {} in {} (:{}/metrics through the API server's pod proxy)",
                       fmt::join(names, ", "), kDnsNamespace,
                       pods_.empty() ? 9153 : pods_.front().metrics_port);
  }

 private:
  kube::Api& api_;
  std::vector<CorednsPod> pods_;
  Duration timeout_;
};

}  // namespace

ClusterDnsInfo read_cluster_dns(const json& service, const std::vector<json>& dns_pods,
                                const std::vector<json>& node_local_pods) {
  ClusterDnsInfo info;
  // Objects from the API: a field of another type than the API's reads as absent (never an exception).
  if (service.is_object()) {
    const std::string ip = json_text_or(json_member_or_null(service, "spec"), "clusterIP");
    info.service_ip = ip == "None" ? "" : ip;
  }
  for (const json& pod : dns_pods) {
    if (json_text_or(json_member_or_null(pod, "status"), "phase") != "Running") {
      continue;
    }
    const json& containers = json_member_or_null(json_member_or_null(pod, "spec"), "containers");
    std::optional<CorednsPod> coredns;
    std::string images;
    for (const json& container : containers.is_array() ? containers : json::array()) {
      const std::string image = json_text_or(container, "image");
      images += (images.empty() ? "" : ", ") + image;
      if (coredns_image(image)) {
        CorednsPod found{json_text_or(json_member_or_null(pod, "metadata"), "name"), 9153};
        const json& ports = json_member_or_null(container, "ports");
        for (const json& port : ports.is_array() ? ports : json::array()) {
          const json& number = json_member_or_null(port, "containerPort");
          if (json_text_or(port, "name") == "metrics" && number.is_number_integer()) {
            found.metrics_port = number.get<int>();
          }
        }
        coredns = found;
      }
    }
    if (coredns) {
      info.coredns.push_back(*coredns);
    } else {
      info.other_servers.push_back(fmt::format("{} (image {})", pod_ref(pod), images.empty() ? "?" : images));
    }
  }
  for (const json& pod : node_local_pods) {
    info.node_local.push_back(pod_ref(pod));
  }
  return info;
}

std::optional<std::string> cache_unmeasured(const ClusterDnsInfo& info, const std::string& agent_server) {
  if (!info.node_local.empty()) {
    return fmt::format(
        "NodeLocal DNSCache ({}) answers pods on their node first, so CoreDNS's cache counters "
        "miss the hits it serves",
        fmt::join(info.node_local, ", "));
  }
  if (info.coredns.empty()) {
    if (!info.other_servers.empty()) {
      return fmt::format(
          "the cluster DNS pods are not CoreDNS ({}): no cache counters of its own that "
          "kubeproof can read (coredns_cache_hits_total)",
          fmt::join(info.other_servers, "; "));
    }
    return fmt::format("no running pod labelled {} in {}: no CoreDNS whose cache counters could be read",
                       kDnsLabel, kDnsNamespace);
  }
  if (!agent_server.empty() && !info.service_ip.empty()) {
    std::string host = agent_server;  // "10.96.0.10:53" or "[fd00::10]:53", as the agent prints it
    if (host.starts_with('[')) {
      host = host.substr(1, host.find(']') - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
      host = host.substr(0, host.find(':'));
    }
    if (host != info.service_ip) {
      return fmt::format(
          "the agent pods ask {} (their resolv.conf), not the {}/{} Service {}: CoreDNS's "
          "counters would not be theirs",
          host, kDnsNamespace, kDnsService, info.service_ip);
    }
  }
  return std::nullopt;
}

Result<ClusterDnsInfo> discover_cluster_dns(kube::Api& api) {
  json service;
  if (kube::ApiResult<json> got = api.get(services(), kDnsNamespace, kDnsService); got) {
    service = *got;
  } else if (got.error().code == 0) {
    return fail(ErrorKind::network,
                fmt::format("get service {}/{}: {}", kDnsNamespace, kDnsService, got.error().error.message));
  }
  std::vector<json> lists[2];
  for (int i = 0; i < 2; ++i) {
    kube::ListOptions options;
    options.label_selector = std::string(i == 0 ? kDnsLabel : kNodeLocalLabel);
    kube::ApiResult<kube::ListResult> listed = api.list(kube::pods_resource(), kDnsNamespace, options);
    if (!listed) {
      return fail(listed.error().code == 403 ? ErrorKind::input : ErrorKind::network,
                  fmt::format("list pods -l {} in {}: {}", options.label_selector, kDnsNamespace,
                              listed.error().error.message));
    }
    lists[i] = std::move(listed->items);
  }
  return read_cluster_dns(service, lists[0], lists[1]);
}

std::unique_ptr<CacheStatsSource> pod_proxy_coredns_source(kube::Api& api, std::vector<CorednsPod> pods,
                                                           Duration timeout) {
  return std::make_unique<PodProxySource>(api, std::move(pods), timeout);
}

std::vector<kube::Permission> dns_cluster_permissions() {
  const std::string why = "the dns phase's query mix and its cluster DNS";
  return {{"list", "", "services", "", why}, {"list", "", "pods", "", why}, {"get", "", "services", "", why}};
}

kube::Permission coredns_metrics_permission() {
  return {"get", "", "pods/proxy", std::string(kDnsNamespace),
          "the dns phase's cache hit ratio (CoreDNS :9153/metrics through the API server's pod proxy)"};
}

}  // namespace kp::drivers::dns
