#pragma once

// etcd's own view of a run, from its /metrics page scraped before and after: counters and histograms are
// cumulative, so the run's share is after - before.
//   etcd.fsync.p99          histogram_quantile(0.99, etcd_disk_wal_fsync_duration_seconds after - before)
//   backend commit P99      the same over etcd_disk_backend_commit_duration_seconds (informational)
//   etcd.leader_changes     etcd_server_leader_changes_seen_total after - before
//   has_leader              etcd_server_has_leader after the run
//   puts/ranges served      grpc_server_handled_total{grpc_method="Put"|"Range",grpc_code="OK"} after -
//   before
// The quantile is interpolated inside etcd's exponential buckets (1 ms, 2 ms, 4 ms, ...) exactly as
// Prometheus' histogram_quantile does (see prometheus_text.hpp), so the number matches a Grafana panel over
// the same window.

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/etcd/settings.hpp"
#include "prom/prometheus_text.hpp"

namespace kp::drivers::etcd {

Result<prom::Exposition> scrape(const std::string& url, Duration timeout, const TlsFiles& tls);

struct ServerDelta {
  std::optional<double> fsync_p99;           // seconds
  double fsync_count = 0;                    // WAL fsyncs during the run
  std::optional<double> backend_commit_p99;  // seconds
  double backend_commit_count = 0;
  std::optional<double> leader_changes;
  std::optional<double> has_leader;  // 1 or 0, after the run
  std::optional<double> puts_ok;     // Put calls the server handled with OK during the run
  std::optional<double> ranges_ok;
  std::vector<std::string> problems;  // what could not be computed, and why
};

ServerDelta compare(const prom::Exposition& before, const prom::Exposition& after);

}  // namespace kp::drivers::etcd
