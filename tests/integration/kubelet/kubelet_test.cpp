// The API fixture's process kubelet (tests/fixtures/kube-apiserver): agent pods really run as the kubeproof
// binary under test, in their own network namespaces, and the API shows what a real cluster shows:
// networking, Services, exit codes, images that cannot run, scheduling. Needs root; skipped with the reason
// otherwise.

#include "kubelet_harness.hpp"

namespace kp::testing {
namespace {

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

// Issue 15's finding: a Service in front of two servers splits one test's connections between them, unless
// sessionAffinity ClientIP keeps a client on one endpoint.
TEST_F(Kubelet, ClientIpAffinityKeepsAMultiStreamTestOnOneOfTwoEndpoints) {
  auto k = start("affinity");
  ASSERT_TRUE(k->fixture.ok());
  k->make_namespace("aff");
  for (std::string name : {"pair-a", "pair-b"}) {
    json server = KubeletHarness::agent_pod(name, {"net-server"});
    server["metadata"]["labels"]["group"] = "pair";
    server["spec"]["containers"][0]["readinessProbe"] = {{"tcpSocket", {{"port", 7410}}}};
    ASSERT_TRUE(k->create_pod("aff", server));
  }
  json service = {{"metadata", {{"name", "pair"}}},
                  {"spec",
                   {{"selector", {{"group", "pair"}}},
                    {"sessionAffinity", "ClientIP"},
                    {"ports", {{{"name", "tcp"}, {"port", 7410}, {"protocol", "TCP"}}}}}}};
  auto created = k->api->create(core("services", "Service"), "aff", service);
  ASSERT_TRUE(created);
  std::string cluster_ip = (*created)["spec"].value("clusterIP", "");
  ASSERT_TRUE(KubeletHarness::wait_for([&] {
    kube::ListOptions options;
    options.label_selector = "kubernetes.io/service-name=pair";
    auto slices = k->api->list(
        kube::Resource{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true}, "aff", options);
    if (!slices || slices->items.size() != 1 || slices->items[0]["endpoints"].size() != 2) {
      return false;
    }
    for (const json& endpoint : slices->items[0]["endpoints"]) {
      if (!endpoint["conditions"].value("ready", false)) {
        return false;
      }
    }
    return true;
  }));
  // Control and four data connections: without affinity, all five land on one server 1 time in 16.
  ASSERT_TRUE(k->create_pod(
      "aff", KubeletHarness::agent_pod("client", {"net-client", "--server", cluster_ip + ":7410", "--streams",
                                                  "4", "--duration", "1s", "--warmup", "200ms"})));
  json done = k->wait_pod("aff", "client", terminal);
  ASSERT_FALSE(done.is_null());
  std::string log = k->log("aff", "client").second;
  EXPECT_EQ(done["status"]["phase"], "Succeeded") << log;
  json result = KubeletHarness::result_line(log, "kubeproof.agent.net-client");
  ASSERT_TRUE(result.is_object()) << log;
  EXPECT_TRUE(result.value("complete", false)) << result.dump().substr(0, 400);
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

}  // namespace
}  // namespace kp::testing
