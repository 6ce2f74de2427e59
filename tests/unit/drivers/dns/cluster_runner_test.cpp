#include "drivers/dns/cluster_runner.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "drivers/dns/load_json.hpp"
#include "load/criteria_view.hpp"
#include "load/start_time.hpp"

namespace kp::drivers::dns {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// An agent's run: `n` lookups at `rate`/s, each two queries (one NXDOMAIN walk step), latencies from `base`.
LoadResult agent_load(std::uint64_t n, double rate, std::int64_t base_us, Duration elapsed) {
  LoadResult load;
  Counters& c = load.counters;
  c.lookups_started = n;
  c.lookups_answered = n;
  c.sent = 2 * n;
  c.responses = 2 * n;
  c.rcodes[0] = n;
  c.rcodes[3] = n;
  c.walk_steps = n;
  c.walk_nxdomain = n;
  for (std::uint64_t i = 0; i < 2 * n; ++i) {
    const std::int64_t ns = (base_us + static_cast<std::int64_t>(i % 97) * 13) * 1000;
    load.query_latency.corrected.record(ns);
    load.query_latency.uncorrected.record(ns - 500);
  }
  for (std::uint64_t i = 0; i < n; ++i) {
    load.lookup_latency.record((2 * base_us + static_cast<std::int64_t>(i % 31)) * 1000);
    load.own_lateness.record(20'000);
  }
  load.pacer.sends = n;
  load.send_elapsed = elapsed;
  load.elapsed = elapsed + milliseconds(3);
  load.rate = Rate{rate};
  load.threads = 1;
  load.clients = 10;
  load.outstanding = 30;
  load.cpu_seconds = 0.5;
  return load;
}

TEST(DnsLoadJson, RoundTripsEveryCountAndHistogram) {
  LoadResult load = agent_load(1000, 500, 300, std::chrono::seconds(2));
  load.counters.lost = 3;
  load.counters.rcodes[2] = 7;
  load.stopped_early = "server silent";
  load.unsent_due = 4;
  const json text = json::parse(load_to_json(load).dump());
  Result<LoadResult> back = load_from_json(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->counters.sent, 2000u);
  EXPECT_EQ(back->counters.lost, 3u);
  EXPECT_EQ(back->counters.rcodes, load.counters.rcodes);
  EXPECT_EQ(back->query_latency.corrected, load.query_latency.corrected);
  EXPECT_EQ(back->query_latency.uncorrected, load.query_latency.uncorrected);
  EXPECT_EQ(back->lookup_latency, load.lookup_latency);
  EXPECT_EQ(back->own_lateness, load.own_lateness);
  EXPECT_EQ(back->elapsed, load.elapsed);
  EXPECT_EQ(back->unsent_due, 4u);
  EXPECT_EQ(back->stopped_early, "server silent");
  ASSERT_TRUE(back->rate);
  EXPECT_EQ(back->rate->per_second, 500);

  json broken = text;
  broken["counters"].erase("sent");
  Result<LoadResult> bad = load_from_json(broken);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "dns agent result: load.sent: missing or not a number");

  // Numbers beyond a field's integer type were converted unchecked (undefined behaviour).
  const auto error_of = [&](const char* field, const json& value) {
    json changed = text;
    (changed.contains(field) ? changed : changed["counters"])[field] = value;
    Result<LoadResult> read = load_from_json(changed);
    return read ? std::string("read") : read.error().message;
  };
  EXPECT_EQ(error_of("sent", -1.5),
            "dns agent result: load.sent: must be an integer from 0 to 18446744073709551615, got -1.5");
  EXPECT_EQ(error_of("sent", -1),
            "dns agent result: load.sent: must be an integer from 0 to 18446744073709551615, got -1");
  EXPECT_EQ(error_of("elapsed_ns", 1e300),
            "dns agent result: load.elapsed_ns: must be an integer from -9223372036854775808 to "
            "9223372036854775807, got 1e+300");
  EXPECT_EQ(
      error_of("threads", 4294967296LL),
      "dns agent result: load.threads: must be an integer from -2147483648 to 2147483647, got 4294967296");
  EXPECT_EQ(error_of("outstanding", -1),
            "dns agent result: load.outstanding: must be an integer from 0 to 4294967295, got -1");
  EXPECT_EQ(error_of("outstanding", 4294967295U), "read");
}

AgentRun agent(std::string pod, LoadResult load) {
  AgentRun run;
  run.pod = std::move(pod);
  run.node = "node-a";
  run.load = std::move(load);
  run.server = "10.96.0.10:53";
  run.search = {"kp-1-dns.svc.cluster.local", "svc.cluster.local", "cluster.local"};
  run.ndots = 5;
  return run;
}

TEST(DnsClusterMerge, TheMergedHistogramIsTheUnionAndQpsTheSumOfTheAgents) {
  const std::vector<AgentRun> runs{
      agent("dns-agent-0", agent_load(3000, 1000, 200, std::chrono::seconds(3))),
      agent("dns-agent-1", agent_load(2000, 1000, 900, std::chrono::seconds(2))),
      agent("dns-agent-2", agent_load(4000, 1000, 4000, std::chrono::seconds(4)))};
  Settings settings;
  settings.pod_resolver = true;
  const std::vector<QuerySpec> queries{{"web.shop", 1}};
  const engine::PhaseRun run =
      merge_agent_runs(runs, std::nullopt, "", "the cluster DNS pods are not CoreDNS", queries, settings, {},
                       judging_from(load::CriteriaView({})));
  Histogram union_of;
  std::uint64_t count = 0;
  double qps = 0;
  for (const AgentRun& r : runs) {
    union_of.merge(r.load.query_latency.corrected);
    count += r.load.query_latency.corrected.count();
    qps += r.load.answered_per_second();
  }
  auto find = [&](std::string_view metric) {
    return std::ranges::find_if(run.measurements, [&](const Measurement& m) { return m.metric == metric; });
  };
  const auto p99 = find("dns.p99");
  ASSERT_NE(p99, run.measurements.end());
  ASSERT_TRUE(p99->histogram);
  EXPECT_EQ(*p99->histogram, union_of);
  EXPECT_EQ(p99->histogram->count(), count);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    EXPECT_EQ(p99->histogram->value_at_percentile(p), union_of.value_at_percentile(p)) << p;
  }
  EXPECT_DOUBLE_EQ(p99->value, double(union_of.value_at_percentile(99)) / 1e9);
  // Not the merged count over the longest window (2000 + 1333 + 2000 = 5333/s): each agent's own rate, added.
  const auto rate = find("dns.qps");
  ASSERT_NE(rate, run.measurements.end());
  EXPECT_DOUBLE_EQ(rate->value, qps);
  ASSERT_TRUE(rate->offered);
  EXPECT_DOUBLE_EQ(*rate->offered, 3 * 1000 * 2.0);  // 3 agents x 1000 lookups/s x 2 queries per lookup
  EXPECT_NE(rate->note.find("sum of 3 agent pods: dns-agent-0 "), std::string::npos) << rate->note;
  // Each agent's own summary, with the resolv.conf it had and its fan-out.
  const auto summary = std::ranges::find_if(
      run.notes, [](const std::string& n) { return n.starts_with("agent dns-agent-1 on node-a: "); });
  ASSERT_NE(summary, run.notes.end());
  EXPECT_NE(summary->find("2.00 per lookup"), std::string::npos) << *summary;
  EXPECT_NE(summary->find("search kp-1-dns.svc.cluster.local svc.cluster.local cluster.local, ndots 5"),
            std::string::npos)
      << *summary;
  // The cache row's reason, for the evaluation.
  EXPECT_NE(
      std::ranges::find(run.notes, "dns.cache_hit_ratio not measured: the cluster DNS pods are not CoreDNS"),
      run.notes.end());
  // Every agent's clock agreed: the run is valid.
  EXPECT_TRUE(run.invalid_reasons.empty()) << run.invalid_reasons.front();
}

