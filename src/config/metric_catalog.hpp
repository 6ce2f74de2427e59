#pragma once

// The stable metric ids. Criteria, reports, Prometheus names and JUnit test cases all key on them; an id that
// is not here is an input error wherever it appears.

#include <span>
#include <string_view>

#include "core/phase.hpp"
#include "core/units.hpp"

namespace kp::config {

struct MetricInfo {
  std::string_view id;  // "etcd.write.p99"
  Phase phase;
  Quantity quantity;              // fixes the base unit of Measurement::value
  std::string_view display_unit;  // how reports show it: "ms", "Gbps", "MB/s", "%", "QPS", "IOPS"
  std::string_view description;   // "etcd write (Put) latency, 99th percentile"
};

std::span<const MetricInfo> metric_catalog();
const MetricInfo* find_metric(std::string_view id);

// A capacity metric: a rate the plan offers as a share of its stated capacity (capacity x load), so what it
// shows depends on that share. A smoke run (10 % of capacity) cannot show it; eval leaves such rows not
// judged there. api.qps, dns.qps, ingress.rps and ingress.connection_rate. Rates measured in closed loop
// (storage IOPS, network throughput, etcd throughput) are what the system does flat out, judged in every test
// type.
bool is_capacity_metric(std::string_view id);

}  // namespace kp::config
