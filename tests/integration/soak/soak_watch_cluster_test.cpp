// The soak's cluster watches through the real binary against the API server fixture with its process kubelet
// and cluster DNS (a real unbound in a kube-dns pod): while a `--target cluster` soak runs, a node is made
// NotReady and Ready again through its status subresource (as the node lifecycle controller does), the
// kube-dns pod's unbound is killed (the kubelet restarts it and raises its restartCount), and the API
// server's identity Lease gets a new holder (what a restarted kube-apiserver writes). Each must be an event
// of report.json's soak with its time. The changes are made once the report shows a second list of every
// watch (a checkpoint read back, never a sleep).

#include <signal.h>
#include <unistd.h>

#include <fstream>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fake_apiserver.hpp"
#include "fault_support.hpp"
#include "kube/api.hpp"
#include "lab/process.hpp"

namespace kp::faults {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

std::string skip_reason() {
  if (::geteuid() != 0) {
    return "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  for (const char* tool : {"unbound", "unbound-control", "nft", "ip", "python3"}) {
    if (!lab::find_executable(tool)) {
      return fmt::format("needs {}", tool);
    }
  }
  return "";
}

// The pid of the kube-dns pod's unbound: the process whose command line names the fixture's unbound.conf.
std::optional<pid_t> unbound_of(const fs::path& fixture_dir) {
  for (const fs::directory_entry& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.starts_with("/usr/sbin/unbound") && cmdline.find(fixture_dir.string()) != std::string::npos) {
      return static_cast<pid_t>(std::stoi(name));
    }
  }
  return std::nullopt;
}

// Now, as report.json writes times (whole seconds, UTC), so an event's time compares as text.
std::string utc_now_text() {
  return fmt::format("{:%FT%TZ}", std::chrono::floor<std::chrono::seconds>(real_clock().wall_now()));
}

const json* watch_of(const json& soak, std::string_view source) {
  for (const json& watch : soak.at("watches")) {
    if (watch.at("source") == source) {
      return &watch;
    }
  }
  return nullptr;
}

std::vector<json> events_of(const json& soak, std::string_view source, std::string_view kind) {
  std::vector<json> out;
  for (const json& event : soak.at("events")) {
    if (event.at("source") == source && event.at("kind") == kind) {
      out.push_back(event);
    }
  }
  return out;
}

