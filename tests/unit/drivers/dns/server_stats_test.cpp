#include "drivers/dns/server_stats.hpp"

#include <gtest/gtest.h>

namespace kp::drivers::dns {
namespace {

TEST(DnsServerStats, ParsesUnboundStatsNoreset) {
  Result<std::map<std::string, double>> stats = parse_unbound_stats(
      "thread0.num.queries=4\n"
      "total.num.queries=5\n"
      "total.num.cachehits=3\n"
      "total.num.cachemiss=2\n"
      "time.now=1795817496.071323\n"
      "histogram.000000.000000.to.000000.000001=0\n");
  ASSERT_TRUE(stats) << stats.error().message;
  EXPECT_DOUBLE_EQ(stats->at("time.now"), 1795817496.071323);
  Result<CacheCounters> counters = unbound_cache_counters(*stats);
  ASSERT_TRUE(counters);
  EXPECT_EQ(counters->hits, 3);
  EXPECT_EQ(counters->misses, 2);
  EXPECT_EQ(counters->queries, 5);
}

TEST(DnsServerStats, RefusesWhatIsNotStats) {
  EXPECT_EQ(parse_unbound_stats("total.num.queries=5\nerror unknown command\n").error().message,
            "line 2: expected key=value, got \"error unknown command\"");
  EXPECT_EQ(parse_unbound_stats("total.num.queries=five\n").error().message,
            "line 1: bad number \"five\" for total.num.queries");
  EXPECT_EQ(unbound_cache_counters({{"total.num.cachehits", 1}}).error().message,
            "unbound statistics have no total.num.cachemiss");
}

TEST(DnsServerStats, RatioOfTheDifferences) {
  Result<CacheDelta> delta = difference(
      CacheCounters{.hits = 100, .misses = 50, .queries = 150, .present = true, .requests_by_type = {}},
      CacheCounters{.hits = 1000, .misses = 150, .queries = 1150, .present = true, .requests_by_type = {}});
  ASSERT_TRUE(delta);
  EXPECT_EQ(delta->hits, 900);
  EXPECT_EQ(delta->misses, 100);
  EXPECT_EQ(delta->queries, 1000);
  EXPECT_DOUBLE_EQ(*delta->ratio(), 0.9);
  EXPECT_FALSE(CacheDelta{}.ratio());
  Result<CacheDelta> restarted = difference(
      CacheCounters{.hits = 100, .misses = 50, .queries = {}, .present = true, .requests_by_type = {}},
      CacheCounters{.hits = 3, .misses = 1, .queries = {}, .present = true, .requests_by_type = {}});
  ASSERT_FALSE(restarted);
  EXPECT_EQ(
      restarted.error().message,
      "cache counters went down during the run (hits 100 -> 3, misses 50 -> 1): the server restarted or its "
      "statistics were reset");
}

TEST(DnsServerStats, SumsCorednsCacheCountersOverLabels) {
  Result<CacheCounters> counters = coredns_cache_counters(
      "# HELP coredns_cache_hits_total The count of cache hits.\n"
      "# TYPE coredns_cache_hits_total counter\n"
      "coredns_cache_hits_total{server=\"dns://:53\",type=\"denial\",view=\"\",zones=\".\"} 250\n"
      "coredns_cache_hits_total{server=\"dns://:53\",type=\"success\",view=\"\",zones=\".\"} 8750\n"
      "# HELP coredns_cache_misses_total The count of cache misses.\n"
      "# TYPE coredns_cache_misses_total counter\n"
      "coredns_cache_misses_total{server=\"dns://:53\",view=\"\",zones=\".\"} 1000\n"
      "# TYPE coredns_dns_requests_total counter\n"
      "coredns_dns_requests_total{server=\"dns://:53\",zone=\".\",proto=\"udp\",family=\"1\",type=\"A\"} "
      "10000\n");
  ASSERT_TRUE(counters) << counters.error().message;
  EXPECT_TRUE(counters->present);
  EXPECT_EQ(counters->hits, 9000);
  EXPECT_EQ(counters->misses, 1000);
}

TEST(DnsServerStats, CorednsWithoutCacheSamplesIsNotPresent) {
  Result<CacheCounters> none =
      coredns_cache_counters("# TYPE coredns_build_info gauge\ncoredns_build_info 1\n");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->present);
  // Misses before the first hit: hits count as 0.
  Result<CacheCounters> misses_only = coredns_cache_counters(
      "# TYPE coredns_cache_misses_total counter\ncoredns_cache_misses_total{server=\"dns://:53\"} 7\n");
  ASSERT_TRUE(misses_only);
  EXPECT_TRUE(misses_only->present);
  EXPECT_EQ(misses_only->hits, 0);
  EXPECT_EQ(misses_only->misses, 7);
}

}  // namespace
}  // namespace kp::drivers::dns

