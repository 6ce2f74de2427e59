#include "drivers/dns/load_engine.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

TEST(DnsServerAddress, ParsesAddressesWithAndWithoutPort) {
  Result<ServerAddress> plain = parse_server("10.96.0.10");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->text, "10.96.0.10:53");
  EXPECT_EQ(ntohs(reinterpret_cast<const sockaddr_in*>(&plain->address)->sin_port), 53);
  EXPECT_EQ(parse_server("127.0.0.1:5353")->text, "127.0.0.1:5353");
  EXPECT_EQ(parse_server("[::1]:5353")->text, "[::1]:5353");
  EXPECT_EQ(parse_server("fd00::10")->text, "[fd00::10]:53");
  EXPECT_EQ(parse_server("127.0.0.1:0").error().message, "server \"127.0.0.1:0\": port must be 1..65535");
  EXPECT_EQ(parse_server("kube-dns:53").error().message,
            "server \"kube-dns:53\": not an IP address (a DNS server is given by address, e.g. 10.96.0.10 or "
            "127.0.0.1:5353)");
  EXPECT_FALSE(parse_server("[::1"));
}

TEST(DnsWorkload, PreparesEachDistinctQueryOnce) {
  Result<Workload> workload = build_workload(
      {{"a.example", type::a}, {"A.Example.", type::a}, {"a.example", type::aaaa}, {"b.example", type::a}},
      std::nullopt, {});
  ASSERT_TRUE(workload) << workload.error().message;
  EXPECT_FALSE(workload->walk);
  EXPECT_EQ(workload->queries.size(), 3u);
  ASSERT_EQ(workload->lookups.size(), 4u);
  EXPECT_EQ(workload->lookups[0], workload->lookups[1]);
  EXPECT_NE(workload->lookups[0], workload->lookups[2]);
}

TEST(DnsWorkload, PodResolverLookupsAreTheSearchWalk) {
  Result<Workload> workload =
      build_workload({{"svc-01", type::a}, {"svc-02", type::a}}, pod_resolver("default"), {});
  ASSERT_TRUE(workload);
  EXPECT_TRUE(workload->walk);
  ASSERT_EQ(workload->lookups.size(), 2u);
  ASSERT_EQ(workload->lookups[0].size(), 4u);
  EXPECT_EQ(workload->queries[workload->lookups[0][0]].name, "svc-01.default.svc.cluster.local");
  EXPECT_EQ(workload->queries[workload->lookups[0][3]].name, "svc-01");
  EXPECT_EQ(workload->queries.size(), 8u);
}

TEST(DnsWorkload, EmptyIsAnError) {
  EXPECT_EQ(build_workload({}, std::nullopt, {}).error().message, "no queries");
}

TEST(DnsLoadResult, RatesAndAchievedShare) {
  LoadResult result;
  result.elapsed = std::chrono::seconds(2);
  result.counters.rcodes[0] = 1500;
  result.counters.rcodes[3] = 500;
  result.counters.rcodes[2] = 100;
  result.counters.responses = 2100;
  EXPECT_DOUBLE_EQ(result.answered_per_second(), 1000);
  EXPECT_DOUBLE_EQ(result.responses_per_second(), 1050);
  EXPECT_EQ(result.counters.error_responses(), 100u);
  EXPECT_DOUBLE_EQ(result.achieved_share(), 1.0);  // max mode: nothing was "due"
  result.rate = Rate{1000};
  result.counters.lookups_started = 1980;
  result.unsent_due = 20;
  EXPECT_DOUBLE_EQ(result.achieved_share(), 0.99);
}

}  // namespace
}  // namespace kp::drivers::dns
