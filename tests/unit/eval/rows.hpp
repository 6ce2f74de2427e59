#pragma once

// CriteriaRow values built in code, so the eval tests do not depend on the YAML loader. The levels are the
// seed's.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/criteria.hpp"
#include "core/measurement.hpp"

namespace kp::eval::testing {

inline config::CriteriaRow make_row(std::string metric, config::Comparison comparison,
                                    std::optional<double> target, std::optional<double> critical,
                                    std::string unit = {}) {
  config::CriteriaRow row;
  row.metric = std::move(metric);
  row.comparison = comparison;
  row.target = target;
  row.critical = critical;
  row.unit = std::move(unit);
  return row;
}

inline config::CriteriaRow tiered(config::CriteriaRow row, std::string group, std::string name) {
  row.tier = config::TierRef{std::move(group), std::move(name)};
  return row;
}

inline Measurement measure(std::string metric, double value) {
  Measurement measurement;
  measurement.metric = std::move(metric);
  measurement.value = value;
  return measurement;
}

// A rate measured in open loop at `offered`.
inline Measurement measure_offered(std::string metric, double value, double offered) {
  Measurement measurement = measure(std::move(metric), value);
  measurement.offered = offered;
  return measurement;
}

using config::Comparison;

// The seed's rows that the tests use, active for the default tiers (ssd, small cluster).
inline std::vector<config::CriteriaRow> seed_rows() {
  return {
      make_row("etcd.write.p99", Comparison::less, 0.025, 0.050, "ms"),
      make_row("etcd.read.p99", Comparison::less, 0.010, 0.025, "ms"),
      make_row("etcd.fsync.p99", Comparison::less, 0.010, 0.025, "ms"),
      make_row("api.mutating.p99", Comparison::less, 0.5, 1.0, "ms"),
      make_row("api.readonly.p99", Comparison::less, 0.2, 1.0, "ms"),
      make_row("api.qps", Comparison::greater, 1000, 500, "QPS"),
      make_row("api.error_rate", Comparison::less, 0.001, 0.01, "%"),
      // The Kubernetes SLO rows share metric ids with the seed's thresholds.
      make_row("api.mutating.p99", Comparison::less_equal, 1.0, std::nullopt, "s"),
      tiered(make_row("api.pod_startup.p99", Comparison::less_equal, 5.0, std::nullopt, "s"), "pod_images",
             "cached"),
      make_row("net.pod_to_pod.throughput", Comparison::greater, 5e9, 1e9, "Gbps"),
      make_row("dns.qps", Comparison::greater, 10000, 5000, "QPS"),
      make_row("dns.p99", Comparison::less, 0.010, 0.050, "ms"),
      tiered(make_row("storage.randread_4k.iops", Comparison::greater, 10000, std::nullopt, "IOPS"),
             "storage_tier", "ssd"),
      tiered(make_row("storage.randwrite_4k.iops", Comparison::greater, 5000, std::nullopt, "IOPS"),
             "storage_tier", "ssd"),
      tiered(make_row("ingress.rps", Comparison::greater, 10000, std::nullopt, "RPS"), "cluster_size",
             "small"),
      tiered(make_row("ingress.error_rate_5xx", Comparison::less, 0.001, std::nullopt, "%"), "cluster_size",
             "small"),
  };
}

}  // namespace kp::eval::testing
