// `kubeproof run --target cluster --only ingress` with `from: pods` against the API server fixture's process
// kubelet: nginx runs as a pod (a real process in its own network namespace) behind a ClusterIP Service,
// published by an Ingress whose status names the Service's address (what ingress-nginx's --publish-service
// writes). kubeproof reads the Ingress, and three agent pods, spread over the fixture's two nodes and started
// at one wall-clock time, load it through the Service's DNAT with the Ingress rule's Host header. nginx's
// access log counts what really arrived. Then the clock-skew INVALID path (a node whose kubelet's clock is
// off), and the bad inputs.

#include <unistd.h>

#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "../../unit/cli/cli_runner.hpp"
#include "engine/cancellation.hpp"
#include "fake_apiserver.hpp"
#include "kube/api.hpp"

namespace kp {
namespace {

using cli::testing::Ran;
using cli::testing::Sandbox;
using nlohmann::json;

constexpr std::string_view kHost = "shop.kubeproof.test";

std::string skip_reason() {
  if (::geteuid() != 0) {
    return "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  for (const char* tool : {"/usr/sbin/nginx", "/usr/sbin/nft", "/usr/sbin/ip", "/usr/bin/python3"}) {
    if (::access(tool, X_OK) != 0) {
      return fmt::format("needs {}", tool);
    }
  }
  return "";
}

json kubelet_config(json extra = json::object()) {
  json kubelet = {{"binary", KP_BINARY}, {"images", {"kubeproof-agent"}}, {"host_images", {"nginx"}}};
  kubelet.update(extra);
  return json{{"kubelet", kubelet}};
}

kube::Resource resource(std::string group, std::string name, std::string kind) {
  return kube::Resource{.group = std::move(group),
                        .version = "v1",
                        .name = std::move(name),
                        .kind = std::move(kind),
                        .namespaced = true};
}

// A folder nginx (as root in its pod) and this test share; outside /tmp, which agent pods mount over.
class NginxFiles {
 public:
  NginxFiles() : dir_(fmt::format("/var/tmp/kp-scaleout-ingress-{}", ::getpid())) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "nginx.conf") << fmt::format(R"(daemon off;
worker_processes 1;
pid {0}/nginx.pid;
error_log stderr;
events {{ worker_connections 1024; }}
http {{
  client_body_temp_path {0}/body; proxy_temp_path {0}/proxy; fastcgi_temp_path {0}/fastcgi;
  uwsgi_temp_path {0}/uwsgi; scgi_temp_path {0}/scgi;
  server {{
    listen 8080 default_server;
    access_log off;
    return 404;
  }}
  server {{
    listen 8080;
    server_name {1};
    access_log {0}/access.log;
    location / {{ return 200 "storefront\n"; }}
  }}
}}
)",
                                                      dir_.string(), kHost);
  }
  ~NginxFiles() { std::filesystem::remove_all(dir_); }
  std::filesystem::path conf() const { return dir_ / "nginx.conf"; }
  std::size_t requests_served() const {
    return cli::testing::count_lines(cli::testing::read_file(dir_ / "access.log"));
  }

 private:
  std::filesystem::path dir_;
};

// The shop: namespace, the nginx pod (Ready once it accepts), its Service and an Ingress whose status names
// the Service's ClusterIP.
struct Shop {
  std::string cluster_ip;
  std::string error;
};

