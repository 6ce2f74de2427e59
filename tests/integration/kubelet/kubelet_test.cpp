// The API fixture's process kubelet (tests/fixtures/kube-apiserver): agent pods really run as the kubeproof
// binary under test, in their own network namespaces, and the API shows what a real cluster shows. Needs root
// (network namespaces, nftables, setpriv); skipped with the reason otherwise.

#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "kubelet_harness.hpp"

namespace kp::testing {
namespace {

class Kubelet : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      GTEST_SKIP() << "the process kubelet needs root (network namespaces, nftables, setpriv)";
    }
  }
  // One harness per test (a test's own fixture, so its names and leftovers are its own).
  std::unique_ptr<KubeletHarness> start(const std::string& name, json config = kubelet_config()) {
    auto harness = std::make_unique<KubeletHarness>(name, std::move(config));
    EXPECT_TRUE(harness->fixture.ok()) << harness->fixture.error();
    return harness;
  }
};

bool terminal(const json& pod) {
  std::string phase = pod["status"].value("phase", "");
  return phase == "Succeeded" || phase == "Failed";
}

json terminated_state(const json& pod) {
  return pod["status"]["containerStatuses"][0]["state"].value("terminated", json());
}

TEST_F(Kubelet, NetAgentsOnTwoNodesMeasurePodToPodAndThroughAClusterIpService) {
  auto k = start("net");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("net");
  json server = KubeletHarness::agent_pod("server", {"net-server", "--listen", "0.0.0.0:7410"});
  // Ready only once the port accepts on the pod IP: the EndpointSlice follows readiness.
  server["spec"]["containers"][0]["readinessProbe"] = {{"tcpSocket", {{"port", 7410}}}, {"periodSeconds", 1}};
  server["spec"]["containers"][0]["ports"] = {{{"containerPort", 7410}, {"protocol", "TCP"}},
                                              {{"containerPort", 7410}, {"protocol", "UDP"}}};
  ASSERT_TRUE(k->create_pod("net", server));
  json running = k->wait_pod("net", "server", [](const json& p) {
    return p["status"].value("podIP", "") != "" && KubeletHarness::ready(p);
  });
  ASSERT_FALSE(running.is_null()) << k->pod("net", "server").dump();
  std::string server_ip = running["status"]["podIP"];
  EXPECT_EQ(running["status"]["phase"], "Running");
  EXPECT_TRUE(running["status"]["containerStatuses"][0]["state"].contains("running"));

  // Pod to pod, on the other node (required anti-affinity on kubernetes.io/hostname).
  json client =
      KubeletHarness::agent_pod("client", {"net-client", "--server", server_ip + ":7410", "--scenario",
                                           "TCP_STREAM", "--duration", "1s", "--warmup", "200ms"});
  client["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = {
      {{"labelSelector", {{"matchLabels", {{"kubeproof.io/agent", "server"}}}}},
       {"topologyKey", "kubernetes.io/hostname"}}};
  ASSERT_TRUE(k->create_pod("net", client));
  json done = k->wait_pod("net", "client", terminal);
  ASSERT_FALSE(done.is_null());
  EXPECT_EQ(done["status"]["phase"], "Succeeded") << k->log("net", "client").second;
  EXPECT_NE(done["spec"]["nodeName"], running["spec"]["nodeName"]);
  EXPECT_EQ(terminated_state(done).value("exitCode", -1), 0);
  json result = KubeletHarness::result_line(k->log("net", "client").second, "kubeproof.agent.net-client");
  ASSERT_TRUE(result.is_object()) << k->log("net", "client").second;
  EXPECT_TRUE(result.value("complete", false)) << result.dump();
  EXPECT_EQ(result.value("error", "x"), "");

  // Through a ClusterIP Service, TCP and UDP on the same port, once its EndpointSlice lists a ready endpoint.
  json service = {{"metadata", {{"name", "server"}}},
                  {"spec",
                   {{"selector", {{"kubeproof.io/agent", "server"}}},
                    {"ports",
                     {{{"name", "tcp"}, {"port", 7410}, {"protocol", "TCP"}},
                      {{"name", "udp"}, {"port", 7410}, {"protocol", "UDP"}}}}}}};
  auto created = k->api->create(core("services", "Service"), "net", service);
  ASSERT_TRUE(created) << created.error().error.message;
  std::string cluster_ip = (*created)["spec"].value("clusterIP", "");
  ASSERT_FALSE(cluster_ip.empty());
  ASSERT_TRUE(KubeletHarness::wait_for([&] {
    kube::ListOptions options;
    options.label_selector = "kubernetes.io/service-name=server";
    auto slices = k->api->list(
        kube::Resource{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true}, "net", options);
    return slices && slices->items.size() == 1 && !slices->items[0]["endpoints"].empty() &&
           slices->items[0]["endpoints"][0]["conditions"].value("ready", false) &&
           slices->items[0]["endpoints"][0]["addresses"][0] == server_ip;
  }));
  // A Service without a ready endpoint refuses (kube-proxy's REJECT), from pods and from the host.
  json lonely = {{"metadata", {{"name", "lonely"}}},
                 {"spec", {{"selector", {{"kubeproof.io/agent", "nobody"}}}, {"ports", {{{"port", 7410}}}}}}};
  auto unserved = k->api->create(core("services", "Service"), "net", lonely);
  ASSERT_TRUE(unserved);
  std::string unserved_ip = (*unserved)["spec"].value("clusterIP", "");
  ASSERT_TRUE(k->create_pod(
      "net", KubeletHarness::agent_pod(
                 "refused", {"net-client", "--server", unserved_ip + ":7410", "--duration", "1s"})));
  json refused = k->wait_pod("net", "refused", terminal);
  ASSERT_FALSE(refused.is_null());
  EXPECT_EQ(refused["status"]["phase"], "Failed");
  EXPECT_NE(k->log("net", "refused").second.find("Connection refused"), std::string::npos)
      << k->log("net", "refused").second;

  for (std::string scenario : {"TCP_RR", "UDP_RR"}) {
    std::string name = scenario == "TCP_RR" ? "svc-tcp" : "svc-udp";
    ASSERT_TRUE(k->create_pod(
        "net", KubeletHarness::agent_pod(name, {"net-client", "--server", cluster_ip + ":7410", "--scenario",
                                                scenario, "--duration", "1s", "--warmup", "200ms"})));
    json finished = k->wait_pod("net", name, terminal);
    ASSERT_FALSE(finished.is_null());
    std::string log = k->log("net", name).second;
    EXPECT_EQ(finished["status"]["phase"], "Succeeded") << log;
    json line = KubeletHarness::result_line(log, "kubeproof.agent.net-client");
    ASSERT_TRUE(line.is_object()) << log;
    EXPECT_TRUE(line.value("complete", false)) << scenario << ": " << line.dump().substr(0, 400);
    EXPECT_GT(line["latency"]["uncorrected"].value("count", 0), 100) << scenario;
  }
}

