// The dns phase as pods see it, on the API fixture's process kubelet: three DNS agent pods, each reading the
// resolv.conf the kubelet wrote for it (the kube-dns Service, its namespace's search list, ndots:5), query
// the fixture's cluster DNS (a real unbound in its own pod and network namespace, behind
// kube-system/kube-dns) with the mix built from the Services and pods the API lists. Their merged histogram
// must be the union of the agents' own, exact in count and quantiles; the cache row is NOT MEASURED with its
// reason (the server is not CoreDNS); the search-path fan-out shows in each agent's queries per lookup.

#include <unistd.h>

#include <map>
#include <mutex>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "../../unit/cli/cli_runner.hpp"
#include "cluster/pod_runner.hpp"
#include "cluster/run.hpp"
#include "drivers/dns/cluster_runner.hpp"
#include "fake_apiserver.hpp"
#include "kube/api.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;

std::string skip_reason() {
  if (::geteuid() != 0) {
    return "needs root (the fixture's kubelet makes network namespaces and nft tables)";
  }
  for (const char* tool : {"/usr/sbin/unbound", "/usr/sbin/unbound-control", "/usr/bin/python3"}) {
    if (::access(tool, X_OK) != 0) {
      return fmt::format("needs {}", tool);
    }
  }
  return "";
}

json fixture_config() {
  return json{{"kubelet",
               {{"binary", KP_BINARY},
                {"images", {"kubeproof-agent"}},
                {"termination_linger_ms", 300},
                {"cluster_dns", {{"external", {{"example.com", "192.0.2.7"}}}}}}}};
}

// Objects an application namespace would have: the mix asks for them by name.
void create_workload(kube::Api& api) {
  ASSERT_TRUE(api.create(kube::namespaces_resource(), "", json{{"metadata", {{"name", "shop"}}}}));
  const kube::Resource services = *kube::builtin_resource("v1", "Service");
  for (const char* name : {"web", "cart"}) {
    json service;
    service["metadata"]["name"] = name;
    service["spec"]["selector"]["app"] = name;
    service["spec"]["ports"] = json::array({json{{"name", "http"}, {"port", 80}}});
    ASSERT_TRUE(api.create(services, "shop", service));
  }
}

class DnsClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (skip_reason().empty()) {
      fixture_ = new kp::testing::FakeApiserver("dns-cluster", fixture_config());
    }
  }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }
  void SetUp() override {
    if (const std::string reason = skip_reason(); !reason.empty()) {
      GTEST_SKIP() << reason;
    }
    ASSERT_TRUE(fixture_->ok()) << fixture_->error();
    Result<kube::RestConfig> config = fixture_->rest_config();
    ASSERT_TRUE(config) << config.error().message;
    config_ = *config;
    Result<std::unique_ptr<kube::Transport>> transport =
        kube::Transport::create(config_, kube::ClientOptions{}, real_clock());
    ASSERT_TRUE(transport) << transport.error().message;
    transport_ = std::move(*transport);
    api_ = std::make_unique<kube::Api>(*transport_);
    if (!workload_) {
      create_workload(*api_);
      workload_ = true;
    }
  }

  bool namespace_exists(const std::string& name) {
    return api_->get(kube::namespaces_resource(), "", name).has_value();
  }

  static kp::testing::FakeApiserver* fixture_;
  static bool workload_;
  kube::RestConfig config_;
  std::unique_ptr<kube::Transport> transport_;
  std::unique_ptr<kube::Api> api_;
  engine::CancellationToken cancel_;
};
kp::testing::FakeApiserver* DnsClusterTest::fixture_ = nullptr;
bool DnsClusterTest::workload_ = false;

