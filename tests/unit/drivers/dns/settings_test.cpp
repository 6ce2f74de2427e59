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
  EXPECT_EQ(settings->rate, load::RateSetting::from_capacity());
  EXPECT_EQ(settings->stress, load::StressSettings{});
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
  EXPECT_EQ(settings->rate, load::RateSetting::fixed_at(Rate{2000}));
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
      "metrics_url, stats_timeout, stress, agents, external_names, pods)");
  EXPECT_EQ(
      parse_error("clients: 2\nrate: fast\n"),
      "plans/x.yaml:2: phases[3].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  EXPECT_EQ(parse_error("rate: 0\n"),
            "plans/x.yaml:1: phases[3].settings.rate: not a rate > 0 (or \"max\", \"capacity\"), got \"0\"");
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

RunShape shape(const Settings& settings, const config::Capacity& capacity, double load, Duration duration,
               config::TestType type = config::TestType::load) {
  Result<RunShape> shaped = shape_run(settings, capacity, load, duration, type, "plans/x.yaml");
  EXPECT_TRUE(shaped) << shaped.error().message;
  return shaped ? *shaped : RunShape{};
}

TEST(DnsSettings, RateComesFromCapacityTimesLoad) {
  Settings settings;
  config::Capacity capacity;
  capacity.dns_qps = Rate{10000};
  RunShape shaped = shape(settings, capacity, 0.1, std::chrono::minutes(2));
  ASSERT_TRUE(shaped.load.rate);
  EXPECT_DOUBLE_EQ(shaped.load.rate->per_second, 1000);
  EXPECT_EQ(shaped.load.duration, std::chrono::minutes(2));
  EXPECT_EQ(shaped.notes, (std::vector<std::string>{"rate 1000 QPS = capacity.dns_qps 10k QPS x 10%"}));

  settings.rate = load::RateSetting::maximum();
  EXPECT_FALSE(shape(settings, capacity, 1.0, std::chrono::seconds(1)).load.rate);
  settings.rate = load::RateSetting::fixed_at(Rate{250});
  EXPECT_DOUBLE_EQ(shape(settings, capacity, 1.0, std::chrono::seconds(1)).load.rate->per_second, 250);
  settings.clients = 1;
  settings.threads = 8;
  EXPECT_EQ(shape(settings, capacity, 1.0, std::chrono::seconds(1)).load.threads, 1);
}

TEST(DnsSettings, MissingOrZeroCapacityIsAnInputErrorNamingTheField) {
  Settings settings;
  Result<RunShape> missing = shape_run(settings, config::Capacity{}, 1.5, std::chrono::minutes(1),
                                       config::TestType::load, "plans/x.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::input);
  EXPECT_EQ(
      missing.error().message,
      "plans/x.yaml: capacity.dns_qps: is required for the dns phase's rate (capacity x load), got nothing");
  config::Capacity zero;
  zero.dns_qps = Rate{0};
  Result<RunShape> none =
      shape_run(settings, zero, 1.0, std::chrono::minutes(1), config::TestType::load, "plans/x.yaml");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "plans/x.yaml: capacity.dns_qps: must be > 0, got \"0 QPS\"");
  // An explicit rate needs no capacity.
  settings.rate = load::RateSetting::fixed_at(Rate{500});
  EXPECT_TRUE(shape_run(settings, config::Capacity{}, 1.0, std::chrono::minutes(1)));
}

