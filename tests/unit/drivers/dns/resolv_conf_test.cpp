#include "drivers/dns/resolv_conf.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

// What the kubelet writes for a ClusterFirst pod in namespace "shop".
constexpr std::string_view kClusterFirst =
    "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
    "nameserver 10.96.0.10\n"
    "options ndots:5\n";

TEST(ResolvConf, ReadsAPodsClusterFirstFile) {
  Result<ResolvConf> conf = parse_resolv_conf(kClusterFirst, "/etc/resolv.conf");
  ASSERT_TRUE(conf) << conf.error().message;
  EXPECT_EQ(conf->nameservers, std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(conf->search,
            (std::vector<std::string>{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"}));
  EXPECT_EQ(conf->ndots, 5);
  EXPECT_EQ(conf->effective_ndots(), 5);
  EXPECT_EQ(conf->pod_namespace(), "shop");
  EXPECT_EQ(conf->cluster_domain(), "cluster.local");
}

TEST(ResolvConf, FollowsGlibcsRules) {
  Result<ResolvConf> conf = parse_resolv_conf(
      "# a comment\n"
      "; another\n"
      "domain first.example\n"
      "search a.example. b.example  # the last search line wins\n"
      "nameserver 10.0.0.1\n"
      "nameserver 10.0.0.2\n"
      "nameserver fd00::3\n"
      "nameserver 10.0.0.4\n"  // beyond MAXNS (3): ignored
      "sortlist 10.0.0.0/8\n"
      "options timeout:2 ndots:40 attempts:3\n",
      "x");
  ASSERT_TRUE(conf) << conf.error().message;
  EXPECT_EQ(conf->nameservers, (std::vector<std::string>{"10.0.0.1", "10.0.0.2", "fd00::3"}));
  EXPECT_EQ(conf->search, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(conf->ndots, 15);  // capped as glibc caps it
  EXPECT_FALSE(conf->pod_namespace());
  EXPECT_FALSE(conf->cluster_domain());

  Result<ResolvConf> plain = parse_resolv_conf("nameserver 127.0.0.53\n", "x");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->ndots);
  EXPECT_EQ(plain->effective_ndots(), 1);  // glibc's default
  EXPECT_TRUE(plain->search.empty());
}

TEST(ResolvConf, BadLinesNameFileAndLine) {
  Result<ResolvConf> no_address = parse_resolv_conf("search a\nnameserver\n", "/etc/resolv.conf");
  ASSERT_FALSE(no_address);
  EXPECT_EQ(no_address.error().message, "/etc/resolv.conf:2: nameserver without an address");
  Result<ResolvConf> bad_ndots = parse_resolv_conf("options ndots:five\n", "r.conf");
  ASSERT_FALSE(bad_ndots);
  EXPECT_EQ(bad_ndots.error().message, "r.conf:1: options ndots: not a number, got \"five\"");
  Result<ResolvConf> missing = read_resolv_conf("/no/such/resolv.conf");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/no/such/resolv.conf"), std::string::npos);
}

}  // namespace
}  // namespace kp::drivers::dns
