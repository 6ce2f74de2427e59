#pragma once

// Is the difference between two runs' percentile more than noise? Judged from the two recorded histograms.
//
// The test: a bootstrap of the difference of the two sample quantiles. Each run's sample is resampled with
// replacement (n draws from its own histogram), the quantile of each resample taken, and the difference B - A
// collected over many resamples; the difference is significant when the central `confidence` interval of
// those differences excludes 0.
//
// Resampling n draws per replicate is not needed: the k-th smallest of n draws from the empirical
// distribution is F_n^-1(V) with V ~ Beta(k, n + 1 - k) (the k-th order statistic of n uniforms), so one
// replicate costs two gamma draws and a look-up in the bucket counts, whatever n is. The quantile of a
// resample is read with the histogram's own rule (Histogram::value_at_percentile: the highest value of the
// bucket holding the rank), so a run compared with itself gives differences symmetric around 0.
//
// Why this test: the rows are percentiles (P99 mostly), and a regression gate asks whether the P99 moved. A
// Mann-Whitney U test answers another question (is one whole distribution shifted), and at 10^5 samples it
// calls a shift of the median significant while the P99 is unchanged. The bootstrap needs no assumption
// about the shape of a latency distribution (multi-modal, heavy tails) and uses the bucket counts as they
// are; a histogram's 0.1 % bucket width is far below any difference worth gating on.
//
// Reproducible: the generator is seeded from `seed` and the metric id, so the same inputs give the same
// interval (with the same standard library: std::gamma_distribution's algorithm is the library's).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/histogram.hpp"

namespace kp::report {

struct BootstrapOptions {
  double confidence = 0.95;  // two-sided
  int resamples = 10000;
  std::uint64_t seed = 1;
};

struct QuantileDifference {
  double percentile = 0;  // 0..100, e.g. 99
  double a = 0;           // the quantile of A's histogram, ns
  double b = 0;           // of B's
  double low = 0;         // the interval of B - A, ns
  double high = 0;
  double p_value = 1;  // two-sided: twice the smaller share of resampled differences on either side of 0
  bool significant = false;  // the interval excludes 0
};

// The percentile a metric id names by its last part: "p99" -> 99, "p50" -> 50, "p999" and "p99_9" -> 99.9;
// nullopt for an id that is not a percentile ("dns.qps").
std::optional<double> percentile_of_metric(std::string_view metric);

// nullopt when either histogram is empty. `salt` (the metric id) varies the stream per row, so a row's
// result does not depend on which other rows are compared.
std::optional<QuantileDifference> bootstrap_quantile_difference(const Histogram& a, const Histogram& b,
                                                                double percentile,
                                                                const BootstrapOptions& options,
                                                                std::string_view salt);

}  // namespace kp::report
