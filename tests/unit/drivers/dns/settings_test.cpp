#include "drivers/dns/settings.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

Result<Settings> parse(const std::string& yaml) {
  return parse_settings(YAML::Load(yaml), "plans/x.yaml", "phases[3].settings", "/plans");
}

std::string parse_error(const std::string& yaml) {
  Result<Settings> settings = parse(yaml);
  return settings ? std::string("parsed") : settings.error().message;
}

TEST(DnsSettings, DefaultsAreTheBuiltInMixAtTheProfilesRate) {
  Result<Settings> settings = parse_settings(YAML::Node(), "plans/x.yaml", "phases[3].settings", "/plans");
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->queries, "kubernetes");
  EXPECT_EQ(settings->protocol, Protocol::udp);
  EXPECT_FALSE(settings->rate);
  EXPECT_FALSE(settings->max_rate);
  EXPECT_EQ(settings->clients, 10);
  EXPECT_TRUE(validate(*settings, "plans/x.yaml: phases[3].settings"));
}

TEST(DnsSettings, ParsesEveryKey) {
  Result<Settings> settings = parse(R"(
server: 10.96.0.10
protocol: tcp
queries: queries/k8s.txt
resolver: pod
namespace: team-a
search: [team-a.svc.cluster.local, svc.cluster.local]
ndots: 3
cluster_domain: cluster.local
rate: 2k
arrival: poisson
outstanding: 500
clients: 4
threads: 2
total: 50000
timeout: 500ms
edns: 1232
tcp_on_truncation: false
failure_window: 2s
late_tolerance: 2ms
metrics_url: http://10.0.0.5:9153/metrics
stats_timeout: 3s
)");
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->server, "10.96.0.10");
  EXPECT_EQ(settings->protocol, Protocol::tcp);
  EXPECT_EQ(settings->queries, "/plans/queries/k8s.txt");
  EXPECT_TRUE(settings->pod_resolver);
  EXPECT_EQ(settings->pod_namespace, "team-a");
  EXPECT_EQ(settings->search.size(), 2u);
  EXPECT_EQ(settings->ndots, 3);
  EXPECT_DOUBLE_EQ(settings->rate->per_second, 2000);
  EXPECT_EQ(settings->arrival, Arrival::poisson);
  EXPECT_EQ(settings->outstanding, 500u);
  EXPECT_EQ(settings->clients, 4);
  EXPECT_EQ(settings->threads, 2);
  EXPECT_EQ(settings->total, 50000u);
  EXPECT_EQ(settings->timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(settings->edns, 1232);
  EXPECT_FALSE(settings->tcp_on_truncation);
  EXPECT_EQ(settings->metrics_url, "http://10.0.0.5:9153/metrics");
  EXPECT_EQ(settings->stats_timeout, std::chrono::seconds(3));
}

TEST(DnsSettings, MessagesNameFileLineFieldAndValue) {
  EXPECT_EQ(
      parse_error("bogus: 1\n"),
      "plans/x.yaml:1: phases[3].settings: unknown key \"bogus\" (expected one of: server, protocol, "
      "queries, resolver, namespace, search, ndots, cluster_domain, rate, arrival, outstanding, clients, "
      "threads, total, timeout, edns, tcp_on_truncation, failure_window, late_tolerance, unbound_control, "
      "metrics_url, stats_timeout, stress_factors, stress_p99_limit, stress_loss_limit)");
  EXPECT_EQ(parse_error("clients: 2\nrate: fast\n"),
            "plans/x.yaml:2: phases[3].settings.rate: not a rate, got \"fast\" (use e.g. 10k, 1500/s, 2.5M, "
            "100/m, 20 "
            "QPS)");
  EXPECT_EQ(parse_error("rate: 0\n"),
            "plans/x.yaml:1: phases[3].settings.rate: must be > 0 (or \"max\"), got \"0\"");
  EXPECT_EQ(parse_error("protocol: quic\n"),
            "plans/x.yaml:1: phases[3].settings.protocol: must be one of: udp, tcp, got \"quic\"");
  EXPECT_EQ(
      parse_error("server: coredns.kube-system\n"),
      "plans/x.yaml:1: phases[3].settings.server: must be an IP address with an optional port (10.96.0.10, "
      "127.0.0.1:5353, [::1]:53), got \"coredns.kube-system\"");
  EXPECT_EQ(parse_error("clients: 0\n"),
            "plans/x.yaml:1: phases[3].settings.clients: must be within 1..10000, got \"0\"");
  EXPECT_EQ(parse_error("timeout: 0s\n"),
            "plans/x.yaml:1: phases[3].settings.timeout: must be > 0, got \"0s\"");
  EXPECT_EQ(
      parse_error("edns: 100\n"),
      "plans/x.yaml:1: phases[3].settings.edns: must be a UDP payload size within 512..65535, or false, got "
      "\"100\"");
  EXPECT_EQ(parse_error("ndots: 2\n"),
            "plans/x.yaml:1: phases[3].settings.ndots: only applies with resolver: pod");
  EXPECT_EQ(parse_error("clients: 1\noutstanding: 70000\n"),
            "plans/x.yaml:2: phases[3].settings.outstanding: must be at most 60000 per client (1 clients): "
            "DNS IDs are "
            "16 bits, got \"70000\"");
  EXPECT_EQ(
      parse_error("unbound_control: 127.0.0.1:8953\nmetrics_url: http://x:9153/metrics\n"),
      "plans/x.yaml:1: phases[3].settings: give unbound_control or metrics_url, not both (one server's cache "
      "statistics)");
  EXPECT_EQ(
      parse_error("metrics_url: x:9153\n"),
      "plans/x.yaml:1: phases[3].settings.metrics_url: must start with http:// or https://, got \"x:9153\"");
}