TEST(DnsClusterMerge, AnAgentWhoseClockIsOffMakesTheRunInvalidWithItsReason) {
  std::vector<AgentRun> runs{agent("dns-agent-0", agent_load(3000, 1000, 200, std::chrono::seconds(3))),
                             agent("dns-agent-1", agent_load(3000, 1000, 200, std::chrono::seconds(3)))};
  runs[0].started = "started 2026-12-02T14:20:03.010Z (asked 2026-12-02T14:20:03.000Z)";
  runs[1].clock_problem = "agent dns-agent-1 on node-b: its clock is at least 2.90 s behind the kubelet's";
  Settings settings;
  settings.pod_resolver = true;
  const engine::PhaseRun run = merge_agent_runs(runs, std::nullopt, "", "not CoreDNS", {{"web.shop", 1}},
                                                settings, {}, judging_from(load::CriteriaView({})));
  ASSERT_EQ(run.invalid_reasons.size(), 1u);
  EXPECT_EQ(run.invalid_reasons.front(), *runs[1].clock_problem);
  const auto summary = std::ranges::find_if(
      run.notes, [](const std::string& n) { return n.starts_with("agent dns-agent-0 on node-a: "); });
  ASSERT_NE(summary, run.notes.end());
  EXPECT_TRUE(summary->ends_with("; started 2026-12-02T14:20:03.010Z (asked 2026-12-02T14:20:03.000Z)"))
      << *summary;
}

