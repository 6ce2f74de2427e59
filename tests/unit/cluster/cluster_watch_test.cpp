// The soak's cluster watches (cluster_watch.hpp) on lists shaped as the API returns them: a node's Ready
// condition as the node lifecycle controller sets it when a kubelet stops posting status, a CoreDNS pod's
// containerStatuses after an OOM kill, and the kube-apiserver identity Leases of the Kubernetes docs
// (concepts/architecture/leases: "API server identity").

#include <gtest/gtest.h>

#include "cluster/cluster_watch.hpp"

namespace kp::cluster {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const WallTime kStart = WallTime(seconds(1'764'000'000));

json node(const std::string& name, const std::string& ready, const std::string& reason = "KubeletReady",
          const std::string& message = "kubelet is posting ready status") {
  return json{
      {"metadata", {{"name", name}}},
      {"status",
       {{"conditions",
         json::array({{{"type", "MemoryPressure"}, {"status", "False"}},
                      {{"type", "Ready"}, {"status", ready}, {"reason", reason}, {"message", message}}})}}}};
}

json dns_pod(const std::string& name, const std::string& uid, long long restarts, bool oom = false) {
  json status = {{"name", "coredns"}, {"ready", true}, {"restartCount", restarts}};
  if (oom) {
    status["lastState"] = {{"terminated", {{"reason", "OOMKilled"}, {"exitCode", 137}}}};
  }
  return json{{"metadata", {{"name", name}, {"uid", uid}, {"labels", {{"k8s-app", "kube-dns"}}}}},
              {"status", {{"phase", "Running"}, {"containerStatuses", json::array({status})}}}};
}

json lease(const std::string& name, const std::string& host, const std::string& holder) {
  return json{
      {"metadata",
       {{"name", name},
        {"namespace", "kube-system"},
        {"labels",
         {{"apiserver.kubernetes.io/identity", "kube-apiserver"}, {"kubernetes.io/hostname", host}}}}},
      {"spec", {{"holderIdentity", holder}, {"leaseDurationSeconds", 3600}}}};
}

TEST(ClusterWatch, ANodeThatGoesNotReadyAndComesBackIsTwoEventsWithTheirTimes) {
  ClusterWatch watch;
  watch.observe(ClusterSource::nodes, kStart, {node("worker-1", "True"), node("worker-2", "True")});
  EXPECT_TRUE(watch.take_events().empty()) << "a healthy baseline says nothing";
  watch.observe(ClusterSource::nodes, kStart + seconds(10),
                {node("worker-1", "True"),
                 node("worker-2", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")});
  watch.observe(ClusterSource::nodes, kStart + seconds(20),
                {node("worker-1", "True"),
                 node("worker-2", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")});
  watch.observe(ClusterSource::nodes, kStart + seconds(50),
                {node("worker-1", "True"), node("worker-2", "True")});
  const std::vector<WatchEvent> events = watch.take_events();
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].at, kStart + seconds(10));
  EXPECT_EQ(events[0].source, "nodes");
  EXPECT_EQ(events[0].kind, "not_ready");
  EXPECT_EQ(
      events[0].text,
      "node worker-2 NotReady: Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status.)");
  EXPECT_EQ(events[1].at, kStart + seconds(50));
  EXPECT_EQ(events[1].kind, "ready");
  EXPECT_EQ(events[1].text,
            "node worker-2 Ready again, NotReady for 40.00s (from the list that first saw it)");
  EXPECT_TRUE(watch.watching(ClusterSource::nodes));
  EXPECT_EQ(watch.first_list(ClusterSource::nodes), kStart);
  EXPECT_EQ(watch.last_list(ClusterSource::nodes), kStart + seconds(50));
}

TEST(ClusterWatch, NodesNotReadyAtTheStartJoiningAndLeavingAreSaid) {
  ClusterWatch watch;
  watch.observe(ClusterSource::nodes, kStart, {node("a", "True"), node("b", "False", "KubeletNotReady", "")});
  watch.observe(ClusterSource::nodes, kStart + seconds(10),
                {node("b", "False", "KubeletNotReady", ""), node("c", "True")});
  const std::vector<WatchEvent> events = watch.take_events();
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0].text, "node b NotReady when the watch began: Ready=False (KubeletNotReady)");
  EXPECT_EQ(events[1].kind, "added");
  EXPECT_EQ(events[1].text, "node c joined");
  EXPECT_EQ(events[2].kind, "removed");
  EXPECT_EQ(events[2].text, "node a left the cluster");
}

TEST(ClusterWatch, ACoreDnsRestartIsARiseOfItsRestartCount) {
  ClusterWatch watch;
  watch.observe(ClusterSource::coredns, kStart,
                {dns_pod("coredns-1", "u1", 2), dns_pod("coredns-2", "u2", 0)});
  watch.observe(ClusterSource::coredns, kStart + seconds(10),
                {dns_pod("coredns-1", "u1", 2), dns_pod("coredns-2", "u2", 1, true)});
  watch.observe(ClusterSource::coredns, kStart + seconds(20),
                {dns_pod("coredns-1", "u1", 2), dns_pod("coredns-2", "u2", 1, true)});
  const std::vector<WatchEvent> events = watch.take_events();
  ASSERT_EQ(events.size(), 1U) << "restarts before the soak are not the soak's";
  EXPECT_EQ(events[0].at, kStart + seconds(10));
  EXPECT_EQ(events[0].source, "coredns");
  EXPECT_EQ(events[0].kind, "restart");
  EXPECT_EQ(events[0].text,
            "CoreDNS pod coredns-2 restarted: restartCount 0 -> 1 (last: coredns terminated OOMKilled, exit "
            "code 137)");
}

TEST(ClusterWatch, AReplacedCoreDnsPodIsDeletedAndCreated) {
  ClusterWatch watch;
  watch.observe(ClusterSource::coredns, kStart, {dns_pod("coredns-1", "u1", 0)});
  watch.observe(ClusterSource::coredns, kStart + seconds(10), {dns_pod("coredns-9", "u9", 0)});
  // A pod deleted and created again under the same name (a StatefulSet would) is a new uid.
  watch.observe(ClusterSource::coredns, kStart + seconds(20), {dns_pod("coredns-9", "u10", 0)});
  const std::vector<WatchEvent> events = watch.take_events();
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(events[0].text, "CoreDNS pod coredns-9 created");
  EXPECT_EQ(events[1].text, "CoreDNS pod coredns-1 deleted");
  EXPECT_EQ(events[2].text, "CoreDNS pod coredns-9 created");
  EXPECT_EQ(events[2].at, kStart + seconds(20));
}

TEST(ClusterWatch, AnApiServerRestartIsANewHolderOfItsIdentityLease) {
  ClusterWatch watch;
  const std::string name = "apiserver-07a5ea9b9b072c4a5f3d1c3702";
  watch.observe(ClusterSource::apiserver, kStart,
                {lease(name, "master-1", name + "_0c8914f7-0f35-440e-8676-7844977d3a05")});
  watch.observe(ClusterSource::apiserver, kStart + seconds(10),
                {lease(name, "master-1", name + "_84f2a85d-37c1-4b14-b6b9-603e62e4896f")});
  const std::vector<WatchEvent> events = watch.take_events();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].source, "apiserver");
  EXPECT_EQ(events[0].kind, "restart");
  EXPECT_EQ(events[0].text, "API server on master-1 restarted: Lease " + name + " identity " + name +
                                "_0c8914f7-0f35-440e-8676-7844977d3a05 -> " + name +
                                "_84f2a85d-37c1-4b14-b6b9-603e62e4896f");
}

TEST(ClusterWatch, NothingToWatchOrNoPermissionSaysWhyAndAnOutageIsSaidOnce) {
  ClusterWatch watch;
  watch.observe(ClusterSource::apiserver, kStart, {});
  EXPECT_FALSE(watch.watching(ClusterSource::apiserver));
  EXPECT_EQ(
      watch.unwatched(ClusterSource::apiserver),
      "no Lease labelled apiserver.kubernetes.io/identity=kube-apiserver in kube-system (APIServerIdentity "
      "needs Kubernetes 1.26+)");
  watch.list_failed(ClusterSource::coredns, kStart, "403 Forbidden: pods is forbidden", true);
  EXPECT_EQ(watch.unwatched(ClusterSource::coredns), "cannot list coredns: 403 Forbidden: pods is forbidden");
  watch.observe(ClusterSource::nodes, kStart, {node("a", "True")});
  watch.list_failed(ClusterSource::nodes, kStart + seconds(10), "connection refused", false);
  watch.list_failed(ClusterSource::nodes, kStart + seconds(20), "connection refused", false);
  watch.observe(ClusterSource::nodes, kStart + seconds(30), {node("a", "True")});
  const std::vector<WatchEvent> events = watch.take_events();
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0].kind, "list_failed");
  EXPECT_EQ(events[0].text, "nodes could not be listed: connection refused");
  EXPECT_EQ(events[1].kind, "list_ok");
  EXPECT_EQ(events[1].at, kStart + seconds(30));
  EXPECT_TRUE(watch.watching(ClusterSource::nodes)) << "an outage is not a reason to stop watching";
}

TEST(ClusterWatch, GarbledItemsArePassedOver) {
  ClusterWatch watch;
  watch.observe(ClusterSource::nodes, kStart,
                {json(42), json{{"metadata", {{"name", 7}}}}, node("a", "True")});
  watch.observe(ClusterSource::coredns, kStart,
                {json{{"metadata", {{"name", "p"}}}, {"status", {{"containerStatuses", "x"}}}}});
  watch.observe(ClusterSource::coredns, kStart + seconds(1),
                {json{{"metadata", {{"name", "p"}}},
                      {"status", {{"containerStatuses", json::array({{{"restartCount", "1"}}})}}}}});
  EXPECT_TRUE(watch.take_events().empty());
}

}  // namespace
}  // namespace kp::cluster
