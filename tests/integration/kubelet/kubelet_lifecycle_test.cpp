// The process kubelet's volumes, resource limits, late pod IPs, deletion and cleanup (nothing left behind,
// even after a crash). Needs root; skipped with the reason otherwise.

#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "kubelet_harness.hpp"

namespace kp::testing {
namespace {

TEST_F(Kubelet, AVolumeClaimBindsToADirectoryANonRootPodWritesIntoWithFsGroup) {
  auto k = start("pvc");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("pvc");
  kube::Resource claims = core("persistentvolumeclaims", "PersistentVolumeClaim");
  json claim = {
      {"metadata", {{"name", "data"}}},
      {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "64Mi"}}}}}}}};
  ASSERT_TRUE(k->api->create(claims, "pvc", claim));
  ASSERT_TRUE(KubeletHarness::wait_for([&] {
    auto got = k->api->get(claims, "pvc", "data");
    return got && (*got)["status"].value("phase", "") == "Bound";
  }));
  json bound = *k->api->get(claims, "pvc", "data");
  EXPECT_EQ(bound["spec"].value("storageClassName", ""), "standard");  // the default class
  auto volume = k->api->get(core("persistentvolumes", "PersistentVolume", false), "",
                            bound["spec"].value("volumeName", ""));
  ASSERT_TRUE(volume);
  std::string path = (*volume)["spec"]["csi"]["volumeAttributes"].value("path", "");
  ASSERT_TRUE(std::filesystem::is_directory(path)) << path;

  auto storage_pod = [](const std::string& name, bool fs_group) {
    json pod = KubeletHarness::agent_pod(
        name, {"storage", "--dir", "/data", "--workloads", "seqwrite", "--size", "1MiB", "--runtime", "1s",
               "--ramp-time", "0s", "--ioengine", "psync"});
    if (!fs_group) {
      pod["spec"]["securityContext"].erase("fsGroup");
    }
    pod["spec"]["volumes"] = {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}};
    pod["spec"]["containers"][0]["volumeMounts"] = {{{"name", "data"}, {"mountPath", "/data"}}};
    return pod;
  };
  // Without fsGroup, uid 65534 cannot write into the root-owned volume (as on a real cluster).
  ASSERT_TRUE(k->create_pod("pvc", storage_pod("denied", false)));
  json denied = k->wait_pod("pvc", "denied", terminal);
  ASSERT_FALSE(denied.is_null());
  EXPECT_EQ(denied["status"]["phase"], "Failed") << k->log("pvc", "denied").second;

  ASSERT_TRUE(k->create_pod("pvc", storage_pod("writer", true)));
  json done = k->wait_pod("pvc", "writer", terminal, std::chrono::seconds(60));
  ASSERT_FALSE(done.is_null());
  std::string log = k->log("pvc", "writer").second;
  EXPECT_EQ(done["status"]["phase"], "Succeeded") << log;
  json result = KubeletHarness::result_line(log, "kubeproof.agent.storage");
  ASSERT_TRUE(result.is_object()) << log;
  ASSERT_FALSE(result["jobs"].empty());
  EXPECT_GT(result["jobs"][0].value("ios", 0), 0);
  struct stat info {};
  ASSERT_EQ(stat(path.c_str(), &info), 0);
  EXPECT_EQ(info.st_gid, 65534u);       // fsGroup made the volume group-owned
  EXPECT_TRUE(info.st_mode & S_ISGID);  // and new files inherit the group
}