TEST(DnsClusterMerge, AgentArgumentsShareTheRateAndCarryTheMix) {
  Settings settings;
  settings.clients = 4;
  settings.total = 10;
  RunShape shape;
  shape.load.rate = Rate{3000};
  shape.load.duration = std::chrono::seconds(5);
  const std::vector<QuerySpec> queries{{"web.shop", 1}, {"_http._tcp.web.shop.svc.cluster.local", 33}};
  const WallTime start = load::from_epoch_ms(1'733'140'800'123);
  const std::vector<std::string> args = agent_args(settings, shape, queries, 0, 3, start);
  auto value = [&](std::string_view flag) {
    auto it = std::ranges::find(args, flag);
    return it == args.end() || it + 1 == args.end() ? std::string("<none>") : *(it + 1);
  };
  EXPECT_EQ(args.front(), "dns");
  EXPECT_EQ(value("--resolver"), "pod");
  EXPECT_EQ(value("--rate"), "1000/s");
  EXPECT_EQ(value("--duration"), "5000ms");
  EXPECT_EQ(value("--total"), "4");  // 10 over 3: 4, 3, 3
  EXPECT_EQ(agent_args(settings, shape, queries, 2, 3, start).end()[-5], "web.shop A");
  EXPECT_EQ(args.end()[-3], "_http._tcp.web.shop.svc.cluster.local SRV");
  // One wall-clock start for every agent, in epoch milliseconds (load/start_time.hpp).
  EXPECT_EQ(value("--start-at"), "1733140800123");
  EXPECT_EQ(agent_args(settings, shape, queries, 2, 3, start).back(), "1733140800123");
  // No --server: each agent asks the nameserver of its own resolv.conf.
  EXPECT_EQ(std::ranges::find(args, "--server"), args.end());
}

