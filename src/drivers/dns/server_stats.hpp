#pragma once

// The cache hit ratio comes from the server, not from latencies: its own hit and miss counters, read before
// and after the run, and the ratio of the differences, hits / (hits + misses).
//   lab (unbound)  `unbound-control stats_noreset`: total.num.cachehits, total.num.cachemiss. We speak
//                  unbound's remote-control protocol ourselves (a plain TCP connection with
//                  control-use-cert: no, as the lab configures it: "UBCT1 stats_noreset\n", then key=value
//                  lines until the server closes), which is exactly what unbound-control sends.
//   cluster        CoreDNS /metrics: coredns_cache_hits_total (summed over server, zones and type:
//                  success and denial) and coredns_cache_misses_total.
// Differences, so the counters' history (health checks, earlier runs) does not matter; a counter that went
// down means the server restarted between the reads, and no ratio is reported.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/dns/load_engine.hpp"

namespace kp::drivers::dns {

struct CacheCounters {
  double hits = 0;
  double misses = 0;
  std::optional<double> queries;  // the server's count of queries, when it gives one (unbound)
  // False when the server publishes no cache counters at all (CoreDNS without the cache plugin, or one that
  // has not cached anything yet).
  bool present = true;
  // CoreDNS's coredns_dns_requests_total summed by its `type` label ("A", "AAAA", "SRV", "other"): what the
  // server was asked, beside its cache counters.
  std::map<std::string, double> requests_by_type;
};

struct CacheDelta {
  double hits = 0;
  double misses = 0;
  std::optional<double> queries;
  std::map<std::string, double> requests_by_type;  // after - before, per type
  // hits / (hits + misses); unset when the server saw no query.
  std::optional<double> ratio() const;
};

// after - before; ErrorKind::protocol when a counter went down (a restart or a reset between the reads).
Result<CacheDelta> difference(const CacheCounters& before, const CacheCounters& after);

// One remote-control command to unbound at `control` (e.g. 127.0.0.1:8953, control-use-cert: no); returns
// its output. The exchange is bounded by `timeout`.
Result<std::string> unbound_control(const ServerAddress& control, std::string_view command, Duration timeout,
                                    Clock& clock);

// "key=value" lines -> map; other lines are errors naming the line ("line 3: expected key=value, got ...").
Result<std::map<std::string, double>> parse_unbound_stats(std::string_view text);
// total.num.cachehits / total.num.cachemiss (and total.num.queries) from parsed stats.
Result<CacheCounters> unbound_cache_counters(const std::map<std::string, double>& stats);

// From a CoreDNS /metrics page (Prometheus text format), summed over every series (server, zones, view, and
// for hits `type` success|denial): coredns_cache_hits_total; misses from coredns_cache_misses_total, or,
// where a CoreDNS has dropped that deprecated family, coredns_cache_requests_total - hits (its documented
// replacement); coredns_dns_requests_total by `type` into requests_by_type. A family not on the page counts
// as 0 (client_golang omits a counter until its first sample); no cache family at all: `present` is false.
Result<CacheCounters> coredns_cache_counters(std::string_view metrics_page);

// Where the counters come from, read on demand.
class CacheStatsSource {
 public:
  virtual ~CacheStatsSource() = default;
  virtual Result<CacheCounters> read() = 0;
  // "unbound stats_noreset at 127.0.0.1:8953", "CoreDNS http://10.0.0.5:9153/metrics", for notes.
  virtual std::string describe() const = 0;
};

std::unique_ptr<CacheStatsSource> unbound_stats_source(ServerAddress control, Duration timeout, Clock& clock);
std::unique_ptr<CacheStatsSource> coredns_stats_source(std::string metrics_url, Duration timeout);

}  // namespace kp::drivers::dns