TEST_F(Kubelet, ClaimsBindByTheirClassesModeAndAnUnknownClassStaysPending) {
  json config = kubelet_config({{"storage_classes",
                                 {{{"name", "standard"}, {"default", true}},
                                  {{"name", "local"}, {"volumeBindingMode", "WaitForFirstConsumer"}}}}});
  auto k = start("class", config);
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("cls");
  kube::Resource claims = core("persistentvolumeclaims", "PersistentVolumeClaim");
  auto claim = [](const std::string& name, const std::string& storage_class) {
    return json{{"metadata", {{"name", name}}},
                {"spec",
                 {{"storageClassName", storage_class},
                  {"accessModes", {"ReadWriteOnce"}},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  };
  auto phase = [&](const std::string& name) {
    auto got = k->api->get(claims, "cls", name);
    return got ? (*got)["status"].value("phase", "") : std::string("(gone)");
  };
  ASSERT_TRUE(k->api->create(claims, "cls", claim("lost", "no-such-class")));
  ASSERT_TRUE(k->api->create(claims, "cls", claim("late", "local")));
  ASSERT_TRUE(KubeletHarness::wait_for(
      [&] { return k->has_event("cls", "lost", "ProvisioningFailed", "\"no-such-class\" not found"); }));
  EXPECT_EQ(phase("lost"), "Pending");
  ASSERT_TRUE(KubeletHarness::wait_for(
      [&] { return k->has_event("cls", "late", "WaitForFirstConsumer", "waiting for first consumer"); }));
  EXPECT_EQ(phase("late"), "Pending");

  // The first consumer is scheduled: the claim binds, on that pod's node.
  json consumer = KubeletHarness::agent_pod("consumer", {"net-server", "--help"});
  consumer["spec"]["volumes"] = {{{"name", "v"}, {"persistentVolumeClaim", {{"claimName", "late"}}}}};
  consumer["spec"]["containers"][0]["volumeMounts"] = {{{"name", "v"}, {"mountPath", "/tmp"}}};
  ASSERT_TRUE(k->create_pod("cls", consumer));
  ASSERT_TRUE(KubeletHarness::wait_for([&] { return phase("late") == "Bound"; }));
  json done = k->wait_pod("cls", "consumer", terminal);
  ASSERT_FALSE(done.is_null());
  EXPECT_EQ(done["status"]["phase"], "Succeeded") << k->log("cls", "consumer").second;
  json bound = *k->api->get(claims, "cls", "late");
  EXPECT_EQ(bound["metadata"]["annotations"].value("volume.kubernetes.io/selected-node", ""),
            done["spec"].value("nodeName", "?"));

  // Deleting the namespace deletes the claims' volumes and their directories.
  auto volume = k->api->get(core("persistentvolumes", "PersistentVolume", false), "",
                            bound["spec"].value("volumeName", ""));
  ASSERT_TRUE(volume);
  std::string path = (*volume)["spec"]["csi"]["volumeAttributes"].value("path", "");
  ASSERT_TRUE(std::filesystem::is_directory(path));
  ASSERT_TRUE(k->api->remove(core("namespaces", "Namespace", false), "", "cls"));
  EXPECT_TRUE(KubeletHarness::wait_for([&] {
    auto volumes = k->api->list(core("persistentvolumes", "PersistentVolume", false), "");
    return volumes && volumes->items.empty() && !std::filesystem::exists(path);
  }));
}

TEST_F(Kubelet, PodIpsMayArriveLateAndHostNetworkPodsHaveTheNodesAddress) {
  auto k = start("late", kubelet_config({{"kubelet", {{"pod_ip_delay_ms", 3000}}}}));
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("late");
  ASSERT_TRUE(
      k->create_pod("late", KubeletHarness::agent_pod("server", {"net-server", "--listen", "0.0.0.0:7416"})));
  // Running is seen before the pod has its IP (the API allows it; a client must wait for status.podIP).
  json running = k->wait_phase("late", "server", {"Running"});
  ASSERT_FALSE(running.is_null());
  EXPECT_EQ(running["status"].value("podIP", ""), "") << running["status"].dump();
  json addressed =
      k->wait_pod("late", "server", [](const json& p) { return p["status"].value("podIP", "") != ""; });
  ASSERT_FALSE(addressed.is_null());
  EXPECT_TRUE(addressed["status"]["podIP"].get<std::string>().starts_with("10.238."));

  json host = KubeletHarness::agent_pod("host", {"net-server", "--help"});
  host["spec"]["hostNetwork"] = true;
  ASSERT_TRUE(k->create_pod("late", host));
  json on_host =
      k->wait_pod("late", "host", [](const json& p) { return p["status"].value("podIP", "") != ""; });
  ASSERT_FALSE(on_host.is_null());
  EXPECT_EQ(on_host["status"]["podIP"], on_host["status"]["hostIP"]);
}

// The cgroup of the process whose command line holds `marker`, for `controller` ("cpu", or "" for v2).
std::string cgroup_of(const std::string& marker, const std::string& controller) {
  std::vector<std::string> pids = pids_with(marker);
  std::string pid = pids.empty() ? "none" : pids.front();
  std::ifstream file("/proc/" + pid + "/cgroup");
  std::string line;
  while (std::getline(file, line)) {
    std::string rest = line.substr(line.find(':') + 1);
    std::string controllers = rest.substr(0, rest.find(':'));
    if (controllers == controller || controllers.find(controller + ",") == 0) {
      return rest.substr(rest.find(':') + 1);
    }
  }
  return "";
}

TEST_F(Kubelet, ResourceLimitsBecomeACgroupQuotaAndAnOomKillIsOOMKilled) {
  auto k = start("limits");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("lim");
  json limited = KubeletHarness::agent_pod("limited", {"net-server", "--listen", "0.0.0.0:7417"});
  limited["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "500m"}, {"memory", "64Mi"}}}};
  ASSERT_TRUE(k->create_pod("lim", limited));
  ASSERT_FALSE(k->wait_phase("lim", "limited", {"Running"}).is_null());
  ASSERT_TRUE(KubeletHarness::wait_for([] { return processes_with("0.0.0.0:7417") == 1; }));
  EXPECT_EQ(k->pod("lim", "limited")["status"].value("qosClass", ""), "Guaranteed");  // limits = requests
  std::string v1 = cgroup_of("0.0.0.0:7417", "cpu");
  std::string v2 = cgroup_of("0.0.0.0:7417", "");
  std::string quota;
  if (v1.find("/kpf") != std::string::npos) {
    quota = run_text("cat /sys/fs/cgroup/cpu" + v1 + "/cpu.cfs_quota_us");
    EXPECT_EQ(quota, "50000\n");
  } else if (v2.find("/kpf") != std::string::npos) {
    quota = run_text("cat /sys/fs/cgroup" + v2 + "/cpu.max");
    EXPECT_EQ(quota, "50000 100000\n");
  } else {
    GTEST_SKIP() << "this host does not let the fixture make cgroups with cpu and memory (" << v1 << ", "
                 << v2 << ")";
  }

  // The container sees the cgroup trees (an agent sizes its threads from its quota).
  std::string pid = pids_with("0.0.0.0:7417").front();
  EXPECT_NE(run_text("cat /proc/" + pid + "/mountinfo").find(" - cgroup"), std::string::npos);

  json small = KubeletHarness::agent_pod("small", {"net-server", "--listen", "0.0.0.0:7418"});
  small["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "2Mi"}}}};
  ASSERT_TRUE(k->create_pod("lim", small));
  json killed = k->wait_pod("lim", "small", terminal);
  ASSERT_FALSE(killed.is_null());
  EXPECT_EQ(killed["status"]["phase"], "Failed");
  EXPECT_EQ(terminated_state(killed).value("reason", ""), "OOMKilled") << killed["status"].dump();
  EXPECT_EQ(terminated_state(killed).value("exitCode", 0), 137);
  EXPECT_EQ(killed["status"].value("qosClass", ""), "Burstable");
}

TEST_F(Kubelet, PodDeleteSendsSigtermAndTheLogIsReadableWhileItTerminates) {
  auto k = start("delete");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("del");
  ASSERT_TRUE(
      k->create_pod("del", KubeletHarness::agent_pod("server", {"net-server", "--listen", "0.0.0.0:7412"})));
  ASSERT_FALSE(k->wait_phase("del", "server", {"Running"}).is_null());
  ASSERT_TRUE(KubeletHarness::wait_for(
      [&] { return k->log("del", "server").second.find("listening") != std::string::npos; }));
  kube::Request request;
  request.method = "DELETE";
  request.path = "/api/v1/namespaces/del/pods/server";
  request.body = R"({"gracePeriodSeconds": 20})";
  request.content_type = "application/json";
  request.rate_limited = false;
  auto response = k->transport->call(request);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  // The object stays, marked, until its process has ended; the process got SIGTERM (not the 20 s SIGKILL).
  json ended = k->wait_pod(
      "del", "server",
      [](const json& p) {
        return p["metadata"].contains("deletionTimestamp") && terminated_state(p).is_object();
      },
      std::chrono::seconds(10));
  ASSERT_FALSE(ended.is_null()) << k->pod("del", "server").dump();
  auto [code, log] = k->log("del", "server");
  EXPECT_EQ(code, 200);
  EXPECT_NE(log.find("interrupted"), std::string::npos) << log;  // the agent's SIGTERM handler ran
  EXPECT_TRUE(KubeletHarness::wait_for([&] { return k->pod("del", "server").is_null(); }));
  EXPECT_EQ(processes_with("0.0.0.0:7412"), 0);
}

TEST_F(Kubelet, NamespaceDeleteAndFixtureExitLeaveNoProcessNetnsOrNetworkBehind) {
  auto k = start("cleanup");
  ASSERT_TRUE(k->fixture.ok());
  std::string network = k->network_name();
  ASSERT_FALSE(network.empty());
  k->make_namespace("gone");
  ASSERT_TRUE(
      k->create_pod("gone", KubeletHarness::agent_pod("a", {"net-server", "--listen", "0.0.0.0:7413"})));
  ASSERT_TRUE(
      k->create_pod("gone", KubeletHarness::agent_pod("b", {"net-server", "--listen", "0.0.0.0:7413"})));
  ASSERT_FALSE(k->wait_phase("gone", "a", {"Running"}).is_null());
  ASSERT_FALSE(k->wait_phase("gone", "b", {"Running"}).is_null());
  ASSERT_TRUE(KubeletHarness::wait_for([] { return processes_with("0.0.0.0:7413") == 2; }));
  EXPECT_EQ(netns_of(network).size(), 2u);
  ASSERT_TRUE(k->api->remove(core("namespaces", "Namespace", false), "", "gone"));
  ASSERT_TRUE(KubeletHarness::wait_for(
      [&] { return !k->api->get(core("namespaces", "Namespace", false), "", "gone").has_value(); }));
  EXPECT_EQ(processes_with("0.0.0.0:7413"), 0);
  EXPECT_TRUE(netns_of(network).empty());

  // A pod still running when the fixture exits (SIGTERM) goes too, with the bridge and the nft table.
  k->make_namespace("left");
  ASSERT_TRUE(
      k->create_pod("left", KubeletHarness::agent_pod("c", {"net-server", "--listen", "0.0.0.0:7414"})));
  ASSERT_FALSE(k->wait_phase("left", "c", {"Running"}).is_null());
  pid_t owner = k->fixture.pid();
  k.reset();
  EXPECT_EQ(processes_with("0.0.0.0:7414"), 0);
  // Gone, unless another fixture running at the same time has claimed the free name since.
  std::string alias = run_text("cat /sys/class/net/" + network + "/ifalias 2>/dev/null");
  EXPECT_EQ(alias.find(fmt::format("pid={}\n", owner)), std::string::npos) << alias;
  if (alias.empty()) {
    EXPECT_TRUE(netns_of(network).empty());
    EXPECT_EQ(run_text("nft list table ip " + network + " 2>/dev/null"), "");
  }
}

TEST_F(Kubelet, ACrashedFixturesNetworkIsRemovedByTheNextOne) {
  std::string network;
  std::string mount_point = fmt::format("/kp-fixture-test-mount-{}", getpid());
  pid_t crashed_pid = 0;
  {
    auto crashed = start("crashed");
    ASSERT_TRUE(crashed->fixture.ok());
    network = crashed->network_name();
    crashed->make_namespace("c");
    json pod = KubeletHarness::agent_pod("s", {"net-server", "--listen", "0.0.0.0:7415"});
    // A mountPath missing on the host: the fixture makes it for the pod (and must remove it, even after a
    // crash).
    pod["spec"]["volumes"] = {{{"name", "scratch"}, {"emptyDir", json::object()}}};
    pod["spec"]["containers"][0]["volumeMounts"] = {{{"name", "scratch"}, {"mountPath", mount_point}}};
    ASSERT_TRUE(crashed->create_pod("c", pod));
    ASSERT_FALSE(crashed->wait_phase("c", "s", {"Running"}).is_null());
    crashed_pid = crashed->fixture.pid();
    kill(crashed_pid, SIGKILL);  // no cleanup runs: bridge, netns, table and the agent stay
  }                              // (the helper reaps the killed fixture)
  ASSERT_FALSE(netns_of(network).empty());
  ASSERT_EQ(processes_with("0.0.0.0:7415"), 1);
  ASSERT_TRUE(std::filesystem::is_directory(mount_point));
  auto next = start("next");
  ASSERT_TRUE(next->fixture.ok());
  // The next fixture removed the dead one's instance: its agent, its mount point, its bridge. The name may be
  // claimed again (by `next` or another fixture running at the same time, which then owns what has that
  // name).
  EXPECT_EQ(processes_with("0.0.0.0:7415"), 0);
  EXPECT_FALSE(std::filesystem::exists(mount_point));
  std::string owner = run_text("cat /sys/class/net/" + network + "/ifalias 2>/dev/null");
  EXPECT_EQ(owner.find(fmt::format("pid={}\n", crashed_pid)), std::string::npos) << owner;
  if (owner.empty() || owner.find(fmt::format("pid={}\n", next->fixture.pid())) != std::string::npos) {
    EXPECT_TRUE(netns_of(network).empty());  // `next` has no pods
  }
  if (owner.empty()) {
    EXPECT_EQ(run_text("nft list table ip " + network + " 2>/dev/null"), "");
  }
}

}  // namespace
}  // namespace kp::testing