TEST(SoakClusterWatches, NotReadyNodeCoreDnsRestartAndApiServerRestartAreEventsWithTheirTimes) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  testing::FakeApiserver server(
      "soakwatch",
      {{"kubelet", {{"binary", KP_BINARY}, {"images", {"kubeproof-agent"}}, {"cluster_dns", true}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config) << config.error().message;
  Result<std::unique_ptr<kube::Transport>> transport =
      kube::Transport::create(*config, kube::ClientOptions{}, real_clock());
  ASSERT_TRUE(transport) << transport.error().message;
  kube::Api api(**transport);
  const kube::Resource nodes = *kube::builtin_resource("v1", "Node");
  const kube::Resource leases = *kube::builtin_resource("coordination.k8s.io/v1", "Lease");

  TempDir work("kpsoakwatch");
  std::ofstream(work.path() / "plan.yaml") << R"(name: soak-watch
type: soak
target: cluster
soak_duration: 25s
checkpoint: 1s
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity: {api_qps: 100}
phases:
  - phase: api
    duration: 2s
    load: 5%
)";
  const fs::path results = work.path() / "results";
  Running soak(work.path(), {"soak", "--plan", (work.path() / "plan.yaml").string(), "--kubeconfig",
                             server.kubeconfig(), "--results", results.string(), "--watch-interval", "1s",
                             "--format", "json", "--no-live-view", "--yes"});
  ASSERT_TRUE(soak.wait_for_stderr("soak watches: ", seconds(60))) << soak.err();
  EXPECT_NE(soak.err().find("etcd not watched: the plan has no etcd phase"), std::string::npos) << soak.err();

  // The baseline: a checkpoint whose report shows every cluster watch listed at least twice.
  fs::path folder;
  for (int checkpoint = 1; checkpoint <= 20 && folder.empty(); ++checkpoint) {
    ASSERT_TRUE(soak.wait_for_stderr(fmt::format("soak checkpoint {} written to ", checkpoint), seconds(30)))
        << soak.err();
    const std::string err = soak.err();
    const auto at = err.find(fmt::format("soak checkpoint {} written to ", checkpoint));
    const auto from = err.find(" to ", at) + 4;
    const fs::path written = err.substr(from, err.find("/ (round", from) - from);
    std::ifstream in(written / "report.json");
    const json report = json::parse(in, nullptr, false);
    if (!report.is_object() || report.value("soak", json()).is_null()) {
      continue;
    }
    bool all_twice = true;
    for (std::string_view source : {"nodes", "coredns", "apiserver"}) {
      const json* watch = watch_of(report.at("soak"), source);
      all_twice = all_twice && watch != nullptr && watch->at("covered_seconds").get<double>() > 0;
    }
    if (all_twice) {
      folder = written;
    }
  }
  ASSERT_FALSE(folder.empty()) << soak.err();

  const std::string changed_at = utc_now_text();
  // A node NotReady, as the node lifecycle controller writes it when the kubelet stops posting status.
  kube::ApiResult<json> not_ready = api.patch(
      nodes, "", "fixture-node-b/status",
      json{{"status",
            {{"conditions", json::array({{{"type", "Ready"},
                                          {"status", "Unknown"},
                                          {"reason", "NodeStatusUnknown"},
                                          {"message", "Kubelet stopped posting node status."}}})}}}});
  ASSERT_TRUE(not_ready) << not_ready.error().error.message;
  // A restarted API server takes its identity Lease with a new holder.
  kube::ListOptions identity;
  identity.label_selector = "apiserver.kubernetes.io/identity=kube-apiserver";
  kube::ApiResult<kube::ListResult> held = api.list(leases, "kube-system", identity);
  ASSERT_TRUE(held && held->items.size() == 1U);
  const std::string lease_name = held->items[0]["metadata"]["name"];
  const std::string new_holder = lease_name + "_00000000-0000-4000-8000-000000000001";
  ASSERT_TRUE(api.patch(leases, "kube-system", lease_name, json{{"spec", {{"holderIdentity", new_holder}}}}));
  // CoreDNS crashes: the kubelet restarts it.
  const std::optional<pid_t> unbound = unbound_of(server.dir());
  ASSERT_TRUE(unbound.has_value()) << "no unbound of the fixture's kube-dns pod";
  ASSERT_EQ(::kill(*unbound, SIGKILL), 0);

  // The node comes back once its NotReady was seen in a checkpoint (so Ready again is a later list).
  bool seen = false;
  for (int checkpoint = 1; checkpoint <= 30 && !seen; ++checkpoint) {
    const int next = [&] {
      int last = 0;
      for (std::size_t at = soak.err().find("soak checkpoint "); at != std::string::npos;
           at = soak.err().find("soak checkpoint ", at + 1)) {
        last = std::max(last, std::atoi(soak.err().c_str() + at + 16));
      }
      return last + 1;
    }();
    ASSERT_TRUE(soak.wait_for_stderr(fmt::format("soak checkpoint {} written", next), seconds(30)))
        << soak.err();
    std::ifstream in(folder / "report.json");
    const json report = json::parse(in, nullptr, false);
    seen = report.is_object() && !events_of(report.at("soak"), "nodes", "not_ready").empty();
  }
  ASSERT_TRUE(seen) << soak.err();
  ASSERT_TRUE(
      api.patch(nodes, "", "fixture-node-b/status",
                json{{"status",
                      {{"conditions", json::array({{{"type", "Ready"},
                                                    {"status", "True"},
                                                    {"reason", "KubeletReady"},
                                                    {"message", "kubelet is posting ready status"}}})}}}}));

  const std::optional<int> code = soak.wait(seconds(90));
  ASSERT_TRUE(code.has_value()) << soak.err();
  const json report = json::parse(soak.out(), nullptr, false);
  ASSERT_TRUE(report.is_object()) << soak.err();
  const json& record = report.at("soak");
  EXPECT_EQ(record.at("finished"), true);
  for (std::string_view source : {"nodes", "coredns", "apiserver"}) {
    const json* watch = watch_of(record, source);
    ASSERT_NE(watch, nullptr) << source;
    EXPECT_EQ(watch->at("unwatched"), "") << source;
    EXPECT_GT(watch->at("covered_seconds").get<double>(), 15.0) << source << ": the whole soak";
  }
  EXPECT_EQ(watch_of(record, "etcd")->at("unwatched"), "the plan has no etcd phase");

  const std::vector<json> down = events_of(record, "nodes", "not_ready");
  ASSERT_EQ(down.size(), 1U) << record.at("events").dump(1);
  EXPECT_EQ(down[0].at("text"),
            "node fixture-node-b NotReady: Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node "
            "status.)");
  EXPECT_GE(down[0].at("at").get<std::string>(), changed_at);
  const std::vector<json> up = events_of(record, "nodes", "ready");
  ASSERT_EQ(up.size(), 1U) << record.at("events").dump(1);
  EXPECT_TRUE(
      up[0].at("text").get<std::string>().starts_with("node fixture-node-b Ready again, NotReady for "))
      << up[0].dump();

  const std::vector<json> restarted = events_of(record, "apiserver", "restart");
  ASSERT_EQ(restarted.size(), 1U) << record.at("events").dump(1);
  EXPECT_NE(restarted[0].at("text").get<std::string>().find("-> " + new_holder), std::string::npos)
      << restarted[0].dump();
  EXPECT_GE(restarted[0].at("at").get<std::string>(), changed_at);

  const std::vector<json> dns = events_of(record, "coredns", "restart");
  ASSERT_GE(dns.size(), 1U) << record.at("events").dump(1);
  EXPECT_TRUE(dns[0].at("text").get<std::string>().starts_with(
      "CoreDNS pod kube-dns-unbound-0 restarted: restartCount 0 -> 1 (last: unbound terminated "))
      << dns[0].dump();
  EXPECT_GE(dns[0].at("at").get<std::string>(), changed_at);
}

}  // namespace
}  // namespace kp::faults
