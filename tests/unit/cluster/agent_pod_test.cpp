// Agent pod, Service and PVC manifests as JSON; image references; the agent image flags.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cluster/agent_pod.hpp"
#include "cluster/run.hpp"

namespace kp::cluster {
namespace {

AgentImage image() {
  return AgentImage{"registry.local:5000/kubeproof-agent:0.1.0-1a2b3c4", "IfNotPresent",
                    "registry.local:5000/kubeproof-agent-storage:0.1.0-1a2b3c4"};
}

AgentPodSpec server() {
  AgentPodSpec spec;
  spec.name = "net-server-0";
  spec.agent = "net-server-0";
  spec.args = {"net-server", "--listen", "0.0.0.0:7410"};
  spec.ports = {{"tcp", 7410}, {"udp", 7410}};
  return spec;
}

TEST(AgentPod, RestrictedByDefault) {
  json pod = agent_pod_manifest(server(), image(), PodSettings{}, "kp-1-network", "kp-1");
  EXPECT_EQ(pod["metadata"]["namespace"], "kp-1-network");
  EXPECT_EQ(pod["metadata"]["labels"][std::string(kRunLabel)], "kp-1");
  EXPECT_EQ(pod["metadata"]["labels"][std::string(kAgentLabel)], "net-server-0");
  const json& spec = pod["spec"];
  EXPECT_EQ(spec["restartPolicy"], "Never");
  // The runner's bound on a stopped agent's last words (PodRunner::stop_for_result) follows this.
  EXPECT_EQ(spec["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(spec["serviceAccountName"], "kubeproof-agent");
  EXPECT_EQ(spec["automountServiceAccountToken"], false);
  EXPECT_EQ(spec["enableServiceLinks"], false);
  EXPECT_EQ(spec["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(spec["securityContext"]["runAsUser"], 65534);
  EXPECT_EQ(spec["securityContext"]["runAsGroup"], 65534);
  EXPECT_EQ(spec["securityContext"]["fsGroup"], 65534);
  EXPECT_EQ(spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  const json& container = spec["containers"][0];
  EXPECT_EQ(container["name"], "agent");
  EXPECT_EQ(container["image"], "registry.local:5000/kubeproof-agent:0.1.0-1a2b3c4");
  EXPECT_EQ(container["imagePullPolicy"], "IfNotPresent");
  EXPECT_FALSE(container.contains("command")) << "the image's entrypoint is `kubeproof agent`";
  EXPECT_EQ(container["args"], json::parse(R"(["net-server", "--listen", "0.0.0.0:7410"])"));
  EXPECT_EQ(container["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(container["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(container["securityContext"]["capabilities"]["drop"], json::array({"ALL"}));
  // The read-only root needs a writable /tmp for the agent's work files.
  EXPECT_EQ(container["volumeMounts"][0], json::parse(R"({"name": "tmp", "mountPath": "/tmp"})"));
  EXPECT_EQ(spec["volumes"][0], json::parse(R"({"name": "tmp", "emptyDir": {}})"));
  EXPECT_FALSE(spec.contains("affinity"));
  EXPECT_FALSE(spec.contains("hostNetwork"));
  AgentPodSpec client = server();
  client.ports.clear();
  EXPECT_FALSE(
      agent_pod_manifest(client, image(), PodSettings{}, "ns", "kp-1")["spec"]["containers"][0].contains(
          "readinessProbe"));
}

TEST(AgentPod, PortsEnvAndResources) {
  PodSettings settings;
  settings.resources = json::parse(R"({"requests": {"cpu": "500m"}, "limits": {"memory": "256Mi"}})");
  settings.priority_class = "kubeproof-high";
  json pod = agent_pod_manifest(server(), image(), settings, "ns", "kp-1");
  const json& container = pod["spec"]["containers"][0];
  EXPECT_EQ(container["ports"], json::parse(R"([
      {"name": "tcp-7410", "containerPort": 7410, "protocol": "TCP"},
      {"name": "udp-7410", "containerPort": 7410, "protocol": "UDP"}])"));
  EXPECT_EQ(container["readinessProbe"], json::parse(R"({"tcpSocket": {"port": 7410}, "periodSeconds": 1})"))
      << "a server is ready when it accepts";
  EXPECT_EQ(container["resources"], settings.resources);
  EXPECT_EQ(pod["spec"]["priorityClassName"], "kubeproof-high");
  std::map<std::string, json> env;
  for (const json& item : container["env"]) {
    env[item["name"]] = item;
  }
  EXPECT_EQ(env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP");
  EXPECT_EQ(env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
  EXPECT_EQ(env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
  EXPECT_EQ(env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
  EXPECT_EQ(env["HOST_IP"]["valueFrom"]["fieldRef"]["fieldPath"], "status.hostIP");
  EXPECT_EQ(env["TMPDIR"]["value"], "/tmp");
}

TEST(AgentPod, PlacementBecomesAffinityScopedToTheRun) {
  AgentPodSpec client = server();
  client.name = "net-client-0";
  client.agent = "net-client-0";
  client.placement.away_from = "net-server-0";
  json pod = agent_pod_manifest(client, image(), PodSettings{}, "ns", "kp-1");
  EXPECT_EQ(pod["spec"]["affinity"],
            json::parse(R"({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
      {"labelSelector": {"matchLabels": {"kubeproof.io/agent": "net-server-0", "kubeproof.io/run": "kp-1"}},
       "topologyKey": "kubernetes.io/hostname"}]}})"));
  client.placement = Placement{};
  client.placement.next_to = "net-server-0";
  client.placement.topology_key = "topology.kubernetes.io/zone";
  pod = agent_pod_manifest(client, image(), PodSettings{}, "ns", "kp-1");
  EXPECT_EQ(pod["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
               ["topologyKey"],
            "topology.kubernetes.io/zone");
  EXPECT_FALSE(pod["spec"]["affinity"].contains("podAntiAffinity"));
  client.placement = Placement{};
  client.placement.node_name = "node-b";
  pod = agent_pod_manifest(client, image(), PodSettings{}, "ns", "kp-1");
  EXPECT_EQ(pod["spec"]["nodeName"], "node-b");
}

// Agents that share a load (dns, ingress from pods): one label for the group, a preferred anti-affinity to it
// on the node, and no nodeName (the scheduler places them, honouring taints, selectors and resources).
TEST(AgentPod, AgentsOfOneLoadPreferDifferentNodes) {
  AgentPodSpec agent;
  agent.name = "dns-agent-1";
  agent.args = {"dns", "--resolver", "pod"};
  spread_over_nodes(agent, "dns-agent");
  json pod = agent_pod_manifest(agent, image(), PodSettings{}, "ns", "kp-1");
  EXPECT_EQ(pod["metadata"]["labels"][std::string(kAgentLabel)], "dns-agent");
  EXPECT_FALSE(pod["spec"].contains("nodeName"));
  EXPECT_EQ(pod["spec"]["affinity"],
            json::parse(R"({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
      {"weight": 100, "podAffinityTerm": {
         "labelSelector": {"matchLabels": {"kubeproof.io/agent": "dns-agent", "kubeproof.io/run": "kp-1"}},
         "topologyKey": "kubernetes.io/hostname"}}]}})"));
}

TEST(AgentPod, NodeSelectorTolerationsAndHostNetwork) {
  PodSettings settings;
  settings.node_selector = {{"kubeproof.io/bench", "true"}};
  settings.tolerations =
      json::parse(R"([{"key": "dedicated", "operator": "Equal", "value": "bench", "effect": "NoSchedule"}])");
  AgentPodSpec spec = server();
  spec.host_network = true;
  json pod = agent_pod_manifest(spec, image(), settings, "ns", "kp-1");
  // Linux nodes of the image's architecture, and the plan's selector merged in.
  EXPECT_EQ(pod["spec"]["nodeSelector"], json({{"kubeproof.io/bench", "true"},
                                               {"kubernetes.io/os", "linux"},
                                               {"kubernetes.io/arch", std::string(build_architecture())}}));
  EXPECT_EQ(pod["spec"]["tolerations"], settings.tolerations);
  EXPECT_EQ(pod["spec"]["hostNetwork"], true);
  EXPECT_EQ(pod["spec"]["dnsPolicy"], "ClusterFirstWithHostNet");
}

// Windows nodes of a mixed cluster never get an agent; the plan's keys win, so an image built for another
// architecture can say so.
TEST(AgentPod, EveryPodSelectsLinuxNodesOfTheImagesArchitecture) {
  PodSettings settings;
  json pod = agent_pod_manifest(server(), image(), settings, "ns", "kp-1");
  EXPECT_EQ(pod["spec"]["nodeSelector"]["kubernetes.io/os"], "linux");
#if defined(__x86_64__)
  EXPECT_EQ(build_architecture(), "amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(build_architecture(), "arm64");
#endif
  EXPECT_EQ(pod["spec"]["nodeSelector"]["kubernetes.io/arch"], std::string(build_architecture()));
  settings.node_selector = {{"kubernetes.io/arch", "riscv64"}};
  pod = agent_pod_manifest(server(), image(), settings, "ns", "kp-1");
  EXPECT_EQ(pod["spec"]["nodeSelector"],
            json({{"kubernetes.io/os", "linux"}, {"kubernetes.io/arch", "riscv64"}}));
}

TEST(AgentPod, VolumesAndTheStorageImage) {
  AgentPodSpec spec;
  spec.name = "storage-0";
  spec.agent = "storage-0";
  spec.args = {"storage", "--dir", "/data"};
  spec.volumes = {VolumeMount{"data", "/data", "kp-1-volume", false, "", false},
                  VolumeMount{"ram", "/ram", "", true, "", false},
                  VolumeMount{"scratch", "/scratch", "", false, "", false}};
  spec.fs_group = 2000;
  spec.image = image().storage();
  json pod = agent_pod_manifest(spec, image(), PodSettings{}, "ns", "kp-1");
  EXPECT_EQ(pod["spec"]["containers"][0]["image"],
            "registry.local:5000/kubeproof-agent-storage:0.1.0-1a2b3c4");
  EXPECT_EQ(pod["spec"]["securityContext"]["fsGroup"], 2000);
  const json& volumes = pod["spec"]["volumes"];
  ASSERT_EQ(volumes.size(), 4U);
  EXPECT_EQ(volumes[1],
            json::parse(R"({"name": "data", "persistentVolumeClaim": {"claimName": "kp-1-volume"}})"));
  EXPECT_EQ(volumes[2], json::parse(R"({"name": "ram", "emptyDir": {"medium": "Memory"}})"));
  EXPECT_EQ(volumes[3], json::parse(R"({"name": "scratch", "emptyDir": {}})"));
  EXPECT_EQ(pod["spec"]["containers"][0]["volumeMounts"][1],
            json::parse(R"({"name": "data", "mountPath": "/data"})"));
}

TEST(AgentPod, NotRestricted) {
  PodSettings settings;
  settings.restricted = false;
  json pod = agent_pod_manifest(server(), image(), settings, "ns", "kp-1");
  EXPECT_FALSE(pod["spec"]["containers"][0].contains("securityContext"));
  EXPECT_EQ(pod["spec"]["securityContext"], json::parse(R"({"fsGroup": 65534})"));
}

TEST(AgentService, OneServerBothProtocols) {
  json service =
      agent_service_manifest("net-server-0", "net-server-0", {{"tcp", 7410}, {"udp", 7410}}, "kp-1");
  EXPECT_EQ(service["kind"], "Service");
  EXPECT_EQ(service["spec"]["type"], "ClusterIP");
  EXPECT_EQ(service["spec"]["selector"],
            json::parse(R"({"kubeproof.io/agent": "net-server-0", "kubeproof.io/run": "kp-1"})"));
  EXPECT_EQ(service["spec"]["ports"], json::parse(R"([
      {"name": "tcp-7410", "protocol": "TCP", "port": 7410, "targetPort": 7410},
      {"name": "udp-7410", "protocol": "UDP", "port": 7410, "targetPort": 7410}])"));
  EXPECT_EQ(service["metadata"]["labels"]["kubeproof.io/run"], "kp-1");
}

TEST(VolumeClaim, ClassAndSize) {
  json claim = volume_claim_manifest("data", "fast", 10ULL << 30, "kp-1");
  EXPECT_EQ(claim["spec"]["storageClassName"], "fast");
  EXPECT_EQ(claim["spec"]["accessModes"], json::array({"ReadWriteOnce"}));
  EXPECT_EQ(claim["spec"]["resources"]["requests"]["storage"], "10Gi");
  EXPECT_EQ(volume_claim_manifest("d", "", 512ULL << 20, "kp-1")["spec"]["resources"]["requests"]["storage"],
            "512Mi");
  EXPECT_EQ(volume_claim_manifest("d", "", 1000, "kp-1")["spec"]["resources"]["requests"]["storage"], "1000");
  EXPECT_FALSE(volume_claim_manifest("d", "", 1 << 30, "kp-1")["spec"].contains("storageClassName"))
      << "left out: the DefaultStorageClass admission fills in the default class";
}

TEST(ImageReference, Valid) {
  Result<ImageReference> full = parse_image_reference(
      "registry.local:5000/team/kubeproof-agent:0.1.0-1a2b3c4@sha256:"
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "--agent-image");
  ASSERT_TRUE(full) << full.error().message;
  EXPECT_EQ(full->registry, "registry.local:5000");
  EXPECT_EQ(full->repository, "team/kubeproof-agent");
  EXPECT_EQ(full->tag, "0.1.0-1a2b3c4");
  EXPECT_EQ(full->digest.substr(0, 7), "sha256:");
  EXPECT_EQ(full->name(), "kubeproof-agent");
  Result<ImageReference> plain = parse_image_reference("kubeproof-agent", "--agent-image");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->registry, "");
  EXPECT_EQ(plain->tag, "");
  Result<ImageReference> team = parse_image_reference("team/kubeproof-agent:x", "--agent-image");
  ASSERT_TRUE(team);
  EXPECT_EQ(team->registry, "") << "no '.', ':' or localhost: a path on the default registry";
  EXPECT_EQ(team->repository, "team/kubeproof-agent");
  EXPECT_EQ(parse_image_reference("localhost/kubeproof-agent:1", "--agent-image")->registry, "localhost");
  EXPECT_EQ(parse_image_reference("localhost:5000/a_b__c-d.e:1", "--agent-image")->repository, "a_b__c-d.e");
}

TEST(ImageReference, InvalidNamesTheFlagAndValue) {
  for (const char* bad : {"", "Kubeproof-Agent", "kubeproof-agent:", "a//b", "a:bad tag", "-agent",
                          "agent@sha256:xyz", "registry.local/", "bad_host_/agent", "agent:.x"}) {
    Result<ImageReference> parsed = parse_image_reference(bad, "--agent-image");
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().kind, ErrorKind::usage);
    EXPECT_TRUE(parsed.error().message.starts_with("--agent-image: ")) << parsed.error().message;
    EXPECT_NE(parsed.error().message.find(fmt::format("got \"{}\"", bad)), std::string::npos)
        << parsed.error().message;
  }
}

TEST(AgentImage, Flags) {
  Result<AgentImage> ok = parse_agent_image("kubeproof-agent:1", "Never");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->storage(), "kubeproof-agent:1") << "no storage image: the one image runs every agent";
  Result<AgentImage> policy = parse_agent_image("kubeproof-agent:1", "sometimes");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().kind, ErrorKind::usage);
  EXPECT_EQ(policy.error().message,
            "--image-pull-policy: must be one of: IfNotPresent, Always, Never, got \"sometimes\"");
  Result<AgentImage> storage = parse_agent_image("kubeproof-agent:1", "Always", "Bad");
  ASSERT_FALSE(storage);
  EXPECT_TRUE(storage.error().message.starts_with("--storage-agent-image: ")) << storage.error().message;
}

TEST(AgentImage, StorageVariant) {
  EXPECT_EQ(storage_variant("kubeproof-agent:1"), "kubeproof-agent-storage:1");
  EXPECT_EQ(storage_variant("reg.local:5000/team/kubeproof-agent:0.1.0-1a2b3c4"),
            "reg.local:5000/team/kubeproof-agent-storage:0.1.0-1a2b3c4");
  EXPECT_EQ(
      storage_variant("reg.local/kubeproof-agent:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef"
                      "0123456789abcdef"),
      "reg.local/kubeproof-agent-storage:1")
      << "a digest names one image only";
  EXPECT_EQ(storage_variant("Not An Image"), "Not An Image");
}

TEST(AgentImage, DefaultsAreVersionAndHash) {
  const std::string tag = std::string(KP_VERSION) + "-";
  EXPECT_TRUE(default_agent_image().starts_with("kubeproof-agent:" + tag)) << default_agent_image();
  EXPECT_TRUE(default_storage_agent_image().starts_with("kubeproof-agent-storage:" + tag));
  EXPECT_TRUE(parse_image_reference(default_agent_image(), "--agent-image"));
}

TEST(RunId, Format) {
  EXPECT_TRUE(new_run_id().starts_with("kp-"));
  EXPECT_EQ(new_run_id().size(), 11U);
}

}  // namespace
}  // namespace kp::cluster
