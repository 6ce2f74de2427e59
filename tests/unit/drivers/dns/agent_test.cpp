#include "drivers/dns/agent.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

AgentOptions with_rate(std::string rate) {
  AgentOptions options;
  options.server = "127.0.0.1:5353";
  options.rate = std::move(rate);
  return options;
}

// The agent's --rate goes through the kernel's flag reader, so it means what a plan's `rate:` means.
TEST(DnsAgent, RateFlagIsTheKernelsRateSetting) {
  Result<AgentPlan> fixed = to_agent_plan(with_rate("5k"));
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_EQ(fixed->settings.rate, load::RateSetting::fixed_at(Rate{5000}));
  ASSERT_TRUE(fixed->shape.load.rate);
  EXPECT_DOUBLE_EQ(fixed->shape.load.rate->per_second, 5000);

  Result<AgentPlan> max = to_agent_plan(with_rate("max"));
  ASSERT_TRUE(max);
  EXPECT_FALSE(max->shape.load.rate);

  Result<AgentPlan> bad = to_agent_plan(with_rate("fast"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::usage);
  EXPECT_EQ(bad.error().message, "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");

  // An agent has no plan, so no capacity to scale.
  Result<AgentPlan> capacity = to_agent_plan(with_rate("capacity"));
  ASSERT_FALSE(capacity);
  EXPECT_EQ(
      capacity.error().message,
      "--rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, got \"capacity\"");
}

// A file that lives as long as the test.
struct TempFile {
  explicit TempFile(const std::string& text)
      : path(std::filesystem::temp_directory_path() /
             ("kp-dns-resolv-" + std::to_string(::getpid()) + ".conf")) {
    std::ofstream(path) << text;
  }
  ~TempFile() { std::filesystem::remove(path); }
  std::filesystem::path path;
};

// In a pod, --resolver pod takes the nameserver, search list and ndots from resolv.conf (the hand-run bug:
// it queried 127.0.0.1:53 and searched "default").
TEST(DnsAgent, PodResolverReadsThePodsResolvConf) {
  TempFile conf(
      "search kp-1-dns.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions "
      "ndots:5\n");
  AgentOptions options;
  options.resolver = "pod";
  options.resolv_conf = conf.path.string();
  options.rate = "100";
  Result<AgentPlan> plan = to_agent_plan(options);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->server.text, "10.96.0.10:53");
  EXPECT_EQ(plan->settings.pod_namespace, "kp-1-dns");
  EXPECT_EQ(plan->settings.cluster_domain, "cluster.local");
  EXPECT_EQ(plan->settings.ndots, 5);
  EXPECT_TRUE(plan->settings.require_answer);
  std::optional<ResolverConfig> resolver = resolver_config(plan->settings);
  ASSERT_TRUE(resolver);
  EXPECT_EQ(resolver->search,
            (std::vector<std::string>{"kp-1-dns.svc.cluster.local", "svc.cluster.local", "cluster.local"}));
  // A short name walks the pod's own list first.
  EXPECT_EQ(search_candidates("web.shop", *resolver).front(), "web.shop.kp-1-dns.svc.cluster.local");

  // Flags still win over the file.
  options.server = "127.0.0.1:5353";
  options.ndots = 2;
  options.pod_namespace = "other";
  Result<AgentPlan> flags = to_agent_plan(options);
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_EQ(flags->server.text, "127.0.0.1:5353");
  EXPECT_EQ(flags->settings.ndots, 2);
  EXPECT_EQ(flags->settings.pod_namespace, "other");
}

TEST(DnsAgent, NoNameserverToAskIsAUsageError) {
  TempFile conf("search a.example\n");
  AgentOptions options;
  options.resolv_conf = conf.path.string();
  Result<AgentPlan> plan = to_agent_plan(options);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().kind, ErrorKind::usage);
  EXPECT_EQ(plan.error().message,
            "--resolv-conf: " + conf.path.string() + " names no nameserver: give --server");
  options.resolv_conf = "/no/such/resolv.conf";
  Result<AgentPlan> missing = to_agent_plan(options);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("--resolv-conf: /no/such/resolv.conf"), std::string::npos)
      << missing.error().message;
}

TEST(DnsAgent, QueryFlagsAreTheMix) {
  AgentOptions options = with_rate("100");
  options.query_lines = {"web.shop A", "_http._tcp.web.shop.svc.cluster.local SRV"};
  Result<AgentPlan> plan = to_agent_plan(options);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->settings.inline_queries,
            (std::vector<QuerySpec>{{"web.shop", 1}, {"_http._tcp.web.shop.svc.cluster.local", 33}}));
  options.query_lines = {"web.shop"};
  Result<AgentPlan> bad = to_agent_plan(options);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "--query:1: expected \"name TYPE\", got \"web.shop\"");
}

// A cluster whose domain is not cluster.local: the {cluster_domain} of the runner's mix becomes the domain
// of the pod's own search list, unless --cluster-domain (the plan's) says otherwise; and it says which.
TEST(DnsAgent, TheClusterDomainComesFromTheSearchListUnlessGiven) {
  TempFile conf(
      "search kp-1-dns.svc.corp.example svc.corp.example corp.example\nnameserver 10.96.0.10\noptions "
      "ndots:5\n");
  AgentOptions options = with_rate("100");
  options.resolver = "pod";
  options.resolv_conf = conf.path.string();
  options.query_lines = {"_http._tcp.web.shop.svc.{cluster_domain} SRV",
                         "10-0-0-7.shop.pod.{cluster_domain} A", "web.shop A"};
  Result<AgentPlan> plan = to_agent_plan(options);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->settings.cluster_domain, "corp.example");
  EXPECT_EQ(plan->settings.cluster_domain_source, conf.path.string() + "'s search list");
  EXPECT_EQ(plan->settings.inline_queries,
            (std::vector<QuerySpec>{{"_http._tcp.web.shop.svc.corp.example", 33},
                                    {"10-0-0-7.shop.pod.corp.example", 1},
                                    {"web.shop", 1}}));
  options.cluster_domain = "plan.example";
  Result<AgentPlan> given = to_agent_plan(options);
  ASSERT_TRUE(given) << given.error().message;
  EXPECT_EQ(given->settings.cluster_domain, "plan.example");
  EXPECT_EQ(given->settings.cluster_domain_source, "--cluster-domain");
  EXPECT_EQ(given->settings.inline_queries.front().name, "_http._tcp.web.shop.svc.plan.example");
  // No ClusterFirst search list (a hostNetwork pod, a custom dnsConfig): Kubernetes' default, and it says so.
  TempFile plain("nameserver 10.96.0.10\n");
  options.cluster_domain.clear();
  options.resolv_conf = plain.path.string();
  options.search = {"x.example"};
  Result<AgentPlan> fallback = to_agent_plan(options);
  ASSERT_TRUE(fallback) << fallback.error().message;
  EXPECT_EQ(fallback->settings.cluster_domain, "cluster.local");
  EXPECT_EQ(fallback->settings.cluster_domain_source,
            "the default (" + plain.path.string() + " has no ClusterFirst search list)");
}

}  // namespace
}  // namespace kp::drivers::dns