TEST(DnsSettings, ValidateReadsTheQueryFileAndNamesItsBadLine) {
  Result<Settings> settings = parse("queries: /nonexistent/kp-queries.txt\n");
  ASSERT_TRUE(settings);
  Result<void> valid = validate(*settings, "plans/x.yaml: phases[3].settings");
  ASSERT_FALSE(valid);
  EXPECT_TRUE(valid.error().message.starts_with("/nonexistent/kp-queries.txt: cannot read"))
      << valid.error().message;
}

TEST(DnsSettings, RateComesFromCapacityTimesLoad) {
  Settings settings;
  config::Capacity capacity;
  capacity.dns_qps = Rate{10000};
  RunShape shape = shape_run(settings, capacity, 0.1, std::chrono::minutes(2));
  ASSERT_TRUE(shape.load.rate);
  EXPECT_DOUBLE_EQ(shape.load.rate->per_second, 1000);
  EXPECT_EQ(shape.load.duration, std::chrono::minutes(2));
  EXPECT_TRUE(shape.notes.empty());

  RunShape assumed = shape_run(settings, config::Capacity{}, 1.5, std::chrono::minutes(1));
  EXPECT_DOUBLE_EQ(assumed.load.rate->per_second, 15000);
  ASSERT_EQ(assumed.notes.size(), 1u);
  EXPECT_EQ(assumed.notes[0], "the plan states no capacity.dns_qps; assumed 10000/s (the seed's target)");

  settings.max_rate = true;
  EXPECT_FALSE(shape_run(settings, capacity, 1.0, std::chrono::seconds(1)).load.rate);
  settings.max_rate = false;
  settings.rate = Rate{250};
  EXPECT_DOUBLE_EQ(shape_run(settings, capacity, 1.0, std::chrono::seconds(1)).load.rate->per_second, 250);
  settings.clients = 1;
  settings.threads = 8;
  EXPECT_EQ(shape_run(settings, capacity, 1.0, std::chrono::seconds(1)).load.threads, 1);
}

TEST(DnsSettings, StressStepsFromCapacityOverThePhase) {
  Settings settings;
  config::Capacity capacity;
  capacity.dns_qps = Rate{2000};
  RunShape shape = shape_run(settings, capacity, 1.5, std::chrono::minutes(10), config::TestType::stress);
  ASSERT_EQ(shape.stress.size(), 5u);
  EXPECT_DOUBLE_EQ(shape.stress.front().rate.per_second, 2000);
  EXPECT_DOUBLE_EQ(shape.stress[2].rate.per_second, 3000);
  EXPECT_DOUBLE_EQ(shape.stress.back().rate.per_second, 4000);
  EXPECT_EQ(shape.stress.back().duration, std::chrono::minutes(2));
  EXPECT_TRUE(shape_run(settings, capacity, 1.0, std::chrono::minutes(10)).stress.empty());
  settings.rate = Rate{100};  // an explicit rate is held, not ramped
  EXPECT_TRUE(
      shape_run(settings, capacity, 1.5, std::chrono::minutes(10), config::TestType::stress).stress.empty());

  Result<Settings> parsed = parse("stress_factors: [1, 3]\nstress_p99_limit: 20ms\nstress_loss_limit: 5%\n");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->stress_factors, (std::vector<double>{1, 3}));
  EXPECT_EQ(parsed->stress_p99_limit, std::chrono::milliseconds(20));
  EXPECT_DOUBLE_EQ(parsed->stress_loss_limit, 0.05);
  EXPECT_EQ(
      parse_error("stress_factors: [1, 2, 1.5]\n"),
      "plans/x.yaml:1: phases[3].settings.stress_factors[2]: factors must increase; the one before is 2, "
      "got \"1.5\"");
  EXPECT_EQ(parse_error("stress_factors: [1, x]\n"),
            "plans/x.yaml:1: phases[3].settings.stress_factors[1]: must be a number > 0, got \"x\"");
  EXPECT_EQ(
      parse_error("stress_factors: []\n"),
      "plans/x.yaml:1: phases[3].settings.stress_factors: must be a non-empty list of increasing factors, "
      "e.g. [1, 1.5, 2]");
}

TEST(DnsSettings, ResolverConfigFromNamespaceOrExplicitSearch) {
  Settings settings;
  EXPECT_FALSE(resolver_config(settings));
  settings.pod_resolver = true;
  settings.pod_namespace = "shop";
  EXPECT_EQ(resolver_config(settings)->search.front(), "shop.svc.cluster.local");
  settings.search = {"corp.example"};
  settings.ndots = 2;
  EXPECT_EQ(resolver_config(settings)->search, std::vector<std::string>{"corp.example"});
  EXPECT_EQ(resolver_config(settings)->ndots, 2);
}

}  // namespace
}  // namespace kp::drivers::dns