TEST_F(Kubelet, ExitCodesGiveSucceededAndFailedAndTheLogHoldsTheOutput) {
  auto k = start("exit");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("exit");
  ASSERT_TRUE(k->create_pod("exit", KubeletHarness::agent_pod("ok", {"net-server", "--help"})));
  ASSERT_TRUE(k->create_pod("exit", KubeletHarness::agent_pod("bad", {"net-client", "--server", "nowhere"})));
  json ok = k->wait_pod("exit", "ok", terminal);
  json bad = k->wait_pod("exit", "bad", terminal);
  ASSERT_FALSE(ok.is_null());
  ASSERT_FALSE(bad.is_null());
  EXPECT_EQ(ok["status"]["phase"], "Succeeded");
  EXPECT_EQ(terminated_state(ok).value("reason", ""), "Completed");
  EXPECT_EQ(bad["status"]["phase"], "Failed");
  EXPECT_EQ(terminated_state(bad).value("exitCode", 0), 2);  // usage error
  EXPECT_EQ(terminated_state(bad).value("reason", ""), "Error");
  auto [code, text] = k->log("exit", "bad");
  EXPECT_EQ(code, 200);
  EXPECT_NE(text.find("nowhere"), std::string::npos) << text;  // stderr is in the log too
  auto [tail_code, tail] = k->log("exit", "ok", "?tailLines=1");
  EXPECT_EQ(tail_code, 200);
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 1) << tail;

  // restartPolicy Always: the kubelet restarts a failing container, with CrashLoopBackOff in between.
  json crash = KubeletHarness::agent_pod("crash", {"net-client", "--server", "nowhere"});
  crash["spec"]["restartPolicy"] = "Always";
  ASSERT_TRUE(k->create_pod("exit", crash));
  json looping = k->wait_pod("exit", "crash", [](const json& p) {
    return KubeletHarness::waiting_reason(p) == "CrashLoopBackOff" &&
           p["status"]["containerStatuses"][0].value("restartCount", 0) >= 1;
  });
  ASSERT_FALSE(looping.is_null()) << k->pod("exit", "crash").dump();
  EXPECT_EQ(looping["status"]["containerStatuses"][0]["lastState"]["terminated"].value("exitCode", 0), 2);
}

