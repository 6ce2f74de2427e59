// What the permission preflight asks for, and the ServiceAccount wait's bookkeeping.

#include <gtest/gtest.h>

#include "cluster/service_accounts.hpp"
#include "drivers/api/permissions.hpp"
#include "kube/access_review.hpp"

namespace kp::drivers::api {
namespace {

std::vector<std::string> texts(const std::vector<kube::Permission>& permissions) {
  std::vector<std::string> out;
  for (const kube::Permission& permission : permissions) {
    out.push_back(kube::to_string(permission));
  }
  return out;
}

TEST(Permissions, BuiltinWorkloadNeedsItsNamespacesObjectsAndWatches) {
  Result<std::vector<kube::Permission>> needed = required_permissions(Settings{});
  ASSERT_TRUE(needed) << needed.error().message;
  const std::vector<std::string> all = texts(*needed);
  EXPECT_EQ(all.size(), 24u);
  for (const char* expected :
       {"create namespaces", "delete namespaces", "watch pods in all namespaces",
        "watch serviceaccounts in all namespaces", "create deployments.apps in all namespaces",
        "patch configmaps in all namespaces", "patch secrets in all namespaces",
        "create pods in all namespaces"}) {
    EXPECT_NE(std::find(all.begin(), all.end(), expected), all.end()) << expected;
  }
  EXPECT_EQ(std::find(all.begin(), all.end(), "patch pods in all namespaces"), all.end())
      << "the built-in workload patches only configmaps and secrets";
  EXPECT_EQ(std::count(all.begin(), all.end(), "list pods in all namespaces"), 1) << "no duplicates";
}

TEST(Permissions, APlansJobsNeedTheirObjectKinds) {
  Settings settings;
  JobSpec create;
  create.name = "leases";
  create.objects = {ObjectSpec{"lease.yaml", R"(apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: "l-{{.Replica}}"}
)",
                               1}};
  JobSpec patch;
  patch.name = "touch";
  patch.type = JobType::patch;
  settings.jobs = {create, patch};
  Result<std::vector<kube::Permission>> needed = required_permissions(settings);
  ASSERT_TRUE(needed) << needed.error().message;
  const std::vector<std::string> all = texts(*needed);
  EXPECT_NE(std::find(all.begin(), all.end(), "create leases.coordination.k8s.io in all namespaces"),
            all.end());
  EXPECT_NE(std::find(all.begin(), all.end(), "patch leases.coordination.k8s.io in all namespaces"),
            all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), "create configmaps in all namespaces"), all.end());
}

TEST(Permissions, AllMissingInOneMessage) {
  std::vector<kube::AccessAnswer> answers = {
      {{"create", "", "namespaces", "", "the run's namespaces"}, false, ""},
      {{"list", "", "namespaces", "", "the run's namespaces"}, true, "RBAC: allowed"},
      {{"watch", "", "pods", "", "pod startup"}, false, "no RBAC policy matched"},
  };
  Result<void> judged = kube::judge_access(answers, "context \"prod\" (https://10.0.0.1:6443)");
  ASSERT_FALSE(judged);
  EXPECT_EQ(judged.error().kind, ErrorKind::input);
  EXPECT_EQ(judged.error().message,
            "context \"prod\" (https://10.0.0.1:6443) lacks 2 of the 3 permissions kubeproof needs: create "
            "namespaces (the run's namespaces); watch pods in all namespaces (pod startup; no RBAC policy "
            "matched)");
  answers[0].allowed = answers[2].allowed = true;
  EXPECT_TRUE(kube::judge_access(answers, "x"));
}

kube::WatchEvent account_event(std::string ns, std::string name, kube::WatchEvent::Type type) {
  kube::WatchEvent event;
  event.type = type;
  event.object = {{"metadata", {{"name", std::move(name)}, {"namespace", std::move(ns)}}}};
  return event;
}

TEST(ServiceAccountWaiter, WaitsForEachNamespacesDefaultAccountBounded) {
  FakeClock clock;
  kube::RestConfig config;
  config.server = "https://127.0.0.1:1";
  config.insecure_skip_tls_verify = true;
  kube::ClientOptions options;
  options.warn = [](std::string_view) {};
  Result<std::unique_ptr<kube::Transport>> transport = kube::Transport::create(config, options, clock);
  ASSERT_TRUE(transport) << transport.error().message;
  cluster::ServiceAccountWaiter waiter(**transport, clock,
                                       "kp-1234-");  // never started: events are fed by hand
  waiter.observe(account_event("kp-1234-0", "default", kube::WatchEvent::Type::added));
  waiter.observe(account_event("kp-1234-1", "builder", kube::WatchEvent::Type::added));
  waiter.observe(account_event("other-2", "default", kube::WatchEvent::Type::added));
  EXPECT_TRUE(waiter.has("kp-1234-0"));
  EXPECT_FALSE(waiter.has("kp-1234-1")) << "only the default ServiceAccount counts";
  EXPECT_FALSE(waiter.has("other-2")) << "only the run's namespaces";
  engine::CancellationToken cancel;
  EXPECT_EQ(waiter.wait({"kp-1234-0"}, clock.now() + std::chrono::seconds(1), cancel),
            std::vector<std::string>{});
  // The deadline has passed on the fake clock: the wait returns what is missing at once.
  EXPECT_EQ(waiter.wait({"kp-1234-0", "kp-1234-1"}, clock.now(), cancel),
            std::vector<std::string>{"kp-1234-1"});
  waiter.observe(account_event("kp-1234-0", "default", kube::WatchEvent::Type::deleted));
  EXPECT_FALSE(waiter.has("kp-1234-0"));
}

}  // namespace
}  // namespace kp::drivers::api