Shop make_shop(testing::FakeApiserver& server, const NginxFiles& files) {
  Shop shop;
  Result<kube::RestConfig> config = server.rest_config();
  Result<std::unique_ptr<kube::Transport>> transport =
      kube::Transport::create(*config, kube::ClientOptions{}, real_clock());
  if (!transport) {
    shop.error = transport.error().message;
    return shop;
  }
  kube::Api api(**transport);
  const auto failed = [&](const kube::ApiResult<json>& result, std::string_view what) {
    if (!result) {
      shop.error = fmt::format("{}: {}", what, result.error().error.message);
    }
    return !result;
  };
  if (failed(api.create(kube::namespaces_resource(), "", json{{"metadata", {{"name", "shop"}}}}),
             "namespace")) {
    return shop;
  }
  const json pod = {
      {"metadata", {{"name", "ingress-nginx-controller"}, {"labels", {{"app", "ingress-nginx"}}}}},
      {"spec",
       {{"restartPolicy", "Always"},
        {"securityContext", {{"runAsUser", 0}}},
        {"containers",
         {{{"name", "controller"},
           {"image", "registry.k8s.io/ingress-nginx/nginx:1.22"},
           {"command", {"/usr/sbin/nginx", "-c", files.conf().string(), "-e", "stderr"}},
           {"ports", {{{"containerPort", 8080}, {"name", "http"}}}},
           {"readinessProbe", {{"tcpSocket", {{"port", 8080}}}, {"periodSeconds", 1}}}}}}}}};
  // The namespace's default ServiceAccount comes with it (the fixture's controller, at once by default).
  if (failed(api.create(kube::pods_resource(), "shop", pod), "pod")) {
    return shop;
  }
  const json service = {{"metadata", {{"name", "ingress-nginx"}}},
                        {"spec",
                         {{"selector", {{"app", "ingress-nginx"}}},
                          {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", "http"}}}}}}};
  kube::ApiResult<json> created = api.create(resource("", "services", "Service"), "shop", service);
  if (failed(created, "service")) {
    return shop;
  }
  shop.cluster_ip = (*created)["spec"].value("clusterIP", "");
  json path = {{"path", "/"},
               {"pathType", "Prefix"},
               {"backend", {{"service", {{"name", "ingress-nginx"}, {"port", {{"number", 80}}}}}}}};
  json rule = {{"host", std::string(kHost)}, {"http", {{"paths", json::array({path})}}}};
  json ingress = {{"metadata", {{"name", "storefront"}}},
                  {"spec", {{"ingressClassName", "nginx"}, {"rules", json::array({rule})}}}};
  // Ignored at create, as the real API does: only the status subresource writes it.
  ingress["status"] = {{"loadBalancer", {{"ingress", json::array({json{{"ip", "192.0.2.1"}}})}}}};
  const kube::Resource ingresses = resource("networking.k8s.io", "ingresses", "Ingress");
  kube::ApiResult<json> stored = api.create(ingresses, "shop", ingress);
  if (failed(stored, "ingress")) {
    return shop;
  }
  // Read without operator[] on a missing member: the fixture rightly returns no status, and a null's value()
  // throws (this threw "cannot use value() with null" before the run started).
  const json::json_pointer given("/status/loadBalancer/ingress");
  if (stored->contains(given) && !stored->at(given).empty()) {
    shop.error = "the fixture kept a status given at create";
    return shop;
  }
  if (failed(api.patch(ingresses, "shop", "storefront/status",
                       json{{"status", {{"loadBalancer", {{"ingress", {{{"ip", shop.cluster_ip}}}}}}}}}),
             "ingress status")) {
    return shop;
  }
  // Ready = accepting on its pod IP (the readiness probe); the Service's DNAT follows it. Bounded.
  const TimePoint deadline = real_clock().now() + std::chrono::seconds(30);
  for (;;) {
    kube::ApiResult<json> now = api.get(kube::pods_resource(), "shop", "ingress-nginx-controller");
    bool ready = false;
    if (now) {
      // A pod just created has no status yet: read through a pointer (operator[] would insert a null, and a
      // null's value() throws).
      for (const json& condition : now->value("/status/conditions"_json_pointer, json::array())) {
        ready = ready || (condition.value("type", "") == "Ready" && condition.value("status", "") == "True");
      }
    }
    if (ready) {
      return shop;
    }
    if (real_clock().now() > deadline) {
      shop.error = "nginx never became Ready: " + (now ? now->dump() : now.error().error.message);
      return shop;
    }
    engine::CancellationToken never;
    never.wait_until(real_clock(), real_clock().now() + std::chrono::milliseconds(100));  // re-read the pod
  }
}

std::string plan_text(const std::string& settings) {
  return fmt::format(R"(name: cluster-ingress
type: smoke
target: cluster
criteria: {{storage_tier: ssd, cluster_size: small, pod_images: cached}}
capacity: {{ingress_rps: 300}}
phases:
  - phase: ingress
    duration: 1m
    load: 100%
    settings: {{connection_rate: "off", connections: 6, {}}}
)",
                     settings);
}

std::vector<std::string> args_for(const testing::FakeApiserver& server, const std::filesystem::path& plan) {
  // A smoke phase is 1..5 minutes; --duration-scale 0.05 makes it 3 s (and says so in the report).
  return {"run",      "--plan", plan.string(),      "--kubeconfig", server.kubeconfig(), "--only", "ingress",
          "--format", "json",   "--duration-scale", "0.05"};
}

// The ingress phase's object, or an empty object when the report has none (the assertions then say so). A
// copy: value() returns a temporary, so a reference into it would dangle.
json ingress_phase(const json& report) {
  for (const json& phase : report.value("phases", json::array())) {
    if (phase.value("phase", "") == "ingress") {
      return phase;
    }
  }
  return json::object();
}

TEST(ClusterIngress, ThreeAgentPodsLoadNginxInAPodThroughItsIngressAndTheirResultsMergeExactly) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server("scaleout-ingress", kubelet_config());
  ASSERT_TRUE(server.ok()) << server.error();
  NginxFiles files;
  const Shop shop = make_shop(server, files);
  ASSERT_TRUE(shop.error.empty()) << shop.error;
  Sandbox sandbox;
  const std::filesystem::path plan = sandbox.write(
      "plan.yaml", plan_text("from: pods, agents: 3, ingress: shop/storefront, pods: {start_lead: 3s}"));
  Ran ran = sandbox.run(args_for(server, plan));
  const json report = json::parse(ran.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << ran.out << ran.err;
  const json phase = ingress_phase(report);
  ASSERT_EQ(phase.value("status", ""), "completed") << phase.dump() << ran.err;
  EXPECT_EQ(phase.value("invalid_reasons", json::array()), json::array()) << phase.dump();
  // Every agent's summary is kept, and they ran on both nodes (preferred anti-affinity).
  std::uint64_t agent_responses = 0;
  std::set<std::string> nodes;
  int agents = 0;
  const std::regex agent_note(
      R"(^agent http-0-\d on (fixture-node-[ab]) \(requests\): 100/s offered, .* \((\d+) in )");
  std::string sum_note;
  for (const json& note : phase.value("notes", json::array())) {
    const std::string text = note.get<std::string>();
    std::smatch match;
    if (std::regex_search(text, match, agent_note)) {
      ++agents;
      nodes.insert(match[1].str());
      agent_responses += std::stoull(match[2].str());
    }
    if (text.starts_with("requests: 3 agent pods on 2 nodes, their sum: 300/s offered")) {
      sum_note = text;
    }
  }
  EXPECT_EQ(agents, 3) << phase["notes"].dump(1);
  EXPECT_EQ(nodes.size(), 2U) << phase["notes"].dump(1);
  EXPECT_FALSE(sum_note.empty()) << phase["notes"].dump(1);
  // Real traffic: about 300/s for 3 s arrived at nginx with the Ingress rule's Host header (any other host
  // gets the default server, which logs nothing), and the merged histogram holds exactly the agents' sum.
  EXPECT_GT(agent_responses, 800U);
  EXPECT_EQ(files.requests_served(), agent_responses);
  ASSERT_TRUE(phase["histograms"].contains("ingress.p99")) << phase["histograms"].dump();
  // The mergeable histogram's own count (docs/report-schema.md: "data"), not its summary's.
  EXPECT_EQ(phase["histograms"]["ingress.p99"].value("/data/count"_json_pointer, std::uint64_t{0}),
            agent_responses)
      << phase["histograms"]["ingress.p99"].dump();
  bool rps_row = false;
  for (const json& row : phase.value("rows", json::array())) {
    if (row.value("metric", "") == "ingress.rps") {
      rps_row = true;
      EXPECT_GT(row.value("measured", 0.0), 250.0) << row.dump();
    }
  }
  EXPECT_TRUE(rps_row) << phase.dump();
}

// A node whose clock is off: the kubelet writes the agent containers' startedAt 3 s ahead of the agents' own
// clock. The agents' windows cannot be trusted to line up: the phase is INVALID with that reason (exit 4).
TEST(ClusterIngress, AnAgentWhoseClockDisagreesWithItsNodesStatusTimesMakesThePhaseInvalid) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server(
      "scaleout-skew",
      kubelet_config({{"clock_skew_ms", {{"fixture-node-a", 3000}, {"fixture-node-b", 3000}}}}));
  ASSERT_TRUE(server.ok()) << server.error();
  NginxFiles files;
  const Shop shop = make_shop(server, files);
  ASSERT_TRUE(shop.error.empty()) << shop.error;
  Sandbox sandbox;
  const std::filesystem::path plan = sandbox.write(
      "plan.yaml",
      plan_text(fmt::format("from: pods, agents: 2, url: \"http://{}/\", host: {}, pods: {{start_lead: 3s}}",
                            shop.cluster_ip, kHost)));
  Ran ran = sandbox.run(args_for(server, plan));
  EXPECT_EQ(ran.exit_code, 4) << ran.err;
  const json report = json::parse(ran.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << ran.out << ran.err;
  const json phase = ingress_phase(report);
  EXPECT_EQ(phase.value("verdict", ""), "INVALID") << phase.dump();
  const json reasons = phase.value("invalid_reasons", json::array());
  ASSERT_FALSE(reasons.empty()) << phase.dump();
  const std::string first = reasons.front().get<std::string>();
  EXPECT_NE(first.find("behind the kubelet's"), std::string::npos) << first;
  EXPECT_NE(first.find("within 100 ms"), std::string::npos) << first;
}

// Bad input is one line naming the field and the value, exit 2; an Ingress the cluster does not have too.
TEST(ClusterIngress, BadSettingsAndAnUnknownIngressAreTheInputsFault) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server("scaleout-bad", kubelet_config());
  ASSERT_TRUE(server.ok()) << server.error();
  Sandbox sandbox;
  struct Case {
    std::string settings;
    std::string expected;
  };
  for (const Case& c : std::vector<Case>{
           {"from: elsewhere, url: \"http://10.0.0.1/\"",
            "settings.from: must be one of: cli, pods, got \"elsewhere\""},
           {"from: pods, agents: 0, url: \"http://10.0.0.1/\"",
            "settings.agents: must be a whole number within 1..1000, got \"0\""},
           {"agents: 2, url: \"http://10.0.0.1/\"",
            "settings.agents: spreads the load over agent pods: needs from: pods, got \"2\""},
           {"from: pods, ingress: shop/nope", "ingress shop/nope does not exist on context \"token\""}}) {
    const std::filesystem::path plan = sandbox.write("plan.yaml", plan_text(c.settings));
    Ran ran = sandbox.run(args_for(server, plan));
    EXPECT_EQ(ran.exit_code, 2) << c.settings << "\n" << ran.err;
    EXPECT_NE(ran.err.find(c.expected), std::string::npos) << c.settings << "\n" << ran.err;
  }
}

}  // namespace
}  // namespace kp