// The runner cannot see the cluster's domain from outside: its mix carries {cluster_domain} for each agent
// to fill in, it passes --cluster-domain only when the plan set one, and the notes say which domain was used.
TEST(DnsClusterMerge, TheClusterDomainIsTheAgentsUnlessThePlanSetsIt) {
  Settings settings;
  RunShape shape;
  shape.load.rate = Rate{100};
  shape.load.duration = std::chrono::seconds(1);
  ClusterNames names;
  names.services.push_back({"web", "shop", {{"http", "tcp"}}});
  names.pods.emplace_back("shop", "10.0.0.7");
  const ClusterMix mix = cluster_mix(names, std::string(kClusterDomainToken), {});
  EXPECT_TRUE(std::ranges::any_of(
      mix.queries, [](const QuerySpec& q) { return q.name == "_http._tcp.web.shop.svc.{cluster_domain}"; }));
  EXPECT_TRUE(std::ranges::any_of(
      mix.queries, [](const QuerySpec& q) { return q.name == "10-0-0-7.shop.pod.{cluster_domain}"; }));
  const WallTime start = load::from_epoch_ms(1'733'140'800'123);
  std::vector<std::string> args = agent_args(settings, shape, mix.queries, 0, 1, start);
  EXPECT_EQ(std::ranges::find(args, "--cluster-domain"), args.end()) << "the agent's own resolv.conf decides";
  settings.cluster_domain = "plan.example";
  settings.cluster_domain_given = true;
  args = agent_args(settings, shape, mix.queries, 0, 1, start);
  auto flag = std::ranges::find(args, "--cluster-domain");
  ASSERT_NE(flag, args.end());
  EXPECT_EQ(*(flag + 1), "plan.example");
  EXPECT_EQ(
      in_cluster_domain({{"_http._tcp.web.shop.svc.{cluster_domain}", 33}}, "corp.example").front().name,
      "_http._tcp.web.shop.svc.corp.example");

  AgentRun a;
  a.pod = "dns-agent-0";
  a.cluster_domain = "corp.example";
  a.cluster_domain_source = "/etc/resolv.conf's search list";
  AgentRun b = a;
  b.pod = "dns-agent-1";
  EXPECT_EQ(cluster_domain_note({a, b}, false),
            "cluster domain of the Service SRV and pod A names: corp.example, from each agent pod's "
            "/etc/resolv.conf's search list");
  b.cluster_domain = "other.example";
  EXPECT_EQ(cluster_domain_note({a, b}, false),
            "cluster domain of the Service SRV and pod A names differs between agent pods: dns-agent-0: "
            "corp.example (/etc/resolv.conf's search list); dns-agent-1: other.example (/etc/resolv.conf's "
            "search list)");
  a.cluster_domain_source = "--cluster-domain";
  a.cluster_domain = "plan.example";
  EXPECT_EQ(cluster_domain_note({a}, true),
            "cluster domain of the Service SRV and pod A names: plan.example, the plan's cluster_domain");
  EXPECT_EQ(cluster_domain_note({AgentRun{}}, false), std::nullopt);
}

TEST(DnsClusterDns, SaysWhyTheCacheRatioCannotBeMeasured) {
  const json service = json::parse(R"({"spec": {"clusterIP": "10.96.0.10"}})");
  const json coredns =
      json::parse(R"({"metadata": {"name": "coredns-5d78c9869d-x2x7l", "namespace": "kube-system"},
      "spec": {"containers": [{"image": "registry.k8s.io/coredns/coredns:v1.10.1",
                               "ports": [{"name": "dns", "containerPort": 53}, {"name": "metrics", "containerPort": 9153}]}]},
      "status": {"phase": "Running"}})");
  const json unbound = json::parse(R"({"metadata": {"name": "kube-dns-unbound-0", "namespace": "kube-system"},
      "spec": {"containers": [{"image": "fixture.local/unbound:1.17"}]}, "status": {"phase": "Running"}})");
  const json node_local =
      json::parse(R"({"metadata": {"name": "node-local-dns-8kz2w", "namespace": "kube-system"}})");

  const ClusterDnsInfo good = read_cluster_dns(service, {coredns}, {});
  ASSERT_EQ(good.coredns.size(), 1u);
  EXPECT_EQ(good.coredns[0].name, "coredns-5d78c9869d-x2x7l");
  EXPECT_EQ(good.coredns[0].metrics_port, 9153);
  EXPECT_FALSE(cache_unmeasured(good, ""));
  EXPECT_FALSE(cache_unmeasured(good, "10.96.0.10:53"));
  EXPECT_EQ(cache_unmeasured(good, "169.254.20.10:53"),
            "the agent pods ask 169.254.20.10 (their resolv.conf), not the kube-system/kube-dns Service "
            "10.96.0.10: CoreDNS's counters would not be theirs");

  EXPECT_EQ(cache_unmeasured(read_cluster_dns(service, {unbound}, {}), ""),
            "the cluster DNS pods are not CoreDNS (kube-system/kube-dns-unbound-0 (image "
            "fixture.local/unbound:1.17)): no cache counters of its own that kubeproof can read "
            "(coredns_cache_hits_total)");
  EXPECT_EQ(cache_unmeasured(read_cluster_dns(service, {coredns}, {node_local}), ""),
            "NodeLocal DNSCache (kube-system/node-local-dns-8kz2w) answers pods on their node first, so "
            "CoreDNS's cache counters miss the hits it serves");
  EXPECT_EQ(
      cache_unmeasured(read_cluster_dns(json(), {}, {}), ""),
      "no running pod labelled k8s-app=kube-dns in kube-system: no CoreDNS whose cache counters could be "
      "read");
}

}  // namespace
}  // namespace kp::drivers::dns

