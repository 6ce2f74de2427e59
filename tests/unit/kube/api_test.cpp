#include "kube/api.hpp"

#include <gtest/gtest.h>

namespace kp::kube {
namespace {

TEST(Api, PathsOfCoreGroupAndNamedGroups) {
  EXPECT_EQ(resource_path(*builtin_resource("v1", "ConfigMap"), "ns1", "cm"),
            "/api/v1/namespaces/ns1/configmaps/cm");
  EXPECT_EQ(resource_path(*builtin_resource("apps/v1", "Deployment"), "ns1"),
            "/apis/apps/v1/namespaces/ns1/deployments");
  EXPECT_EQ(resource_path(namespaces_resource(), "ignored", "x"), "/api/v1/namespaces/x");
  EXPECT_FALSE(builtin_resource("v1", "Deployment"));
  ListOptions options;
  options.label_selector = "kubeproof.io/run=kp-1,app!=x";
  EXPECT_EQ(list_request(namespaces_resource(), "", options, "tok/en=").path,
            "/api/v1/"
            "namespaces?limit=500&continue=tok%2Fen%3D&labelSelector=kubeproof.io%2Frun%3Dkp-1%2Capp%21%3Dx");
}

// A discovery list may be served from the watch cache (resourceVersion=0); a continue token carries its own
// version, and the API refuses both together.
TEST(Api, AStaleOkListAsksForAnyVersionOnItsFirstPageOnly) {
  EXPECT_EQ(list_request(pods_resource(), "", stale_ok_list_options()).path,
            "/api/v1/pods?limit=500&resourceVersion=0");
  EXPECT_EQ(list_request(pods_resource(), "", stale_ok_list_options(), "next").path,
            "/api/v1/pods?limit=500&continue=next");
  EXPECT_EQ(list_request(pods_resource(), "", ListOptions{}).path, "/api/v1/pods?limit=500")
      << "other lists stay consistent reads";
}

TEST(Api, StatusBodiesBecomeOneLineErrors) {
  Response response;
  response.status = 409;
  response.body =
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"namespaces \"a\" already exists","reason":"AlreadyExists","code":409})";
  ApiError error = status_error("POST", "/api/v1/namespaces", response);
  EXPECT_EQ(error.code, 409);
  EXPECT_EQ(error.reason, "AlreadyExists");
  EXPECT_EQ(error.error.message,
            "POST /api/v1/namespaces: 409 AlreadyExists: namespaces \"a\" already exists");

  response.status = 502;
  response.body = "<html>Bad Gateway</html>\nmore";
  response.attempts = 3;
  error = status_error("GET", "/api/v1/pods", response);
  EXPECT_EQ(error.error.message, "GET /api/v1/pods: 502: <html>Bad Gateway</html> (after 3 attempts)");
  EXPECT_EQ(error.error.kind, ErrorKind::unavailable);

  response.status = 403;
  response.body =
      R"({"kind":"Status","message":"pods is forbidden: User \"x\" cannot list resource \"pods\"","reason":"Forbidden","code":403})";
  response.attempts = 1;
  error = status_error("GET", "/api/v1/pods", response);
  EXPECT_EQ(error.error.kind, ErrorKind::input);
  EXPECT_EQ(error.error.message,
            "GET /api/v1/pods: 403 Forbidden: pods is forbidden: User \"x\" cannot list resource \"pods\"");
}

// Issue 18 (fuzz target kube_response): a body whose kind, reason or message is not a string threw nlohmann's
// type_error out of status_error(); such fields are now ignored and the code's reason is used.
TEST(Api, StatusFieldsOfAnotherTypeAreIgnored) {
  Response response;
  response.status = 500;
  for (const char* body : {R"({"kind":5})", R"({"kind":"Status","reason":1,"message":{"a":1},"code":"500"})",
                           R"({"kind":["Status"],"reason":"X"})"}) {
    response.body = body;
    ApiError error = status_error("GET", "/api/v1/pods", response);
    EXPECT_EQ(error.code, 500) << body;
    EXPECT_EQ(error.reason, "InternalError") << body;
  }
}

TEST(Api, DeleteCarriesPropagationAndPatchItsType) {
  Request del = delete_request(namespaces_resource(), "", "x", Propagation::foreground);
  EXPECT_EQ(del.method, "DELETE");
  EXPECT_NE(del.body.find(R"("propagationPolicy":"Foreground")"), std::string::npos);
  Request patch = patch_request(namespaces_resource(), "", "x", json{{"a", 1}}, PatchType::strategic_merge);
  EXPECT_EQ(patch.content_type, "application/strategic-merge-patch+json");
}

}  // namespace
}  // namespace kp::kube
