#include "drivers/ingress/ingress_object.hpp"

#include <fmt/format.h>

namespace kp::drivers::ingress {
namespace {

using nlohmann::json;

const json& member(const json& object, const char* key) {
  static const json empty;
  return object.is_object() && object.contains(key) ? object[key] : empty;
}

std::string text(const json& object, const char* key) {
  const json& value = member(object, key);
  return value.is_string() ? value.get<std::string>() : std::string();
}

bool tls_for(const json& spec, const std::string& host) {
  const json& tls = member(spec, "tls");
  if (!tls.is_array()) {
    return false;
  }
  for (const json& entry : tls) {
    const json& hosts = member(entry, "hosts");
    if (host.empty() && (!hosts.is_array() || hosts.empty())) {
      return true;
    }
    if (hosts.is_array()) {
      for (const json& h : hosts) {
        if (h.is_string() && h.get<std::string>() == host) {
          return true;
        }
      }
    }
  }
  return false;
}

}  // namespace

kube::Resource ingresses_resource() {
  return kube::Resource{.group = "networking.k8s.io",
                        .version = "v1",
                        .name = "ingresses",
                        .kind = "Ingress",
                        .namespaced = true};
}

Result<IngressTarget> target_of_ingress(const json& ingress, const std::string& name) {
  const json& spec = member(ingress, "spec");
  const json& rules = member(spec, "rules");
  if (!rules.is_array() || rules.empty()) {
    return fail(ErrorKind::input,
                fmt::format("ingress {} has no rules (spec.rules): nothing to route a request by", name));
  }
  const json& rule = rules.front();
  const std::string host = text(rule, "host");
  if (host.find('*') != std::string::npos) {
    return fail(ErrorKind::input,
                fmt::format("ingress {}: its first rule's host \"{}\" is a wildcard: give `host:` in the "
                            "settings to say which name to ask for",
                            name, host));
  }
  std::string path = "/";
  const json& paths = member(member(rule, "http"), "paths");
  if (paths.is_array() && !paths.empty()) {
    const std::string first = text(paths.front(), "path");
    if (!first.empty() && first.front() == '/' &&
        text(paths.front(), "pathType") != "ImplementationSpecific") {
      path = first;
    }
  }
  const json& balancers = member(member(member(ingress, "status"), "loadBalancer"), "ingress");
  std::string address;
  if (balancers.is_array() && !balancers.empty()) {
    address = text(balancers.front(), "ip");
    if (address.empty()) {
      address = text(balancers.front(), "hostname");
    }
  }
  if (address.empty()) {
    return fail(
        ErrorKind::input,
        fmt::format("ingress {} has no address yet (status.loadBalancer.ingress is empty): no ingress "
                    "controller serves it (its class \"{}\")",
                    name, text(spec, "ingressClassName")));
  }
  const bool tls = tls_for(spec, host);
  const std::string authority = address.find(':') != std::string::npos ? "[" + address + "]" : address;
  IngressTarget target;
  target.url = fmt::format("{}://{}{}", tls ? "https" : "http", authority, path);
  target.host = host;
  target.described =
      fmt::format("ingress {}: {}{}, path {}{}", name, address,
                  host.empty() ? "" : fmt::format(", host {}", host), path, tls ? ", TLS" : "");
  return target;
}

Result<IngressTarget> read_ingress(kube::Api& api, const std::string& ns, const std::string& name,
                                   const std::string& who) {
  const std::string full = fmt::format("{}/{}", ns, name);
  kube::ApiResult<json> object = api.get(ingresses_resource(), ns, name);
  if (!object) {
    if (object.error().code == 404) {
      return fail(ErrorKind::input, fmt::format("ingress {} does not exist on {}", full, who));
    }
    Error error = with_context(object.error().error, fmt::format("ingress {}: ", full));
    if (object.error().code == 403 || object.error().code == 401) {
      error.kind = ErrorKind::input;
    }
    return std::unexpected(error);
  }
  return target_of_ingress(*object, full);
}

}  // namespace kp::drivers::ingress
