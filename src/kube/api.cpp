#include "kube/api.hpp"

#include <array>

#include <fmt/format.h>

namespace kp::kube {
namespace {

struct Builtin {
  std::string_view group;
  std::string_view version;
  std::string_view name;
  std::string_view kind;
  bool namespaced;
};

constexpr std::array kBuiltins = {
    Builtin{"", "v1", "namespaces", "Namespace", false},
    Builtin{"", "v1", "pods", "Pod", true},
    Builtin{"", "v1", "configmaps", "ConfigMap", true},
    Builtin{"", "v1", "secrets", "Secret", true},
    Builtin{"", "v1", "services", "Service", true},
    Builtin{"", "v1", "serviceaccounts", "ServiceAccount", true},
    Builtin{"", "v1", "endpoints", "Endpoints", true},
    Builtin{"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true},
    Builtin{"", "v1", "replicationcontrollers", "ReplicationController", true},
    Builtin{"", "v1", "nodes", "Node", false},
    Builtin{"apps", "v1", "deployments", "Deployment", true},
    Builtin{"apps", "v1", "replicasets", "ReplicaSet", true},
    Builtin{"apps", "v1", "statefulsets", "StatefulSet", true},
    Builtin{"apps", "v1", "daemonsets", "DaemonSet", true},
    Builtin{"batch", "v1", "jobs", "Job", true},
    Builtin{"batch", "v1", "cronjobs", "CronJob", true},
    Builtin{"rbac.authorization.k8s.io", "v1", "roles", "Role", true},
    Builtin{"rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true},
    Builtin{"networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true},
    Builtin{"networking.k8s.io", "v1", "ingresses", "Ingress", true},
    Builtin{"coordination.k8s.io", "v1", "leases", "Lease", true},
    Builtin{"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true},
};

Resource to_resource(const Builtin& builtin) {
  return Resource{std::string(builtin.group), std::string(builtin.version), std::string(builtin.name),
                  std::string(builtin.kind), builtin.namespaced};
}

std::string_view reason_for(long code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

ErrorKind kind_for(long code) {
  if (code == 401 || code == 403) {
    return ErrorKind::input;  // the user's credentials or RBAC: something they must fix
  }
  if (code == 504 || code == 408) {
    return ErrorKind::timeout;
  }
  if (code >= 500 || code == 429) {
    return ErrorKind::unavailable;
  }
  return ErrorKind::protocol;
}

}  // namespace

std::optional<Resource> builtin_resource(std::string_view api_version, std::string_view kind) {
  for (const Builtin& builtin : kBuiltins) {
    std::string expected = builtin.group.empty() ? std::string(builtin.version)
                                                 : fmt::format("{}/{}", builtin.group, builtin.version);
    if (builtin.kind == kind && expected == api_version) {
      return to_resource(builtin);
    }
  }
  return std::nullopt;
}

Resource namespaces_resource() {
  return to_resource(kBuiltins[0]);
}
Resource pods_resource() {
  return to_resource(kBuiltins[1]);
}

std::string resource_path(const Resource& resource, std::string_view ns, std::string_view name) {
  std::string path = resource.group.empty() ? fmt::format("/api/{}", resource.version)
                                            : fmt::format("/apis/{}/{}", resource.group, resource.version);
  if (resource.namespaced && !ns.empty()) {
    path += fmt::format("/namespaces/{}", ns);
  }
  path += "/" + resource.name;
  if (!name.empty()) {
    path += "/" + std::string(name);
  }
  return path;
}

std::string query_escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", byte);
    }
  }
  return out;
}

std::string_view to_string(Propagation propagation) {
  switch (propagation) {
    case Propagation::background:
      return "Background";
    case Propagation::foreground:
      return "Foreground";
    case Propagation::orphan:
      return "Orphan";
  }
  return "Background";
}

ApiError status_error(std::string_view method, std::string_view path, const Response& response) {
  ApiError error;
  error.code = response.status;
  std::string message;
  json body = json::parse(response.body, nullptr, false);
  // Any field of another type is ignored: the body is whatever a server or proxy sent.
  auto string_member = [&body](const char* key) {
    auto found = body.find(key);
    return found != body.end() && found->is_string() ? found->get<std::string>() : std::string();
  };
  if (!body.is_discarded() && body.is_object() && string_member("kind") == "Status") {
    error.reason = string_member("reason");
    message = string_member("message");
    if (body.contains("code") && body["code"].is_number_integer()) {
      error.code = body["code"].get<long>();
    }
    if (auto metadata = body.find("metadata"); metadata != body.end() && metadata->is_object()) {
      if (auto token = metadata->find("continue"); token != metadata->end() && token->is_string()) {
        error.continue_token = token->get<std::string>();
      }
    }
  } else if (!response.body.empty()) {
    // Not a Status (a proxy or load balancer in the way): the first line, bounded.
    message = response.body.substr(0, response.body.find('\n'));
    if (message.size() > 200) {
      message = message.substr(0, 200) + "...";
    }
  }
  if (error.reason.empty()) {
    error.reason = std::string(reason_for(error.code));
  }
  std::string attempts = response.attempts > 1 ? fmt::format(" (after {} attempts)", response.attempts) : "";
  std::string text =
      fmt::format("{} {}: {}{}{}{}", method, path, error.code, error.reason.empty() ? "" : " " + error.reason,
                  message.empty() ? "" : ": " + message, attempts);
  error.error = Error{kind_for(error.code), std::move(text)};
  return error;
}

ApiResult<json> json_result(std::string_view method, std::string_view path,
                            const Result<Response>& response) {
  if (!response) {
    return api_fail(ApiError{response.error(), 0, "", ""});
  }
  if (response->status < 200 || response->status >= 300) {
    return api_fail(status_error(method, path, *response));
  }
  json body = json::parse(response->body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    std::string what = response->body.empty() ? "an empty body" : "a body that is not a JSON object";
    return api_fail(
        ApiError{Error{ErrorKind::protocol, fmt::format("{} {}: {} {} (truncated or garbled response?)",
                                                        method, path, response->status, what)},
                 response->status, "BadResponse", ""});
  }
  return body;
}

ApiResult<std::string> take_list_page(json page, std::string_view path, ListResult& result) {
  ++result.pages;
  auto bad = [&](std::string_view what) {
    return api_fail(ApiError{Error{ErrorKind::protocol, fmt::format("GET {}: list page with {}", path, what)},
                             0, "BadResponse", ""});
  };
  if (auto items = page.find("items"); items != page.end() && !items->is_null()) {
    if (!items->is_array()) {
      return bad("\"items\" that is not an array");
    }
    for (json& item : *items) {
      result.items.push_back(std::move(item));
    }
  }
  std::string continue_token;
  std::string resource_version;
  if (auto metadata = page.find("metadata"); metadata != page.end() && !metadata->is_null()) {
    if (!metadata->is_object()) {
      return bad("\"metadata\" that is not an object");
    }
    for (auto [key, target] :
         {std::pair{"continue", &continue_token}, std::pair{"resourceVersion", &resource_version}}) {
      if (auto value = metadata->find(key); value != metadata->end() && !value->is_null()) {
        if (!value->is_string()) {
          return bad(fmt::format("metadata.{} that is not a string", key));
        }
        *target = value->get<std::string>();
      }
    }
  }
  // A paginated list is a consistent snapshot at the first page's resourceVersion.
  if (result.pages == 1) {
    result.resource_version = std::move(resource_version);
  }
  return continue_token;
}

Request create_request(const Resource& resource, std::string_view ns, const json& object) {
  Request request;
  request.method = "POST";
  request.path = resource_path(resource, ns);
  request.body = object.dump();
  request.content_type = "application/json";
  return request;
}

Request get_request(const Resource& resource, std::string_view ns, std::string_view name) {
  Request request;
  request.path = resource_path(resource, ns, name);
  return request;
}

ListOptions stale_ok_list_options() {
  ListOptions options;
  options.resource_version = "0";
  options.allow_inconsistent = true;
  return options;
}

Request list_request(const Resource& resource, std::string_view ns, const ListOptions& options,
                     std::string_view continue_token) {
  std::vector<std::string> query;
  if (options.limit > 0) {
    query.push_back(fmt::format("limit={}", options.limit));
  }
  if (!continue_token.empty()) {
    query.push_back("continue=" + query_escape(continue_token));
  }
  if (!options.label_selector.empty()) {
    query.push_back("labelSelector=" + query_escape(options.label_selector));
  }
  if (!options.field_selector.empty()) {
    query.push_back("fieldSelector=" + query_escape(options.field_selector));
  }
  if (!options.resource_version.empty() && continue_token.empty()) {
    query.push_back("resourceVersion=" + query_escape(options.resource_version));
  }
  std::string path = resource_path(resource, ns);
  for (std::size_t i = 0; i < query.size(); ++i) {
    path += (i == 0 ? "?" : "&") + query[i];
  }
  Request request;
  request.path = path;
  return request;
}

Request patch_request(const Resource& resource, std::string_view ns, std::string_view name, const json& patch,
                      PatchType type) {
  Request request;
  request.method = "PATCH";
  request.path = resource_path(resource, ns, name);
  request.body = patch.dump();
  request.content_type =
      type == PatchType::merge ? "application/merge-patch+json" : "application/strategic-merge-patch+json";
  return request;
}

Request delete_request(const Resource& resource, std::string_view ns, std::string_view name,
                       Propagation propagation) {
  json options = {
      {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", to_string(propagation)}};
  Request request;
  request.method = "DELETE";
  request.path = resource_path(resource, ns, name);
  request.body = options.dump();
  request.content_type = "application/json";
  return request;
}

ApiResult<json> Api::create(const Resource& resource, std::string_view ns, const json& object) {
  Request request = create_request(resource, ns, object);
  std::string path = request.path;
  return json_result("POST", path, transport_.call(std::move(request)));
}

ApiResult<json> Api::get(const Resource& resource, std::string_view ns, std::string_view name) {
  Request request = get_request(resource, ns, name);
  std::string path = request.path;
  return json_result("GET", path, transport_.call(std::move(request)));
}

ApiResult<ListResult> Api::list(const Resource& resource, std::string_view ns, const ListOptions& options) {
  ListResult result;
  std::string continue_token;
  int expirations = 0;  // bounds both ways on, so a server that answers 410 to every token cannot loop us
  while (true) {
    Request request = list_request(resource, ns, options, continue_token);
    std::string path = request.path;
    ApiResult<json> page = json_result("GET", path, transport_.call(std::move(request)));
    if (!page) {
      // The API's answer to a continue token older than etcd's compaction: 410 with reason Expired.
      const bool expired =
          !continue_token.empty() && page.error().code == 410 && expirations++ < kMaxListRestarts;
      if (expired && options.allow_inconsistent && !page.error().continue_token.empty()) {
        continue_token = page.error().continue_token;
        result.inconsistent = true;
        continue;
      }
      if (expired) {
        // A consistent list is one snapshot: start it again rather than mix two revisions.
        const int restarts = result.restarts + 1;
        result = ListResult{};
        result.restarts = restarts;
        continue_token.clear();
        continue;
      }
      return api_fail(page.error());
    }
    ApiResult<std::string> next = take_list_page(std::move(*page), path, result);
    if (!next) {
      return api_fail(next.error());
    }
    continue_token = std::move(*next);
    if (continue_token.empty()) {
      return result;
    }
  }
}

ApiResult<json> Api::patch(const Resource& resource, std::string_view ns, std::string_view name,
                           const json& patch, PatchType type) {
  Request request = patch_request(resource, ns, name, patch, type);
  std::string path = request.path;
  ApiResult<json> result = json_result("PATCH", path, transport_.call(std::move(request)));
  if (!result && result.error().code == 415 && type == PatchType::strategic_merge) {
    return this->patch(resource, ns, name, patch, PatchType::merge);
  }
  return result;
}

ApiResult<json> Api::remove(const Resource& resource, std::string_view ns, std::string_view name,
                            Propagation propagation) {
  Request request = delete_request(resource, ns, name, propagation);
  std::string path = request.path;
  return json_result("DELETE", path, transport_.call(std::move(request)));
}

ApiResult<std::string> Api::get_text(std::string_view path, std::optional<Duration> timeout) {
  Request request;
  request.path = std::string(path);
  request.timeout = timeout;
  request.rate_limited = false;
  Result<Response> response = transport_.call(std::move(request));
  if (!response) {
    return api_fail(ApiError{response.error(), 0, "", ""});
  }
  if (response->status < 200 || response->status >= 300) {
    return api_fail(status_error("GET", path, *response));
  }
  return std::move(response->body);
}

}  // namespace kp::kube