namespace kp::drivers::dns {
namespace {

// An agent's line comes from a pod's log: a garbled one is one line naming the pod and the field.
TEST(DnsClusterAgentLine, AGarbledLineNamesTheFieldAndNeverThrows) {
  LoadResult load = agent_load(10, 100, 300, std::chrono::seconds(1));
  json good = {{"kind", "kubeproof.agent.dns"},
               {"load", load_to_json(load)},
               {"resolver", {{"server", "10.96.0.10:53"}, {"search", {"a.svc"}}, {"ndots", 5}}},
               {"measurements", json::array({json{{"metric", "dns.p99"}, {"value", 0.001}}})},
               {"invalid_reasons", json::array()}};
  Result<AgentRun> run = parse_agent("dns-agent-0", "node-a", good);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->server, "10.96.0.10:53");
  EXPECT_EQ(run->ndots, 5);
  ASSERT_EQ(run->measurements.size(), 1u);

  struct Case {
    std::string field;
    json value;
    std::string message;
  };
  for (
      const Case& c : std::vector<Case>{
          {"resolver", json("x"), "dns agent pod dns-agent-0's line: resolver: must be an object, got \"x\""},
          {"resolver", json{{"ndots", "5"}},
           "dns agent pod dns-agent-0's line: resolver.ndots: must be an integer, got \"5\""},
          {"resolver", json{{"search", {1}}},
           "dns agent pod dns-agent-0's line: resolver.search[0]: must be a string, got 1"},
          {"measurements", json{{"metric", 1}},
           "dns agent pod dns-agent-0's line: measurements: must be an array, got {\"metric\":1}"},
          {"measurements", json::array({json{{"metric", "dns.p99"}, {"value", "fast"}}}),
           "dns agent pod dns-agent-0's line: measurement: needs a string \"metric\" and a number \"value\""},
          {"invalid_reasons", json::array({2}),
           "dns agent pod dns-agent-0's line: invalid_reasons[0]: must be a string, got 2"}}) {
    json line = good;
    line[c.field] = c.value;
    Result<AgentRun> bad = parse_agent("dns-agent-0", "node-a", line);
    ASSERT_FALSE(bad) << c.field;
    EXPECT_EQ(bad.error().message, c.message);
  }
  // A failure line whose error is not text, and a line that is not an object.
  Result<AgentRun> failed = parse_agent("dns-agent-0", "node-a", json{{"error", 7}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "dns agent pod dns-agent-0's line: error: must be a string, got 7");
  failed = parse_agent("dns-agent-0", "node-a", json::array());
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "dns agent pod dns-agent-0's line: not a JSON object, got []");
  failed = parse_agent("dns-agent-0", "node-a", json{{"error", "no server answered"}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "dns agent pod dns-agent-0 on node-a: no server answered");
}

}  // namespace
}  // namespace kp::drivers::dns
