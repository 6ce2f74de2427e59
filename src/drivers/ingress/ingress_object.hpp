#pragma once

// `ingress: [namespace/]name`: the URL and Host header to load, read from an Ingress (networking.k8s.io/v1)
// as the API documents it: the address is status.loadBalancer.ingress[0] (ip, else hostname), which the
// ingress controller writes once it serves the Ingress; the host and path are the first rule's (a rule
// without host matches every host: no Host header then); the scheme is https when spec.tls lists the host
// (or, for a rule without host, when spec.tls has an entry without hosts).
//
// Errors: the Ingress does not exist (ErrorKind::input naming it and the context, as an unknown
// StorageClass is: the plan names something the cluster does not have), it has no address yet (no
// controller serves its class: ErrorKind::input with that reason), or no rule (ErrorKind::input).

#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "kube/api.hpp"

namespace kp::drivers::ingress {

struct IngressTarget {
  std::string url;        // "https://203.0.113.7/cart"
  std::string host;       // the rule's host ("" = none: the URL's authority)
  std::string described;  // "ingress shop/storefront: 203.0.113.7, host shop.example.com, path /cart"
};

kube::Resource ingresses_resource();

// From the object (`name` is "namespace/name", for messages).
Result<IngressTarget> target_of_ingress(const nlohmann::json& ingress, const std::string& name);

// GET the Ingress and read it. `who` names the context for messages ("context \"prod\" (https://...)").
Result<IngressTarget> read_ingress(kube::Api& api, const std::string& ns, const std::string& name,
                                   const std::string& who);

}  // namespace kp::drivers::ingress
