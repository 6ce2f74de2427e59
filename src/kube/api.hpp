#pragma once

// Typed Kubernetes REST calls over a Transport: resources and their paths, request builders (the driver
// submits them asynchronously), blocking create/get/list/patch/delete, and Status bodies turned into one-line
// errors: `POST /api/v1/namespaces: 409 AlreadyExists: namespaces "kp-1" already exists`.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/transport.hpp"

namespace kp::kube {

using nlohmann::json;

struct Resource {
  std::string group;    // "" for the core group
  std::string version;  // "v1"
  std::string name;     // the plural: "pods", "deployments"
  std::string kind;     // "Pod"
  bool namespaced = true;
  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

// The built-in resources templates may use, by apiVersion and kind (a table rather than discovery: every
// object the workloads create is a built-in type). nullopt for anything else.
std::optional<Resource> builtin_resource(std::string_view api_version, std::string_view kind);
Resource namespaces_resource();
Resource pods_resource();

// "/api/v1/namespaces/ns/pods/name", "/apis/apps/v1/namespaces/ns/deployments", "/api/v1/namespaces".
std::string resource_path(const Resource& resource, std::string_view ns, std::string_view name = {});
// Percent-encodes a query value (label selectors contain '=' and ',').
std::string query_escape(std::string_view value);

// A failed call: the message, the HTTP status (0 when there was no answer) and the Status reason.
struct ApiError {
  Error error;
  long code = 0;
  std::string reason;  // "AlreadyExists", "NotFound", "Expired", "TooManyRequests", ...
  // The Status's metadata.continue: a 410 Expired answer to a list's expired continue token carries one that
  // goes on from the same place at the newest revision (an inconsistent continuation), when the server can.
  std::string continue_token;
};
template <typename T>
using ApiResult = std::expected<T, ApiError>;

inline std::unexpected<ApiError> api_fail(ApiError error) {
  return std::unexpected(std::move(error));
}

// The error for a non-2xx response, from its Status body when it has one. Never includes request bodies or
// headers (they may hold secrets).
ApiError status_error(std::string_view method, std::string_view path, const Response& response);
// 2xx with a JSON object -> the object; anything else -> ApiError.
ApiResult<json> json_result(std::string_view method, std::string_view path, const Result<Response>& response);

enum class PatchType { merge, strategic_merge };
enum class Propagation { background, foreground, orphan };
std::string_view to_string(Propagation propagation);

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int limit = 500;  // page size; 0 = no pagination
  std::string resource_version;
  // The list need not be one snapshot: when a continue token expires mid-way (410 Expired), go on with the
  // inconsistent continue token of the 410's Status (objects changed since the first page may then show in
  // their newer state, or twice across a rename) instead of starting the list again.
  bool allow_inconsistent = false;
};
// For a list that only discovers what exists (which Services and pods a cluster has), where an answer a
// little behind is as good: resourceVersion "0", "any version", which the API server answers from its watch
// cache instead of a quorum read of every object from etcd (on a big cluster, the costliest read there is).
// Sent on the first page only, as the API requires; the server may then ignore `limit`. Such a list also
// allows an inconsistent continuation (allow_inconsistent).
ListOptions stale_ok_list_options();

Request create_request(const Resource& resource, std::string_view ns, const json& object);
Request get_request(const Resource& resource, std::string_view ns, std::string_view name);
Request list_request(const Resource& resource, std::string_view ns, const ListOptions& options,
                     std::string_view continue_token = {});
Request patch_request(const Resource& resource, std::string_view ns, std::string_view name, const json& patch,
                      PatchType type = PatchType::merge);
Request delete_request(const Resource& resource, std::string_view ns, std::string_view name,
                       Propagation propagation = Propagation::background);

struct ListResult {
  std::vector<json> items;
  std::string resource_version;  // of the list: where a watch continues from
  int pages = 0;                 // of the list as returned (the last attempt's)
  int restarts = 0;              // lists started again from the first page after an expired continue token
  bool inconsistent = false;     // went on with a 410's inconsistent continue token (allow_inconsistent)
};

// How many expired continue tokens (410 Expired) Api::list gets over, by starting again or going on
// inconsistently, before it gives up with the 410: client-go's pager falls back once; a list that expires
// again and again is slower than the server's compaction interval (5 minutes by default), which another try
// will not fix.
inline constexpr int kMaxListRestarts = 2;

// Takes one page of a list (json_result's body) into `result`: its items, and the first page's
// resourceVersion. Returns the page's continue token ("" on the last page). Fields of another type than the
// API's (items not an array, metadata.continue not a string) are ErrorKind::protocol, never an exception.
ApiResult<std::string> take_list_page(json page, std::string_view path, ListResult& result);

// Blocking calls (not from the transport thread).
class Api {
 public:
  explicit Api(Transport& transport) : transport_(transport) {}
  Transport& transport() { return transport_; }

  ApiResult<json> create(const Resource& resource, std::string_view ns, const json& object);
  ApiResult<json> get(const Resource& resource, std::string_view ns, std::string_view name);
  // Follows `continue` until the last page (client-go's pager). A continue token that expired mid-way (410
  // Expired: etcd compacted the list's revision, after about 5 minutes) starts the list again from the first
  // page, at most kMaxListRestarts times, or, with options.allow_inconsistent, goes on with the 410's own
  // inconsistent continue token when it has one. A 410 on the first page, or one past the restarts, is the
  // error.
  ApiResult<ListResult> list(const Resource& resource, std::string_view ns, const ListOptions& options = {});
  // Strategic merge where the server supports it; a 415 (custom resources) falls back to a JSON merge patch.
  ApiResult<json> patch(const Resource& resource, std::string_view ns, std::string_view name,
                        const json& patch, PatchType type = PatchType::merge);
  ApiResult<json> remove(const Resource& resource, std::string_view ns, std::string_view name,
                         Propagation propagation = Propagation::background);
  // GET of a non-resource path (/version, /metrics, /readyz): the body as text.
  ApiResult<std::string> get_text(std::string_view path, std::optional<Duration> timeout = std::nullopt);

 private:
  Transport& transport_;
};

}  // namespace kp::kube
