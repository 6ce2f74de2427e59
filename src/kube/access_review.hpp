#pragma once

// The permission preflight: asks the API server, with SelfSubjectAccessReview (POST
// /apis/authorization.k8s.io/v1/selfsubjectaccessreviews, which every authenticated user may call), whether
// the current user may do each thing a run needs, and turns every "no" into one message, so a cluster
// administrator learns all that is missing at once, before anything is created:
//   `context "prod" (https://10.0.0.1:6443) lacks 3 permissions kubeproof needs: create namespaces (the api
//   phase's namespaces); watch pods in all namespaces (pod startup); ...`

#include <string>
#include <vector>

#include "core/error.hpp"
#include "kube/api.hpp"

namespace kp::kube {

struct Permission {
  std::string verb;      // "create", "list", "watch", "get", "patch", "delete"
  std::string group;     // "" core, "apps"
  std::string resource;  // "namespaces", "deployments", "pods/log" (a subresource, as RBAC writes it)
  std::string ns;        // "" = cluster-scoped resource, or every namespace
  std::string why;       // for the message: "the api phase's namespaces"
  friend bool operator==(const Permission&, const Permission&) = default;
};

// "create deployments.apps in all namespaces", "create namespaces".
std::string to_string(const Permission& permission);

struct AccessAnswer {
  Permission permission;
  bool allowed = false;
  std::string reason;  // the authorizer's, when it gave one
};

// The answer to one review (the server's SelfSubjectAccessReview object). status.allowed must be there and
// a boolean; a garbled answer is ErrorKind::protocol naming the field, never an exception:
//   SelfSubjectAccessReview answer: status.allowed: must be a boolean, got "yes"
Result<AccessAnswer> read_access_answer(const Permission& permission, const json& answer);

// One SelfSubjectAccessReview per permission, in order. An error when the server cannot answer them (the
// review API unreachable or refused): the caller cannot tell then.
ApiResult<std::vector<AccessAnswer>> review_access(Transport& transport,
                                                   const std::vector<Permission>& needed);

// The denied ones among `answers`, as one ErrorKind::input message naming `who`; {} when all were allowed.
Result<void> judge_access(const std::vector<AccessAnswer>& answers, std::string_view who);

// review_access + judge_access. The missing ones, as one ErrorKind::input message naming the context and
// server; {} when all are granted. `who` introduces the message ("context \"prod\" (https://...)").
Result<void> require_access(Transport& transport, const std::vector<Permission>& needed,
                            std::string_view who);

// Duplicates removed, order kept.
std::vector<Permission> unique_permissions(std::vector<Permission> permissions);

}  // namespace kp::kube
