#pragma once

// Shared plumbing of the process kubelet's tests: a fixture with `kubelet` configured for the kubeproof
// binary under test, a client, pod manifests, and waits on conditions with deadlines (polling the API; no
// sleeps).

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "fake_apiserver.hpp"
#include "kube/api.hpp"
#include "kube/transport.hpp"

namespace kp::testing {

using nlohmann::json;

inline kube::Resource core(std::string name, std::string kind, bool namespaced = true) {
  return kube::Resource{"", "v1", std::move(name), std::move(kind), namespaced};
}

// The fixture config every test starts from: short back-offs so failure states show within a second.
inline json kubelet_config(json extra = json::object()) {
  return process_kubelet_config(KP_BINARY, std::move(extra));
}

class KubeletHarness {
 public:
  explicit KubeletHarness(const std::string& name, json config = kubelet_config())
      : fixture(name, std::move(config)) {
    if (!fixture.ok()) {
      return;
    }
    Result<kube::RestConfig> rest = fixture.rest_config();
    transport = std::move(*kube::Transport::create(*rest, kube::ClientOptions{}, real_clock()));
    api = std::make_unique<kube::Api>(*transport);
  }

  FakeApiserver fixture;
  std::unique_ptr<kube::Transport> transport;
  std::unique_ptr<kube::Api> api;

  // A namespace whose default ServiceAccount exists (pods may be created in it).
  void make_namespace(const std::string& ns) {
    ASSERT_TRUE(api->create(core("namespaces", "Namespace", false), "", {{"metadata", {{"name", ns}}}}));
    ASSERT_TRUE(wait_for(
        [&] { return api->get(core("serviceaccounts", "ServiceAccount"), ns, "default").has_value(); }));
  }

  // An agent pod: `kubeproof agent <args>`, restartPolicy Never, uid/gid 65534 with fsGroup 65534.
  static json agent_pod(const std::string& name, std::vector<std::string> args,
                        const std::string& image = "localhost/kubeproof-agent:0.1.0-test") {
    return {
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"labels", {{"kubeproof.io/agent", name}}}}},
        {"spec",
         {{"restartPolicy", "Never"},
          {"securityContext", {{"runAsUser", 65534}, {"runAsGroup", 65534}, {"fsGroup", 65534}}},
          {"containers",
           {{{"name", "agent"},
             {"image", image},
             {"args", args},
             {"env",
              {{{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}}}}}}}}}};
  }

  kube::ApiResult<json> create_pod(const std::string& ns, const json& pod) {
    return api->create(kube::pods_resource(), ns, pod);
  }
  json pod(const std::string& ns, const std::string& name) {
    auto got = api->get(kube::pods_resource(), ns, name);
    return got ? *got : json();
  }

  // Polls `condition` until it holds or `timeout` passes (a deadline, not a sleep to let things happen).
  static bool wait_for(const std::function<bool()>& condition,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the poll interval
    }
    return condition();
  }

  // The pod once `predicate` holds for it (null json on timeout).
  json wait_pod(const std::string& ns, const std::string& name,
                const std::function<bool(const json&)>& predicate,
                std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    json found;
    wait_for(
        [&] {
          json p = pod(ns, name);
          if (!p.is_null() && predicate(p)) {
            found = p;
            return true;
          }
          return false;
        },
        timeout);
    return found;
  }
  json wait_phase(const std::string& ns, const std::string& name, std::set<std::string> phases) {
    return wait_pod(ns, name, [&](const json& p) { return phases.contains(p["status"].value("phase", "")); });
  }
  static bool ready(const json& pod) {
    for (const json& c : pod["status"].value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") {
        return c.value("status", "") == "True";
      }
    }
    return false;
  }
  static std::string waiting_reason(const json& pod) {
    for (const json& s : pod["status"].value("containerStatuses", json::array())) {
      if (s["state"].contains("waiting")) {
        return s["state"]["waiting"].value("reason", "");
      }
    }
    return "";
  }

  // GET pods/NAME/log: (HTTP status, body).
  std::pair<long, std::string> log(const std::string& ns, const std::string& name,
                                   const std::string& query = "") {
    kube::Request request;
    request.path = fmt::format("/api/v1/namespaces/{}/pods/{}/log{}", ns, name, query);
    request.rate_limited = false;
    request.retry = false;
    Result<kube::Response> response = transport->call(request);
    if (!response) {
      return {0, response.error().message};
    }
    return {response->status, response->body};
  }

  // The last line of `log` that is a JSON object with "kind" = kind (the agents' result line).
  static json result_line(const std::string& log, const std::string& kind) {
    std::istringstream lines(log);
    std::string line;
    json found;
    while (std::getline(lines, line)) {
      json parsed = json::parse(line, nullptr, false);
      if (parsed.is_object() && parsed.value("kind", "") == kind) {
        found = parsed;
      }
    }
    return found;
  }

  std::vector<json> events(const std::string& ns, const std::string& involved) {
    kube::ListOptions options;
    options.field_selector = "involvedObject.name=" + involved;
    auto listed = api->list(core("events", "Event"), ns, options);
    return listed ? listed->items : std::vector<json>{};
  }
  bool has_event(const std::string& ns, const std::string& involved, const std::string& reason,
                 const std::string& text) {
    for (const json& e : events(ns, involved)) {
      if (e.value("reason", "") == reason && e.value("message", "").find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  // The fixture instance's network name ("kpf3"), from a node's InternalIP 10.238.<i>.1.
  std::string network_name() {
    auto nodes = api->list(core("nodes", "Node", false), "");
    if (!nodes || nodes->items.empty()) {
      return "";
    }
    for (const json& address : nodes->items[0]["status"]["addresses"]) {
      if (address.value("type", "") == "InternalIP") {
        std::string ip = address.value("address", "");
        std::string rest = ip.substr(std::string("10.238.").size());
        return "kpf" + rest.substr(0, rest.find('.'));
      }
    }
    return "";
  }
};

// Host state the tests check for leftovers.
inline std::string run_text(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return out;
  }
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) {
    out += buffer;
  }
  pclose(pipe);
  return out;
}
inline std::vector<std::string> netns_of(const std::string& network) {
  std::vector<std::string> found;
  std::istringstream lines(run_text("ip netns list"));
  std::string line;
  while (std::getline(lines, line)) {
    std::string name = line.substr(0, line.find(' '));
    if (name.starts_with(network + "-")) {
      found.push_back(name);
    }
  }
  return found;
}
// The kubeproof processes whose command line contains `marker` (a test-unique argument), by pid.
inline std::vector<std::string> pids_with(const std::string& marker) {
  std::vector<std::string> pids;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) {
    return pids;
  }
  while (dirent* entry = readdir(proc)) {
    std::string pid = entry->d_name;
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream file("/proc/" + pid + "/cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    for (char& c : cmdline) {
      c = c == '\0' ? ' ' : c;
    }
    if (cmdline.find(marker) != std::string::npos && cmdline.find("kubeproof") != std::string::npos) {
      pids.push_back(pid);
    }
  }
  closedir(proc);
  return pids;
}
inline int processes_with(const std::string& marker) {
  return static_cast<int>(pids_with(marker).size());
}

// The test fixture of every kubelet test: skipped without root; start() gives a test its own API fixture.
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

inline bool terminal(const json& pod) {
  std::string phase = pod["status"].value("phase", "");
  return phase == "Succeeded" || phase == "Failed";
}

inline json terminated_state(const json& pod) {
  return pod["status"]["containerStatuses"][0]["state"].value("terminated", json());
}

}  // namespace kp::testing