TEST_F(Kubelet, ImagesThatCannotRunReportTheKubeletsReasonAndEvents) {
  auto k = start("image");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("img");
  json never = KubeletHarness::agent_pod("never", {"net-server"}, "registry.example.com/other-image:1.0");
  never["spec"]["containers"][0]["imagePullPolicy"] = "Never";
  ASSERT_TRUE(k->create_pod("img", never));
  std::string invalid_image = "registry.kubeproof.invalid/kubeproof-agent:0.1";
  ASSERT_TRUE(k->create_pod("img", KubeletHarness::agent_pod("pull", {"net-server"}, invalid_image)));

  json never_pod = k->wait_pod(
      "img", "never", [](const json& p) { return KubeletHarness::waiting_reason(p) == "ErrImageNeverPull"; });
  ASSERT_FALSE(never_pod.is_null()) << k->pod("img", "never").dump();
  EXPECT_EQ(never_pod["status"]["phase"], "Pending");
  EXPECT_TRUE(k->has_event("img", "never", "ErrImageNeverPull", "is not present with pull policy of Never"));
  auto [code, body] = k->log("img", "never");
  EXPECT_EQ(code, 400);
  EXPECT_NE(body.find("container \\\"agent\\\" in pod \\\"never\\\" is waiting to start"), std::string::npos)
      << body;

  // A reference the runtime cannot parse, and a non-root policy the container breaks: the kubelet's reasons.
  ASSERT_TRUE(k->create_pod("img", KubeletHarness::agent_pod("upper", {"net-server"}, "Kubeproof-Agent:1")));
  json root = KubeletHarness::agent_pod("root", {"net-server"});
  root["spec"]["securityContext"] = {{"runAsNonRoot", true}, {"runAsUser", 0}};
  ASSERT_TRUE(k->create_pod("img", root));
  json upper = k->wait_pod(
      "img", "upper", [](const json& p) { return KubeletHarness::waiting_reason(p) == "InvalidImageName"; });
  EXPECT_FALSE(upper.is_null()) << k->pod("img", "upper").dump();
  json refused = k->wait_pod("img", "root", [](const json& p) {
    return KubeletHarness::waiting_reason(p) == "CreateContainerConfigError";
  });
  ASSERT_FALSE(refused.is_null()) << k->pod("img", "root").dump();
  EXPECT_NE(
      refused["status"]["containerStatuses"][0]["state"]["waiting"].value("message", "").find("non-root"),
      std::string::npos);

  json backoff = k->wait_pod(
      "img", "pull", [](const json& p) { return KubeletHarness::waiting_reason(p) == "ImagePullBackOff"; });
  ASSERT_FALSE(backoff.is_null()) << k->pod("img", "pull").dump();
  EXPECT_NE(
      backoff["status"]["containerStatuses"][0]["state"]["waiting"].value("message", "").find(invalid_image),
      std::string::npos);
  EXPECT_TRUE(k->has_event("img", "pull", "Failed", "Failed to pull image \"" + invalid_image + "\""));
  EXPECT_TRUE(k->has_event("img", "pull", "BackOff", "Back-off pulling image \"" + invalid_image + "\""));
}

TEST_F(Kubelet, AnUnschedulablePodGetsItsConditionAndAFailedSchedulingEvent) {
  auto k = start("sched");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("sched");
  json pod = KubeletHarness::agent_pod("nowhere", {"net-server"});
  pod["spec"]["nodeSelector"] = {{"disktype", "nvme"}};
  ASSERT_TRUE(k->create_pod("sched", pod));
  json pending = k->wait_pod("sched", "nowhere", [](const json& p) {
    for (const json& c : p["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "PodScheduled" && c.value("status", "") == "False") {
        return c.value("reason", "") == "Unschedulable";
      }
    }
    return false;
  });
  ASSERT_FALSE(pending.is_null()) << k->pod("sched", "nowhere").dump();
  EXPECT_EQ(pending["status"]["phase"], "Pending");
  EXPECT_FALSE(pending["spec"].contains("nodeName"));
  EXPECT_TRUE(k->has_event("sched", "nowhere", "FailedScheduling", "0/2 nodes are available"));
  EXPECT_TRUE(
      k->has_event("sched", "nowhere", "FailedScheduling", "didn't match Pod's node affinity/selector"));
}

