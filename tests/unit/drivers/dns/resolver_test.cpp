#include "drivers/dns/resolver.hpp"

#include <gtest/gtest.h>

#include "drivers/dns/wire.hpp"

namespace kp::drivers::dns {
namespace {

using Names = std::vector<std::string>;

TEST(DnsPodResolver, SearchListOfAPodInItsNamespace) {
  ResolverConfig config = pod_resolver("team-a");
  EXPECT_EQ(config.search, (Names{"team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"}));
  EXPECT_EQ(config.ndots, 5);
}

TEST(DnsPodResolver, FewerDotsThanNdotsSearchFirstThenAsIs) {
  ResolverConfig config = pod_resolver("default");
  EXPECT_EQ(search_candidates("my-svc", config),
            (Names{"my-svc.default.svc.cluster.local", "my-svc.svc.cluster.local", "my-svc.cluster.local",
                   "my-svc"}));
  // An external name: three NXDOMAINs before the real question.
  EXPECT_EQ(search_candidates("www.example.com", config),
            (Names{"www.example.com.default.svc.cluster.local", "www.example.com.svc.cluster.local",
                   "www.example.com.cluster.local", "www.example.com"}));
  // Even a service's FQDN without the trailing dot has only 4 dots.
  EXPECT_EQ(search_candidates("a.b.svc.cluster.local", config).front(),
            "a.b.svc.cluster.local.default.svc.cluster.local");
  EXPECT_EQ(search_candidates("a.b.svc.cluster.local", config).back(), "a.b.svc.cluster.local");
}

TEST(DnsPodResolver, NdotsOrMoreAsIsFirstThenSearch) {
  ResolverConfig config = pod_resolver("default");
  EXPECT_EQ(search_candidates("a.b.c.d.e.f", config),
            (Names{"a.b.c.d.e.f", "a.b.c.d.e.f.default.svc.cluster.local", "a.b.c.d.e.f.svc.cluster.local",
                   "a.b.c.d.e.f.cluster.local"}));
  config.ndots = 1;
  EXPECT_EQ(search_candidates("example.com", config).front(), "example.com");
  config.ndots = 0;
  EXPECT_EQ(search_candidates("host", config).front(), "host");
}

TEST(DnsPodResolver, TrailingDotIsAskedAloneAsIs) {
  EXPECT_EQ(search_candidates("kubernetes.default.svc.cluster.local.", pod_resolver()),
            (Names{"kubernetes.default.svc.cluster.local"}));
}

TEST(DnsPodResolver, RootInTheSearchListAsksAsIsThere) {
  ResolverConfig config{.search = {"a.example", ".", "b.example"}, .ndots = 2};
  EXPECT_EQ(search_candidates("host", config), (Names{"host.a.example", "host", "host.b.example"}));
}

TEST(DnsPodResolver, WalkGoesOnAfterNxdomainNodataAndServfailOnly) {
  EXPECT_TRUE(walk_continues(rcode::nxdomain, 0));
  EXPECT_TRUE(walk_continues(rcode::noerror, 0));
  EXPECT_TRUE(walk_continues(rcode::servfail, 0));
  EXPECT_FALSE(walk_continues(rcode::noerror, 1));
  EXPECT_FALSE(walk_continues(rcode::refused, 0));
  EXPECT_FALSE(walk_continues(rcode::formerr, 0));
}

}  // namespace
}  // namespace kp::drivers::dns
