#pragma once

// The stable metric ids. Criteria, reports, Prometheus names and JUnit test cases all key on them; an id that
// is not here is an input error wherever it appears.

#include <span>
#include <string_view>

#include "core/phase.hpp"
#include "core/units.hpp"

namespace kp::config {

struct MetricInfo {
  std::string_view id;            // "etcd.write.p99"
  Phase phase;
  Quantity quantity;              // fixes the base unit of Measurement::value
  std::string_view display_unit;  // how reports show it: "ms", "Gbps", "MB/s", "%", "QPS", "IOPS"
  std::string_view description;   // "etcd write (Put) latency, 99th percentile"
};

std::span<const MetricInfo> metric_catalog();
const MetricInfo* find_metric(std::string_view id);

}  // namespace kp::config
