#include "drivers/dns/cluster_mix.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json_read.hpp"
#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return text;
}

bool is_ipv4(const std::string& ip) {
  return !ip.empty() && ip.find(':') == std::string::npos;
}

std::string dashed(std::string ip) {
  std::replace(ip.begin(), ip.end(), '.', '-');
  return ip;
}

}  // namespace

ClusterNames read_cluster_names(const std::vector<json>& services, const std::vector<json>& pods) {
  // Items of the API's lists: one whose fields are of another type than the API's is passed over (never an
  // exception); the mix asks only for names it could read.
  ClusterNames names;
  for (const json& service : services) {
    const json& meta = json_member_or_null(service, "metadata");
    const json& spec = json_member_or_null(service, "spec");
    if (json_text_or(spec, "type", "ClusterIP") == "ExternalName") {
      continue;
    }
    ClusterService entry{json_text_or(meta, "name"), json_text_or(meta, "namespace"), {}};
    if (entry.name.empty() || entry.ns.empty()) {
      continue;
    }
    const json& ports = json_member_or_null(spec, "ports");
    for (const json& port : ports.is_array() ? ports : json::array()) {
      const std::string port_name = json_text_or(port, "name");
      if (!port_name.empty()) {
        entry.named_ports.emplace_back(port_name, lower(json_text_or(port, "protocol", "TCP")));
      }
    }
    names.services.push_back(std::move(entry));
  }
  for (const json& pod : pods) {
    const json& status = json_member_or_null(pod, "status");
    const std::string phase = json_text_or(status, "phase");
    const std::string ip = json_text_or(status, "podIP");
    const bool host_network = json_member_or_null(json_member_or_null(pod, "spec"), "hostNetwork") == true;
    if (host_network || !is_ipv4(ip) || phase == "Succeeded" || phase == "Failed") {
      continue;
    }
    names.pods.emplace_back(json_text_or(json_member_or_null(pod, "metadata"), "namespace"), ip);
  }
  return names;
}

ClusterMix cluster_mix(const ClusterNames& names, const std::string& domain,
                       const std::vector<std::string>& external_names, std::size_t count,
                       std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<ClusterService> services = names.services;
  if (services.empty()) {
    services.push_back({"kubernetes", "default", {{"https", "tcp"}}});
  }
  std::vector<const ClusterService*> with_ports;
  for (const ClusterService& service : services) {
    if (!service.named_ports.empty()) {
      with_ports.push_back(&service);
    }
  }
  auto pick = [&](std::size_t n) {
    return n <= 1 ? std::size_t{0} : std::uniform_int_distribution<std::size_t>(0, n - 1)(random);
  };
  auto service_a = [&] {
    const ClusterService& s = services[pick(services.size())];
    return QuerySpec{fmt::format("{}.{}", s.name, s.ns), type::a};
  };
  std::size_t counts[7] = {};  // per share, as run
  ClusterMix mix;
  mix.queries.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    switch (i % 10) {
      case 4:
        mix.queries.push_back({"kubernetes.default", type::a});
        ++counts[1];
        break;
      case 5: {
        const ClusterService& s = services[pick(services.size())];
        mix.queries.push_back({fmt::format("{}.{}", s.name, s.ns), type::aaaa});
        ++counts[2];
        break;
      }
      case 6:
        if (with_ports.empty()) {
          mix.queries.push_back(service_a());
          ++counts[0];
        } else {
          const ClusterService& s = *with_ports[pick(with_ports.size())];
          const auto& [port, protocol] = s.named_ports[pick(s.named_ports.size())];
          mix.queries.push_back(
              {fmt::format("_{}._{}.{}.{}.svc.{}", port, protocol, s.name, s.ns, domain), type::srv});
          ++counts[3];
        }
        break;
      case 7:
        if (names.pods.empty()) {
          mix.queries.push_back(service_a());
          ++counts[0];
        } else {
          const auto& [ns, ip] = names.pods[pick(names.pods.size())];
          mix.queries.push_back({fmt::format("{}.{}.pod.{}", dashed(ip), ns, domain), type::a});
          ++counts[4];
        }
        break;
      case 8:
        if (external_names.empty()) {
          mix.queries.push_back(service_a());
          ++counts[0];
        } else {
          mix.queries.push_back({external_names[pick(external_names.size())], type::a});
          ++counts[5];
        }
        break;
      case 9: {
        const ClusterService& s = services[pick(services.size())];
        mix.queries.push_back({fmt::format("kubeproof-absent-{}.{}", pick(1000), s.ns), type::a});
        ++counts[6];
        break;
      }
      default:
        mix.queries.push_back(service_a());
        ++counts[0];
        break;
    }
  }
  std::shuffle(mix.queries.begin(), mix.queries.end(), random);
  auto share = [&](std::size_t n) { return count == 0 ? 0.0 : 100.0 * double(n) / double(count); };
  mix.description = fmt::format(
      "the cluster's mix over {} Services and {} pods read from the API, {} lookups: Service A {:.0f} %, "
      "kubernetes.default {:.0f} %, Service AAAA {:.0f} %, Service SRV {:.0f} %, pod A {:.0f} %, external "
      "{:.0f} "
      "% ({}), deliberate NXDOMAIN {:.0f} %",
      names.services.size(), names.pods.size(), count, share(counts[0]), share(counts[1]), share(counts[2]),
      share(counts[3]), share(counts[4]), share(counts[5]),
      external_names.empty() ? std::string("none") : fmt::format("{}", fmt::join(external_names, ", ")),
      share(counts[6]));
  return mix;
}

}  // namespace kp::drivers::dns
