#include "lab/services.hpp"

#include "lab/kube_services.hpp"
#include "lab/nginx_service.hpp"
#include "lab/unbound_service.hpp"

#include <fmt/format.h>

#include "lab/http_get.hpp"

namespace kp::lab {
namespace {

constexpr std::string_view kLoopback = "127.0.0.1";

// A single-member etcd on loopback with the flags of the anchor baselines (anchor-baselines/lab.sh), so our
// numbers and the anchors' come from the same server configuration.
class EtcdSpec final : public ServiceSpec {
 public:
  std::string_view name() const override { return "etcd"; }
  std::string_view binary_name() const override { return "etcd"; }
  std::string_view debian_package() const override { return "etcd-server"; }
  std::vector<std::string> port_roles() const override { return {"client", "peer", "metrics"}; }

  Result<std::vector<std::string>> command(const std::filesystem::path& binary,
                                           const std::filesystem::path& dir,
                                           const std::map<std::string, std::uint16_t>& ports) const override {
    std::string client = fmt::format("http://{}:{}", kLoopback, ports.at("client"));
    std::string peer = fmt::format("http://{}:{}", kLoopback, ports.at("peer"));
    std::string metrics = fmt::format("http://{}:{}", kLoopback, ports.at("metrics"));
    return std::vector<std::string>{
        binary.string(),
        "--name",
        "lab0",
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
        "lab0=" + peer,
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
};

}  // namespace

const std::vector<std::unique_ptr<ServiceSpec>>& service_specs() {
  static const std::vector<std::unique_ptr<ServiceSpec>> specs = [] {
    std::vector<std::unique_ptr<ServiceSpec>> list;
    list.push_back(std::make_unique<EtcdSpec>());
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