TEST_F(Kubelet, TheSchedulerHonoursTaintsTolerationsCordonsAndAntiAffinity) {
  json nodes = {
      {{"name", "plain"}},
      {{"name", "tainted"}, {"taints", {{{"key", "dedicated"}, {"value", "db"}, {"effect", "NoSchedule"}}}}},
      {{"name", "cordoned"}, {"unschedulable", true}}};
  auto k = start("sched2", kubelet_config({{"nodes", nodes}}));
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("s");
  // Pods of an image the kubelet does not run (synthetic lifecycle): scheduling alone is under test.
  auto spread = [](const std::string& name, bool tolerate) {
    json pod = KubeletHarness::agent_pod(name, {}, "registry.example.com/pause:3.9");
    pod["metadata"]["labels"] = {{"group", "spread"}};
    pod["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = {
        {{"labelSelector", {{"matchLabels", {{"group", "spread"}}}}},
         {"topologyKey", "kubernetes.io/hostname"}}};
    if (tolerate) {
      pod["spec"]["tolerations"] = {
          {{"key", "dedicated"}, {"operator", "Equal"}, {"value", "db"}, {"effect", "NoSchedule"}}};
    }
    return pod;
  };
  auto node_of = [&](const std::string& name) {
    json p = k->wait_pod("s", name, [](const json& pod) { return pod["spec"].contains("nodeName"); });
    return p.is_null() ? std::string("(unscheduled)") : p["spec"].value("nodeName", "");
  };
  ASSERT_TRUE(k->create_pod("s", spread("first", false)));
  EXPECT_EQ(node_of("first"), "plain");
  ASSERT_TRUE(k->create_pod("s", spread("second", false)));
  ASSERT_TRUE(KubeletHarness::wait_for([&] {
    return k->has_event(
        "s", "second", "FailedScheduling",
        "0/3 nodes are available: 1 node(s) didn't match pod anti-affinity rules, 1 node(s) had "
        "untolerated taint {dedicated: db}, 1 node(s) were unschedulable.");
  })) << (k->events("s", "second").empty() ? "no events" : k->events("s", "second").back().dump());
  ASSERT_TRUE(k->create_pod("s", spread("third", true)));
  EXPECT_EQ(node_of("third"), "tainted");

  json unknown_priority = KubeletHarness::agent_pod("prio", {}, "registry.example.com/pause:3.9");
  unknown_priority["spec"]["priorityClassName"] = "no-such-priority";
  auto refused = k->create_pod("s", unknown_priority);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, 403);
  EXPECT_NE(refused.error().error.message.find("no PriorityClass with name no-such-priority was found"),
            std::string::npos)
      << refused.error().error.message;
}

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
  std::string pid = run_text("pgrep -f -- '" + marker + "' | head -1");
  pid.erase(pid.find_last_not_of("\n") + 1);
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
  std::string pid = run_text("pgrep -f -- '0.0.0.0:7417' | head -1");
  pid.erase(pid.find_last_not_of("\n") + 1);
  EXPECT_NE(run_text("cat /proc/" + pid + "/mountinfo").find(" - cgroup"), std::string::npos);

  json small = KubeletHarness::agent_pod("small", {"net-server", "--listen", "0.0.0.0:7418"});
  small["spec"]["containers"][0]["resources"] = {{"limits", {{"memory", "2Mi"}}}};
  ASSERT_TRUE(k->create_pod("lim", small));
  json killed = k->wait_pod("lim", "small", terminal);
  ASSERT_FALSE(killed.is_null());
  EXPECT_EQ(killed["status"]["phase"], "Failed");
  EXPECT_EQ(terminated_state(killed).value("reason", ""), "OOMKilled") << killed["status"].dump();
  EXPECT_EQ(terminated_state(killed).value("exitCode", 0), 137);
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
  k.reset();
  EXPECT_EQ(processes_with("0.0.0.0:7414"), 0);
  EXPECT_TRUE(netns_of(network).empty());
  EXPECT_EQ(run_text("ip -br link show " + network + " 2>/dev/null"), "");
  EXPECT_EQ(run_text("nft list table ip " + network + " 2>/dev/null"), "");
}

TEST_F(Kubelet, ACrashedFixturesNetworkIsRemovedByTheNextOne) {
  std::string network;
  std::string mount_point = fmt::format("/kp-fixture-test-mount-{}", getpid());
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
    kill(crashed->fixture.pid(), SIGKILL);  // no cleanup runs: bridge, netns, table and the agent stay
  }                                         // (the helper reaps the killed fixture)
  ASSERT_FALSE(netns_of(network).empty());
  ASSERT_EQ(processes_with("0.0.0.0:7415"), 1);
  ASSERT_TRUE(std::filesystem::is_directory(mount_point));
  auto next = start("next");
  ASSERT_TRUE(next->fixture.ok());
  // The next fixture removed the dead one's instance (and may have taken its free name for itself).
  EXPECT_TRUE(netns_of(network).empty());
  EXPECT_EQ(processes_with("0.0.0.0:7415"), 0);
  EXPECT_FALSE(std::filesystem::exists(mount_point));
  if (next->network_name() != network) {
    EXPECT_EQ(run_text("ip -br link show " + network + " 2>/dev/null"), "");
    EXPECT_EQ(run_text("nft list table ip " + network + " 2>/dev/null"), "");
  }
}

}  // namespace
}  // namespace kp::testing