TEST_F(DnsClusterTest, ThreeAgentPodsMergeExactlyThroughTheirOwnResolvConf) {
  cluster::RunnerOptions runner;
  runner.run_id = cluster::new_run_id();
  runner.phase = "dns";
  runner.image = cluster::AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
  runner.pods.start_timeout = std::chrono::seconds(30);
  runner.pods.start_lead = std::chrono::seconds(3);  // the shared --start-at: the process kubelet is quick
  runner.cleanup_timeout = std::chrono::seconds(30);
  Result<std::unique_ptr<cluster::PodRunner>> pods =
      cluster::PodRunner::open(config_, runner, real_clock(), cancel_);
  ASSERT_TRUE(pods) << pods.error().message;
  const std::string ns = (*pods)->ns();

  Settings settings;
  settings.pod_resolver = true;
  settings.clients = 2;
  settings.external_names = {"example.com"};
  // The agents' live counts, from their logs followed while they run (`--live-lines`).
  struct Live final : LiveSink {
    void add(const LiveDelta& delta) override {
      const std::lock_guard lock(mutex);
      first = first.value_or(real_clock().now());
      ok += delta.ok;
      ++handovers;
      named = named && delta.phase == Phase::dns && delta.series == "query" && !delta.finished_later;
    }
    std::mutex mutex;
    std::optional<TimePoint> first;
    std::uint64_t ok = 0;
    int handovers = 0;
    bool named = true;
  } live;
  RunShape shape;
  shape.load.rate = Rate{600};  // 200 lookups/s per agent: well within one core each, on a busy machine
  shape.load.duration = std::chrono::seconds(3);
  shape.load.live = &live;
  ClusterDns dns(std::move(*pods), settings, shape, judging_from(load::CriteriaView({})), 3, real_clock(),
                 cancel_, {});
  ASSERT_TRUE(dns.prepare());
  Result<engine::PhaseRun> run = dns.run();
  const TimePoint ended = real_clock().now();
  ASSERT_TRUE(run) << run.error().message;
  const std::vector<AgentRun>& agents = dns.agent_runs();
  ASSERT_EQ(agents.size(), 3u);
  {
    const std::lock_guard lock(live.mutex);
    ASSERT_TRUE(live.first.has_value()) << "no live count from the agent pods";
    // A 3 s window hands over once a second: the first count comes seconds before the results are read.
    EXPECT_LT(*live.first + std::chrono::seconds(1), ended);
    EXPECT_GE(live.handovers, 3);
    EXPECT_GT(live.ok, 0u);
    EXPECT_TRUE(live.named);
  }

  // The union of what each agent printed as its own dns.p99 histogram...
  Histogram union_of;
  double qps = 0;
  std::set<std::string> nodes;
  for (const AgentRun& agent : agents) {
    auto own =
        std::ranges::find_if(agent.measurements, [](const Measurement& m) { return m.metric == "dns.p99"; });
    ASSERT_NE(own, agent.measurements.end()) << agent.pod;
    ASSERT_TRUE(own->histogram);
    EXPECT_GT(own->histogram->count(), 0u) << agent.pod;
    union_of.merge(*own->histogram);
    qps += agent.load.answered_per_second();
    nodes.insert(agent.node);
    // Each agent asked what its resolv.conf says: the kube-dns Service, its namespace's search list.
    EXPECT_TRUE(agent.server.starts_with("10.239.")) << agent.server;
    EXPECT_TRUE(agent.server.ends_with(".10:53")) << agent.server;
    EXPECT_EQ(agent.search,
              (std::vector<std::string>{ns + ".svc.cluster.local", "svc.cluster.local", "cluster.local"}));
    EXPECT_EQ(agent.ndots, 5);
    // The search-path fan-out is real: short names cost an NXDOMAIN in the agent's own namespace first.
    const Counters& c = agent.load.counters;
    EXPECT_GT(c.walk_nxdomain, 0u) << agent.pod;
    EXPECT_GT(double(c.sent) / double(c.lookups_started), 1.5) << agent.pod;
    EXPECT_GT(c.lookups_answered, 0u) << agent.pod;  // the cluster's real names resolved
  }
  // ... is the phase's, exactly.
  auto p99 =
      std::ranges::find_if(run->measurements, [](const Measurement& m) { return m.metric == "dns.p99"; });
  ASSERT_NE(p99, run->measurements.end());
  ASSERT_TRUE(p99->histogram);
  EXPECT_EQ(p99->histogram->count(), union_of.count());
  EXPECT_EQ(*p99->histogram, union_of);
  for (double p : {50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(p99->histogram->value_at_percentile(p), union_of.value_at_percentile(p)) << "P" << p;
  }
  auto rate =
      std::ranges::find_if(run->measurements, [](const Measurement& m) { return m.metric == "dns.qps"; });
  ASSERT_NE(rate, run->measurements.end());
  EXPECT_DOUBLE_EQ(rate->value, qps);
  EXPECT_GT(rate->value, 0);
  // Preferred anti-affinity spread the three over the fixture's two nodes.
  EXPECT_EQ(nodes.size(), 2u);
  // One shared start (--start-at), and every agent's clock agreed with the runner's and the kubelet's.
  std::set<std::string> asked;
  for (const AgentRun& agent : agents) {
    EXPECT_TRUE(agent.started.starts_with("started ")) << agent.pod << ": " << agent.started;
    asked.insert(agent.started.substr(agent.started.find("(asked ")));
    EXPECT_FALSE(agent.clock_problem) << *agent.clock_problem;
  }
  EXPECT_EQ(asked.size(), 1u);
  // (A busy machine may make the generator's own lateness a reason: only a clock reason is wrong here.)
  for (const std::string& reason : run->invalid_reasons) {
    EXPECT_EQ(reason.find("clock"), std::string::npos) << reason;
  }
  // The fixture's DNS is not CoreDNS: no ratio, and the reason.
  EXPECT_FALSE(std::ranges::any_of(run->measurements,
                                   [](const Measurement& m) { return m.metric == "dns.cache_hit_ratio"; }));
  const auto reason = std::ranges::find_if(run->notes, [](const std::string& note) {
    return note.starts_with("dns.cache_hit_ratio not measured: the cluster DNS pods are not CoreDNS");
  });
  EXPECT_NE(reason, run->notes.end());
  dns.close();
  EXPECT_FALSE(namespace_exists(ns)) << ns;
}

// Type stress on a cluster: every step of the breaking-point search is one round of agent pods at the step's
// rate / N, and the search judges their merged step: what a step counted is exactly what its agents sent.
TEST_F(DnsClusterTest, StressStepsAreSpreadOverTheAgentsAndMergedExactly) {
  cluster::RunnerOptions runner;
  runner.run_id = cluster::new_run_id();
  runner.phase = "dns";
  runner.image = cluster::AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
  runner.pods.start_timeout = std::chrono::seconds(30);
  runner.pods.start_lead = std::chrono::seconds(3);  // the shared --start-at: the process kubelet is quick
  runner.cleanup_timeout = std::chrono::seconds(30);
  Result<std::unique_ptr<cluster::PodRunner>> pods =
      cluster::PodRunner::open(config_, runner, real_clock(), cancel_);
  ASSERT_TRUE(pods) << pods.error().message;
  Settings settings;
  settings.pod_resolver = true;
  settings.clients = 2;
  settings.external_names = {"example.com"};
  RunShape shape;
  shape.load.rate = Rate{200};
  shape.load.duration = std::chrono::seconds(1);
  shape.schedule.type = config::TestType::stress;
  shape.schedule.base = Rate{200};
  for (double factor : {1.0, 1.5}) {
    load::Step step;
    step.factor = factor;
    step.rate = Rate{200 * factor};
    step.duration = std::chrono::seconds(1);
    shape.schedule.steps.push_back(step);
  }
  ClusterDns dns(std::move(*pods), settings, shape, judging_from(load::CriteriaView({})), 2, real_clock(),
                 cancel_, {});
  ASSERT_TRUE(dns.prepare());
  Result<engine::PhaseRun> run = dns.run();
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_EQ(run->stress.size(), 1u);
  const load::StressResult& stress = run->stress.front();
  ASSERT_FALSE(stress.steps.empty());
  // Each step's agents, from their notes: "stress step x1: agent dns-agent-s0-1 on ...: ..., 412 queries".
  const std::regex agent_note(
      R"(^(stress (?:bisection )?step x[0-9.]+): agent dns-agent-s(\d+)-\d on [^:]+: .*, (\d+) queries for )");
  std::map<int, std::uint64_t> sent;
  std::map<int, int> agents;
  for (const std::string& note : run->notes) {
    std::smatch match;
    if (std::regex_search(note, match, agent_note)) {
      const int step = std::stoi(match[2].str());
      sent[step] += std::stoull(match[3].str());
      ++agents[step];
    }
  }
  ASSERT_EQ(sent.size(), stress.steps.size()) << ::testing::PrintToString(run->notes);
  for (std::size_t i = 0; i < stress.steps.size(); ++i) {
    EXPECT_EQ(agents[static_cast<int>(i)], 2) << "step " << i;
    EXPECT_GT(sent[static_cast<int>(i)], 0u) << "step " << i;
    // completed = sent + send errors (judging.cpp step_record): none failed to send on loopback.
    EXPECT_EQ(stress.steps[i].completed, sent[static_cast<int>(i)]) << "step " << i;
  }
  EXPECT_TRUE(
      std::ranges::any_of(run->measurements, [](const Measurement& m) { return m.metric == "dns.p99"; }));
  dns.close();
}

TEST_F(DnsClusterTest, TheRunCommandShowsTheAgentsAndTheCacheRowsReason) {
  cli::testing::Sandbox sandbox;
  const std::filesystem::path plan = sandbox.write("plan.yaml", R"(name: dns-cluster
type: smoke
target: cluster
criteria: {storage_tier: ssd, cluster_size: small, pod_images: cached}
capacity: {dns_qps: 600}
phases:
  - phase: dns
    duration: 1m
    load: 100%
    settings: {clients: 2, external_names: [example.com], pods: {start_lead: 3s}}
)");
  cli::testing::Ran ran =
      sandbox.run({"run", "--plan", plan.string(), "--kubeconfig", fixture_->kubeconfig(), "--only", "dns",
                   "--agents", "2", "--duration-scale", "0.05", "--format", "json"});
  const json report = json::parse(ran.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << ran.out << ran.err;
  json dns;
  for (const json& phase : report["phases"]) {
    if (phase.value("phase", "") == "dns") {
      dns = phase;
    }
  }
  ASSERT_TRUE(dns.is_object()) << ran.out;
  bool qps = false;
  std::string cache_reason;
  for (const json& row : dns.value("rows", json::array())) {
    if (row.value("metric", "") == "dns.qps") {
      qps = row["measured"].is_number() && row["measured"].get<double>() > 0;
    }
    if (row.value("metric", "") == "dns.cache_hit_ratio") {
      cache_reason = row.value("reason", "");
    }
  }
  EXPECT_TRUE(qps) << dns.dump(1);
  EXPECT_TRUE(cache_reason.starts_with("not measured: the cluster DNS pods are not CoreDNS")) << cache_reason;
  int agents = 0;
  for (const json& note : dns["notes"]) {
    agents += note.get<std::string>().starts_with("agent dns-agent-") ? 1 : 0;
  }
  EXPECT_EQ(agents, 2) << dns["notes"].dump(1);
}

// A node whose clock is off: its kubelet writes the agents' startedAt 3 s ahead of the agents' own clock.
// The agents' windows cannot be trusted to line up: the phase is INVALID with that reason.
TEST(DnsClusterClock, AnAgentWhoseClockDisagreesWithItsNodesStatusTimesMakesTheRunInvalid) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  json config = fixture_config();
  config["kubelet"]["clock_skew_ms"] = {{"fixture-node-a", 3000}, {"fixture-node-b", 3000}};
  kp::testing::FakeApiserver fixture("dns-skew", config);
  ASSERT_TRUE(fixture.ok()) << fixture.error();
  Result<kube::RestConfig> rest = fixture.rest_config();
  ASSERT_TRUE(rest) << rest.error().message;
  cluster::RunnerOptions runner;
  runner.run_id = cluster::new_run_id();
  runner.phase = "dns";
  runner.image = cluster::AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
  runner.pods.start_timeout = std::chrono::seconds(30);
  runner.pods.start_lead = std::chrono::seconds(3);  // the shared --start-at: the process kubelet is quick
  runner.cleanup_timeout = std::chrono::seconds(30);
  engine::CancellationToken cancel;
  Result<std::unique_ptr<cluster::PodRunner>> pods =
      cluster::PodRunner::open(*rest, runner, real_clock(), cancel);
  ASSERT_TRUE(pods) << pods.error().message;
  Settings settings;
  settings.pod_resolver = true;
  settings.clients = 1;
  RunShape shape;
  shape.load.rate = Rate{100};
  shape.load.duration = std::chrono::seconds(1);
  ClusterDns dns(std::move(*pods), settings, shape, judging_from(load::CriteriaView({})), 2, real_clock(),
                 cancel, {});
  ASSERT_TRUE(dns.prepare());
  Result<engine::PhaseRun> run = dns.run();
  ASSERT_TRUE(run) << run.error().message;
  // The skew is a reason of its own (a busy machine may add the generator's lateness beside it).
  const auto skew = std::ranges::find_if(run->invalid_reasons, [](const std::string& reason) {
    return reason.find("behind the kubelet's") != std::string::npos;
  });
  ASSERT_NE(skew, run->invalid_reasons.end()) << ::testing::PrintToString(run->invalid_reasons);
  EXPECT_TRUE(skew->starts_with("agent dns-agent-")) << *skew;
  EXPECT_NE(skew->find("within 100 ms"), std::string::npos) << *skew;
  dns.close();
}

// A cluster whose DNS domain is not cluster.local (kubelet --cluster-domain=corp.example) and a plan that
// does not say so: the agents take the domain from their own search list, so the mix's Service SRV and pod A
// names are the cluster's and resolve, and the notes say where the domain came from. A plan that says
// cluster.local is obeyed (and said so), and then those names are negative: a fifth of the mix more.
TEST(DnsClusterDomain, AClusterDomainOtherThanClusterLocalIsReadFromThePodsSearchList) {
  if (const std::string reason = skip_reason(); !reason.empty()) {
    GTEST_SKIP() << reason;
  }
  json config = fixture_config();
  config["kubelet"]["cluster_dns"]["domain"] = "corp.example";
  kp::testing::FakeApiserver fixture("dns-domain", config);
  ASSERT_TRUE(fixture.ok()) << fixture.error();
  Result<kube::RestConfig> rest = fixture.rest_config();
  ASSERT_TRUE(rest) << rest.error().message;
  Result<std::unique_ptr<kube::Transport>> transport =
      kube::Transport::create(*rest, kube::ClientOptions{}, real_clock());
  ASSERT_TRUE(transport);
  kube::Api api(**transport);
  create_workload(api);
  // One agent's run with `settings`: its own line and the phase's notes.
  auto run_with = [&](const Settings& settings) -> std::pair<AgentRun, std::vector<std::string>> {
    cluster::RunnerOptions runner;
    runner.run_id = cluster::new_run_id();
    runner.phase = "dns";
    runner.image = cluster::AgentImage{"localhost/kubeproof-agent:0.1.0-test", "IfNotPresent", ""};
    runner.pods.start_timeout = std::chrono::seconds(30);
    runner.pods.start_lead = std::chrono::seconds(3);
    runner.cleanup_timeout = std::chrono::seconds(30);
    engine::CancellationToken cancel;
    Result<std::unique_ptr<cluster::PodRunner>> pods =
        cluster::PodRunner::open(*rest, runner, real_clock(), cancel);
    EXPECT_TRUE(pods) << pods.error().message;
    if (!pods) {
      return {};
    }
    RunShape shape;
    shape.load.rate = Rate{200};
    shape.load.duration = std::chrono::seconds(2);
    ClusterDns dns(std::move(*pods), settings, shape, judging_from(load::CriteriaView({})), 1, real_clock(),
                   cancel, {});
    EXPECT_TRUE(dns.prepare());
    Result<engine::PhaseRun> run = dns.run();
    EXPECT_TRUE(run) << run.error().message;
    if (!run || dns.agent_runs().size() != 1) {
      return {};
    }
    std::pair<AgentRun, std::vector<std::string>> out{dns.agent_runs().front(), run->notes};
    dns.close();
    return out;
  };
  auto negative = [](const AgentRun& agent) {
    const Counters& c = agent.load.counters;
    return c.lookups_started == 0 ? 1.0
                                  : double(c.lookups_negative + c.lookups_failed) / double(c.lookups_started);
  };
  Settings derived;  // no cluster_domain in the plan
  derived.pod_resolver = true;
  derived.clients = 1;
  const auto [agent, notes] = run_with(derived);
  EXPECT_EQ(agent.cluster_domain, "corp.example");
  EXPECT_EQ(agent.cluster_domain_source, "/etc/resolv.conf's search list");
  EXPECT_TRUE(std::ranges::any_of(notes, [](const std::string& note) {
    return note ==
           "cluster domain of the Service SRV and pod A names: corp.example, from each agent pod's "
           "/etc/resolv.conf's search list";
  })) << ::testing::PrintToString(notes);
  ASSERT_GT(agent.load.counters.lookups_started, 100u);

  Settings wrong = derived;  // the plan says cluster.local: obeyed, and said so
  wrong.cluster_domain = "cluster.local";
  wrong.cluster_domain_given = true;
  const auto [told, told_notes] = run_with(wrong);
  EXPECT_EQ(told.cluster_domain, "cluster.local");
  EXPECT_TRUE(std::ranges::any_of(told_notes, [](const std::string& note) {
    return note ==
           "cluster domain of the Service SRV and pod A names: cluster.local, the plan's cluster_domain";
  })) << ::testing::PrintToString(told_notes);
  ASSERT_GT(told.load.counters.lookups_started, 100u);
  EXPECT_LT(negative(agent) + 0.1, negative(told))
      << "the search list's domain must make the SRV and pod A names resolve: " << negative(agent) << " vs "
      << negative(told) << " negative";
}

}  // namespace
}  // namespace kp::drivers::dns
