#include "lab/services.hpp"

#include "lab/kube_services.hpp"
#include "lab/nginx_service.hpp"
#include "lab/unbound_service.hpp"

#include <fmt/format.h>

#include "lab/http_get.hpp"

namespace kp::lab {
namespace {

constexpr std::string_view kLoopback = "127.0.0.1";

std::string member_name(int index) {
  return index == 0 ? std::string("etcd") : fmt::format("etcd-{}", index);
}

// One etcd member on loopback with the flags of the anchor baselines (anchor-baselines/lab.sh), so our
// numbers and the anchors' come from the same server configuration. Member 0 is the service "etcd" (a
// single-member etcd when it starts alone); members 1-4 start only beside it (`lab up --etcd-members`), each
// in its own folder with its own ports, as "etcd-1", "etcd-2", ...
class EtcdSpec final : public ServiceSpec {
 public:
  explicit EtcdSpec(int index) : index_(index), name_(member_name(index)) {}

  std::string_view name() const override { return name_; }
  std::string_view binary_name() const override { return "etcd"; }
  std::string_view debian_package() const override { return "etcd-server"; }
  std::vector<std::string> port_roles() const override { return {"client", "peer", "metrics"}; }
  std::string start_group() const override { return "etcd"; }
  bool listed() const override { return index_ == 0; }

  Result<std::vector<std::string>> command(const std::filesystem::path& binary,
                                           const std::filesystem::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    return command_in_lab(binary, dir, ports, LabPorts{{name_, ports}});
  }

  Result<std::vector<std::string>> command_in_lab(const std::filesystem::path& binary,
                                                  const std::filesystem::path& dir,
                                                  const std::map<std::string, std::uint16_t>& ports,
                                                  const LabPorts& lab) const override {
    if (!lab.contains(member_name(0)) || !lab.contains(name_)) {
      // An extra member alone would form a cluster of its own that no client is told about.
      return fail(ErrorKind::internal, fmt::format("lab: {} starts only together with etcd", name_));
    }
    std::string client = fmt::format("http://{}:{}", kLoopback, ports.at("client"));
    std::string peer = fmt::format("http://{}:{}", kLoopback, ports.at("peer"));
    std::string metrics = fmt::format("http://{}:{}", kLoopback, ports.at("metrics"));
    std::string cluster;
    for (int index = 0; index < kMaxEtcdMembers; ++index) {
      auto member = lab.find(member_name(index));
      if (member == lab.end()) {
        continue;
      }
      cluster += fmt::format("{}lab{}=http://{}:{}", cluster.empty() ? "" : ",", index, kLoopback,
                             member->second.at("peer"));
    }
    return std::vector<std::string>{
        binary.string(),
        "--name",
        fmt::format("lab{}", index_),
        "--data-dir",
        (dir / "data").string(),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        cluster,
        "--initial-cluster-state",
        "new",
        "--listen-metrics-urls",
        metrics,
        "--metrics",
        "extensive",
        "--quota-backend-bytes",
        "4294967296",
        "--logger",
        "zap",
        "--log-outputs",
        log_file(dir).string(),
    };
  }

  // Member 0 records the whole cluster, so the etcd driver finds every member through the one service it
  // knows: "cluster_clients" -> "127.0.0.1:A,127.0.0.1:B,...", "cluster_metrics" -> their /metrics URLs.
  std::map<std::string, std::string> lab_endpoints(const LabPorts& lab) const override {
    if (index_ != 0) {
      return {};
    }
    std::string clients;
    std::string metrics;
    for (int index = 0; index < kMaxEtcdMembers; ++index) {
      auto member = lab.find(member_name(index));
      if (member == lab.end()) {
        continue;
      }
      std::map<std::string, std::string> each = endpoints(member->second);
      clients += (clients.empty() ? "" : ",") + each.at("client");
      metrics += (metrics.empty() ? "" : ",") + each.at("metrics");
    }
    return {{"cluster_clients", clients}, {"cluster_metrics", metrics}};
  }

  std::filesystem::path log_file(const std::filesystem::path& dir) const override { return dir / "etcd.log"; }

  std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const override {
    return {
        {"client", fmt::format("{}:{}", kLoopback, ports.at("client"))},
        {"metrics", fmt::format("http://{}:{}/metrics", kLoopback, ports.at("metrics"))},
        {"health", fmt::format("http://{}:{}/health", kLoopback, ports.at("metrics"))},
    };
  }

  // etcd's /health is true once the member has a leader and can serve a linearizable read.
  Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                            Duration timeout) const override {
    const std::string& url = endpoints.at("health");
    Result<http::Response> response = http::get(url, timeout);
    if (!response) {
      return std::unexpected(response.error());
    }
    if (response->status != 200 || response->body.find("\"health\":\"true\"") == std::string::npos) {
      return fail(ErrorKind::unavailable,
                  fmt::format("GET {}: HTTP {} {}", url, response->status, response->body.substr(0, 200)));
    }
    return {};
  }

 private:
  int index_;
  std::string name_;
};

}  // namespace

std::vector<std::string> etcd_member_names(int members) {
  std::vector<std::string> names;
  for (int index = 0; index < members && index < kMaxEtcdMembers; ++index) {
    names.push_back(member_name(index));
  }
  return names;
}

const std::vector<std::unique_ptr<ServiceSpec>>& service_specs() {
  static const std::vector<std::unique_ptr<ServiceSpec>> specs = [] {
    std::vector<std::unique_ptr<ServiceSpec>> list;
    // Members in order, so `down` (in reverse) stops the extra members before the first.
    for (int index = 0; index < kMaxEtcdMembers; ++index) {
      list.push_back(std::make_unique<EtcdSpec>(index));
    }
    // The cache forwards to the zone's authority, so the authority starts first.
    list.push_back(make_unbound_zone_service());
    list.push_back(make_unbound_service());
    list.push_back(make_nginx_service_spec());
    // The control plane after etcd, whose client URL kube-apiserver is started with; kwok after the
    // scheduler so the fake node is schedulable as soon as the lab is up.
    list.push_back(make_kube_apiserver_spec());
    list.push_back(make_kube_controller_manager_spec());
    list.push_back(make_kube_scheduler_spec());
    list.push_back(make_kwok_spec());
    return list;
  }();
  return specs;
}

const ServiceSpec* find_service_spec(std::string_view name) {
  for (const auto& spec : service_specs()) {
    if (spec->name() == name) {
      return spec.get();
    }
  }
  return nullptr;
}

}  // namespace kp::lab
