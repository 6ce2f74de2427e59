#pragma once

// The Prometheus text exposition format (version 0.0.4), parsed by us: families with HELP/TYPE, samples with
// labels, and the pieces a phase needs from a /metrics page: counters, gauges and histograms, the difference
// of two scrapes, and histogram_quantile exactly as PromQL computes it.
// Shared by the etcd, API and DNS phases (etcd's, kube-apiserver's and CoreDNS's /metrics).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace kp::prom {

enum class MetricType { counter, gauge, histogram, summary, untyped };
std::string_view to_string(MetricType type);

using Label = std::pair<std::string, std::string>;
using Labels = std::vector<Label>;  // in the order the page gives them

struct Sample {
  std::string name;  // the full sample name, e.g. "etcd_disk_wal_fsync_duration_seconds_bucket"
  Labels labels;
  double value = 0;
  std::optional<std::int64_t> timestamp_ms;

  // The value of label `name`, if present.
  std::optional<std::string_view> label(std::string_view name) const;
};

struct Family {
  std::string name;  // for histograms and summaries, the base name without _bucket/_sum/_count
  MetricType type = MetricType::untyped;
  std::string help;
  std::vector<Sample> samples;
};

struct Exposition {
  std::vector<Family> families;  // in page order

  const Family* find(std::string_view name) const;
};

// Parses a whole page. Errors name the line and echo the offending text, e.g.
// `line 7: bad sample value "abc" for "etcd_server_has_leader"`.
Result<Exposition> parse_text(std::string_view text);

// One bucket of a cumulative histogram: observations <= upper_bound.
struct Bucket {
  double upper_bound = 0;
  double cumulative_count = 0;
  friend bool operator==(const Bucket&, const Bucket&) = default;
};

struct HistogramSnapshot {
  std::vector<Bucket> buckets;  // sorted by upper_bound, last one +Inf
  double sum = 0;
  double count = 0;
};

// Label matchers: every given label must be present with that value (others are ignored). Series of the
// family that match are summed bucket by bucket, like `sum by (le)` in PromQL.
Result<HistogramSnapshot> histogram(const Exposition& page, std::string_view family,
                                    const Labels& match = {});
// The sum of the matching samples of a counter, gauge or untyped family (not found -> input error naming it).
Result<double> scalar(const Exposition& page, std::string_view family, const Labels& match = {});

// after - before, bucket by bucket: the observations made between two scrapes. Fails (protocol) when the
// bucket layouts differ or a count went down (the server restarted between the scrapes).
Result<HistogramSnapshot> difference(const HistogramSnapshot& after, const HistogramSnapshot& before);

// PromQL's histogram_quantile(q, buckets), the same algorithm (promql/quantile.go, bucketQuantile):
// q < 0 -> -Inf, q > 1 -> +Inf; fewer than two buckets, no +Inf bucket or no observations -> NaN; buckets
// with the same bound are merged and non-monotonic counts are raised to the running maximum; rank = q *
// total; the first bucket whose cumulative count >= rank holds the quantile, which is interpolated linearly
// between that bucket's lower bound (the previous bucket's upper bound, or 0 for the first bucket) and its
// upper bound; a rank in the +Inf bucket returns the highest finite upper bound; a first bucket with upper
// bound <= 0 returns that bound.
double histogram_quantile(double q, std::vector<Bucket> buckets);

}  // namespace kp::prom
