#include "drivers/etcd/server_metrics.hpp"

#include <cmath>

#include <fmt/format.h>

#include "lab/http_get.hpp"

namespace kp::drivers::etcd {
namespace {

struct Quantile {
  std::optional<double> p99;
  double count = 0;
};

Quantile histogram_p99(const prom::Exposition& before, const prom::Exposition& after,
                       const std::string& family, std::vector<std::string>& problems) {
  Result<prom::HistogramSnapshot> first = prom::histogram(before, family);
  Result<prom::HistogramSnapshot> last = prom::histogram(after, family);
  if (!first || !last) {
    problems.push_back(fmt::format("{}: {}", family, (!first ? first.error() : last.error()).message));
    return {};
  }
  Result<prom::HistogramSnapshot> delta = prom::difference(*last, *first);
  if (!delta) {
    problems.push_back(fmt::format("{}: {}", family, delta.error().message));
    return {};
  }
  Quantile quantile;
  quantile.count = delta->buckets.empty() ? 0 : delta->buckets.back().cumulative_count;
  double value = prom::histogram_quantile(0.99, delta->buckets);
  if (std::isnan(value)) {
    problems.push_back(fmt::format("{}: no observations during the run", family));
    return quantile;
  }
  quantile.p99 = value;
  return quantile;
}

std::optional<double> counter_delta(const prom::Exposition& before, const prom::Exposition& after,
                                    const std::string& family, const prom::Labels& match,
                                    std::vector<std::string>& problems) {
  Result<double> first = prom::scalar(before, family, match);
  Result<double> last = prom::scalar(after, family, match);
  if (!first || !last) {
    problems.push_back((!first ? first.error() : last.error()).message);
    return std::nullopt;
  }
  if (*last < *first) {
    problems.push_back(
        fmt::format("{} went down between scrapes ({} then {}); did etcd restart?", family, *first, *last));
    return std::nullopt;
  }
  return *last - *first;
}

}  // namespace

Result<prom::Exposition> scrape(const std::string& url, Duration timeout, const TlsFiles& tls) {
  Result<http::Response> response =
      http::get(url, timeout,
                http::TlsFiles{.ca_file = tls.ca_file, .cert_file = tls.cert_file, .key_file = tls.key_file});
  if (!response) {
    return std::unexpected(response.error());
  }
  if (response->status != 200) {
    return fail(ErrorKind::protocol, fmt::format("GET {}: HTTP {}", url, response->status));
  }
  Result<prom::Exposition> page = prom::parse_text(response->body);
  if (!page) {
    return fail(ErrorKind::protocol, fmt::format("GET {}: {}", url, page.error().message));
  }
  return page;
}

ServerDelta compare(const prom::Exposition& before, const prom::Exposition& after) {
  ServerDelta delta;
  Quantile fsync = histogram_p99(before, after, "etcd_disk_wal_fsync_duration_seconds", delta.problems);
  delta.fsync_p99 = fsync.p99;
  delta.fsync_count = fsync.count;
  Quantile commit = histogram_p99(before, after, "etcd_disk_backend_commit_duration_seconds", delta.problems);
  delta.backend_commit_p99 = commit.p99;
  delta.backend_commit_count = commit.count;
  delta.leader_changes =
      counter_delta(before, after, "etcd_server_leader_changes_seen_total", {}, delta.problems);
  if (Result<double> leader = prom::scalar(after, "etcd_server_has_leader"); leader) {
    delta.has_leader = *leader;
  } else {
    delta.problems.push_back(leader.error().message);
  }
  delta.puts_ok = counter_delta(before, after, "grpc_server_handled_total",
                                {{"grpc_method", "Put"}, {"grpc_code", "OK"}}, delta.problems);
  delta.ranges_ok = counter_delta(before, after, "grpc_server_handled_total",
                                  {{"grpc_method", "Range"}, {"grpc_code", "OK"}}, delta.problems);
  return delta;
}

}  // namespace kp::drivers::etcd
