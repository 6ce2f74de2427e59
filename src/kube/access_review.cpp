#include "kube/access_review.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/json_read.hpp"

namespace kp::kube {
namespace {

Resource access_reviews_resource() {
  return Resource{.group = "authorization.k8s.io",
                  .version = "v1",
                  .name = "selfsubjectaccessreviews",
                  .kind = "SelfSubjectAccessReview",
                  .namespaced = false};
}

}  // namespace

std::string to_string(const Permission& permission) {
  static const std::vector<std::string> cluster_scoped = {
      "namespaces", "nodes", "persistentvolumes", "clusterroles", "clusterrolebindings", "storageclasses"};
  std::string resource =
      permission.group.empty() ? permission.resource : permission.resource + "." + permission.group;
  const bool cluster =
      std::find(cluster_scoped.begin(), cluster_scoped.end(), permission.resource) != cluster_scoped.end();
  std::string scope = cluster                 ? std::string()
                      : permission.ns.empty() ? std::string(" in all namespaces")
                                              : fmt::format(" in namespace {}", permission.ns);
  return fmt::format("{} {}{}", permission.verb, resource, scope);
}

std::vector<Permission> unique_permissions(std::vector<Permission> permissions) {
  std::vector<Permission> unique;
  for (Permission& permission : permissions) {
    auto same = [&](const Permission& p) {
      return p.verb == permission.verb && p.group == permission.group && p.resource == permission.resource &&
             p.ns == permission.ns;
    };
    if (std::none_of(unique.begin(), unique.end(), same)) {
      unique.push_back(std::move(permission));
    }
  }
  return unique;
}

Result<AccessAnswer> read_access_answer(const Permission& permission, const json& answer) {
  constexpr std::string_view where = "SelfSubjectAccessReview answer";
  Result<json> status = json_object(answer, "status", where);
  if (!status) {
    return std::unexpected(status.error());
  }
  if (!status->contains("allowed")) {
    return fail(ErrorKind::protocol,
                fmt::format("{}: status.allowed: missing, got {}", where, json_excerpt(answer)));
  }
  Result<bool> allowed = json_bool(*status, "status.allowed", where);
  if (!allowed) {
    return std::unexpected(allowed.error());
  }
  Result<std::string> reason = json_string(*status, "status.reason", where);
  if (!reason) {
    return std::unexpected(reason.error());
  }
  return AccessAnswer{.permission = permission, .allowed = *allowed, .reason = std::move(*reason)};
}

ApiResult<std::vector<AccessAnswer>> review_access(Transport& transport,
                                                   const std::vector<Permission>& needed) {
  std::vector<AccessAnswer> answers;
  for (const Permission& permission : needed) {
    json attributes = {
        {"verb", permission.verb}, {"group", permission.group}, {"resource", permission.resource}};
    // "pods/log": RBAC's spelling of a subresource; the review takes it as its own attribute.
    if (std::size_t slash = permission.resource.find('/'); slash != std::string::npos) {
      attributes["resource"] = permission.resource.substr(0, slash);
      attributes["subresource"] = permission.resource.substr(slash + 1);
    }
    if (!permission.ns.empty()) {
      attributes["namespace"] = permission.ns;
    }
    json review = {{"apiVersion", "authorization.k8s.io/v1"},
                   {"kind", "SelfSubjectAccessReview"},
                   {"spec", {{"resourceAttributes", attributes}}}};
    Request request = create_request(access_reviews_resource(), "", review);
    request.rate_limited = false;
    const std::string path = request.path;
    ApiResult<json> answer = json_result("POST", path, transport.call(std::move(request)));
    if (!answer) {
      return api_fail(answer.error());
    }
    Result<AccessAnswer> read = read_access_answer(permission, *answer);
    if (!read) {
      return api_fail(ApiError{.error = with_context(read.error(), fmt::format("POST {}: ", path)),
                               .code = 0,
                               .reason = "",
                               .continue_token = ""});
    }
    answers.push_back(std::move(*read));
  }
  return answers;
}

Result<void> judge_access(const std::vector<AccessAnswer>& answers, std::string_view who) {
  std::vector<std::string> missing;
  for (const AccessAnswer& answer : answers) {
    if (!answer.allowed) {
      missing.push_back(fmt::format("{} ({}{})", to_string(answer.permission), answer.permission.why,
                                    answer.reason.empty() ? "" : "; " + answer.reason));
    }
  }
  if (missing.empty()) {
    return {};
  }
  return fail(ErrorKind::input, fmt::format("{} lacks {} of the {} permissions kubeproof needs: {}", who,
                                            missing.size(), answers.size(), fmt::join(missing, "; ")));
}

Result<void> require_access(Transport& transport, const std::vector<Permission>& needed,
                            std::string_view who) {
  ApiResult<std::vector<AccessAnswer>> answers = review_access(transport, needed);
  if (!answers) {
    return std::unexpected(with_context(answers.error().error,
                                        fmt::format("{}: the permission preflight (SelfSubjectAccessReview) "
                                                    "could not ask: ",
                                                    who)));
  }
  return judge_access(*answers, who);
}

}  // namespace kp::kube