namespace kp::drivers::dns {
namespace {

// A CoreDNS 1.11 page as its cache and prometheus plugins write it (cache plugin README: hits by server,
// type, zones, view; coredns_cache_requests_total by server, zones, view; misses deprecated, "derive misses
// from cache hits/requests counters"; coredns_dns_requests_total by server, zone, view, proto, family, type).
constexpr std::string_view kCoredns111 =
    "# HELP coredns_build_info A metric with a constant '1' value labeled by version, revision, and "
    "goversion "
    "from which CoreDNS was built.\n"
    "# TYPE coredns_build_info gauge\n"
    "coredns_build_info{goversion=\"go1.20.7\",revision=\"ae2bbc2\",version=\"1.11.1\"} 1\n"
    "# HELP coredns_cache_entries The number of elements in the cache.\n"
    "# TYPE coredns_cache_entries gauge\n"
    "coredns_cache_entries{server=\"dns://:53\",type=\"denial\",view=\"\",zones=\".\"} 41\n"
    "coredns_cache_entries{server=\"dns://:53\",type=\"success\",view=\"\",zones=\".\"} 17\n"
    "# HELP coredns_cache_hits_total The count of cache hits.\n"
    "# TYPE coredns_cache_hits_total counter\n"
    "coredns_cache_hits_total{server=\"dns://:53\",type=\"denial\",view=\"\",zones=\".\"} 6120\n"
    "coredns_cache_hits_total{server=\"dns://:53\",type=\"success\",view=\"\",zones=\".\"} 3380\n"
    "# HELP coredns_cache_requests_total The count of cache requests.\n"
    "# TYPE coredns_cache_requests_total counter\n"
    "coredns_cache_requests_total{server=\"dns://:53\",view=\"\",zones=\".\"} 10000\n"
    "# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.\n"
    "# TYPE coredns_dns_requests_total counter\n"
    "coredns_dns_requests_total{family=\"1\",proto=\"udp\",server=\"dns://"
    ":53\",type=\"A\",view=\"\",zone=\".\"} "
    "7000\n"
    "coredns_dns_requests_total{family=\"1\",proto=\"udp\",server=\"dns://:53\",type=\"AAAA\",view=\"\","
    "zone=\".\"} 2000\n"
    "coredns_dns_requests_total{family=\"1\",proto=\"tcp\",server=\"dns://"
    ":53\",type=\"A\",view=\"\",zone=\".\"} "
    "500\n"
    "coredns_dns_requests_total{family=\"1\",proto=\"udp\",server=\"dns://:53\",type=\"other\",view=\"\","
    "zone=\".\"} 500\n";

TEST(DnsServerStats, NewerCorednsMissesComeFromCacheRequestsMinusHits) {
  Result<CacheCounters> counters = coredns_cache_counters(kCoredns111);
  ASSERT_TRUE(counters) << counters.error().message;
  EXPECT_TRUE(counters->present);
  EXPECT_EQ(counters->hits, 9500);
  EXPECT_EQ(counters->misses, 500);  // 10000 requests - 9500 hits: the family it deprecated is absent
  const std::map<std::string, double> by_type{{"A", 7500}, {"AAAA", 2000}, {"other", 500}};
  EXPECT_EQ(counters->requests_by_type, by_type);
}

TEST(DnsServerStats, RequestsByTypeAreDifferencedWithTheCounters) {
  CacheCounters before;
  before.hits = 10;
  before.misses = 5;
  before.requests_by_type = {{"A", 15}};
  Result<CacheCounters> after = coredns_cache_counters(kCoredns111);
  ASSERT_TRUE(after);
  Result<CacheDelta> delta = difference(before, *after);
  ASSERT_TRUE(delta) << delta.error().message;
  EXPECT_EQ(delta->hits, 9490);
  EXPECT_EQ(delta->misses, 495);
  EXPECT_EQ(delta->requests_by_type.at("A"), 7485);
  EXPECT_EQ(delta->requests_by_type.at("AAAA"), 2000);
}

}  // namespace
}  // namespace kp::drivers::dns