// The same `load:` means the same in dns as in the kernel: the dns schedule is the kernel's, for every test
// type, and the rate the engine runs at is its first step.
TEST(DnsSettings, LoadMeansWhatItMeansInTheKernel) {
  config::Capacity capacity;
  capacity.dns_qps = Rate{8000};
  for (config::TestType type : {config::TestType::smoke, config::TestType::load, config::TestType::stress}) {
    for (double load : {0.1, 0.7, 1.0, 1.5}) {
      Settings settings;
      const RunShape dns = shape(settings, capacity, load, std::chrono::minutes(10), type);
      Result<load::Schedule> kernel = load::resolve_schedule(
          load::ScheduleInput{.rate = load::RateSetting::from_capacity(),
                              .capacity = load::capacity_ref("capacity.dns_qps", capacity.dns_qps, "QPS"),
                              .load = load,
                              .type = type,
                              .duration = std::chrono::minutes(10),
                              .stress = {},
                              .where = "plans/x.yaml",
                              .owner = "the dns phase"});
      ASSERT_TRUE(kernel);
      ASSERT_EQ(dns.schedule.steps.size(), kernel->steps.size());
      for (std::size_t i = 0; i < kernel->steps.size(); ++i) {
        EXPECT_DOUBLE_EQ(dns.schedule.steps[i].rate->per_second, kernel->steps[i].rate->per_second);
        EXPECT_EQ(dns.schedule.steps[i].duration, kernel->steps[i].duration);
      }
      ASSERT_TRUE(dns.load.rate);
      EXPECT_DOUBLE_EQ(dns.load.rate->per_second, kernel->steps.front().rate->per_second);
      if (type != config::TestType::stress) {
        EXPECT_DOUBLE_EQ(dns.load.rate->per_second, 8000 * load);  // capacity x load
      }
    }
  }
}

TEST(DnsSettings, StressStepsFromCapacityOverThePhase) {
  Settings settings;
  config::Capacity capacity;
  capacity.dns_qps = Rate{2000};
  RunShape shaped = shape(settings, capacity, 1.5, std::chrono::minutes(16), config::TestType::stress);
  ASSERT_TRUE(shaped.schedule.stress());
  ASSERT_EQ(shaped.schedule.steps.size(), 5u);
  EXPECT_DOUBLE_EQ(shaped.schedule.steps.front().rate->per_second, 2000);
  EXPECT_DOUBLE_EQ(shaped.schedule.steps[2].rate->per_second, 3000);
  EXPECT_DOUBLE_EQ(shaped.schedule.steps.back().rate->per_second, 4000);
  // Five ramp steps and three bisection steps share the phase's 16 minutes.
  EXPECT_EQ(shaped.schedule.steps.back().duration, std::chrono::minutes(2));
  EXPECT_EQ(shaped.schedule.bisect, 3);
  EXPECT_FALSE(shape(settings, capacity, 1.0, std::chrono::minutes(10)).schedule.stress());
  settings.rate = load::RateSetting::maximum();  // closed loop has no rate to ramp
  EXPECT_FALSE(
      shape(settings, capacity, 1.5, std::chrono::minutes(10), config::TestType::stress).schedule.stress());

  Result<Settings> parsed = parse("stress:\n  steps: [100%, 300%]\n  bisect: 2\n");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->stress.steps, (std::vector<double>{1, 3}));
  EXPECT_EQ(parsed->stress.bisect, 2);
  EXPECT_EQ(
      parse_error("stress:\n  steps: [100%, 200%, 150%]\n"),
      "plans/x.yaml:2: phases[3].settings.stress.steps[2]: must be above the step before it (200%), got "
      "\"150%\"");
  EXPECT_EQ(parse_error("stress:\n  steps: [100%, 600%]\n"),
            "plans/x.yaml:2: phases[3].settings.stress.steps[1]: must be within 0%..500% of capacity, got "
            "\"600%\"");
  EXPECT_EQ(parse_error("stress:\n  bisect: -1\n"),
            "plans/x.yaml:2: phases[3].settings.stress.bisect: must be >= 0, got \"-1\"");
  EXPECT_TRUE(parse_error("stress_factors: [1, 2]\n")
                  .starts_with("plans/x.yaml:1: phases[3].settings: unknown key \"stress_factors\""));
}

}  // namespace
}  // namespace kp::drivers::dns
