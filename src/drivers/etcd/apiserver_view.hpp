#pragma once

// The API server's own view of etcd, for a cluster whose etcd kubeproof cannot reach (a managed control
// plane): kube-apiserver's /metrics histogram etcd_request_duration_seconds{operation, type} ("get",
// "/registry/pods" on recent versions, "*core.Pod" on older ones), cumulative since the API server started.
// It is shown as informational notes of the SKIPPED etcd phase, never judged: it includes the API server's
// own queueing and covers its whole uptime, not a test window.

#include <cstddef>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "prom/prometheus_text.hpp"

namespace kp::drivers::etcd {

inline constexpr std::string_view kApiserverEtcdFamily = "etcd_request_duration_seconds";

struct EtcdRequestLatency {
  std::string operation;  // "get", "list", "create", "update", "delete", ...
  std::string type;       // the resource: "/registry/pods", "*core.Pod"
  double count = 0;       // requests since the API server started
  double p50 = 0;         // seconds, histogram_quantile over the cumulative buckets
  double p99 = 0;
};

struct ApiserverEtcdView {
  EtcdRequestLatency all;                  // every series summed (operation and type "*")
  std::vector<EtcdRequestLatency> series;  // per operation and type, the most requests first
};

// ErrorKind::protocol when the page has no etcd_request_duration_seconds histogram (a server that does not
// expose it, or a permission that hides it) or it has no observations.
Result<ApiserverEtcdView> apiserver_etcd_view(const prom::Exposition& page);

// The notes: one summary line, then the `top` busiest series, e.g.
//   "the API server's etcd requests (etcd_request_duration_seconds from its /metrics, since it started;
//    informational, not judged): 51234 requests, P50 3.1ms, P99 21.4ms"
//   "  get /registry/pods: 10234 requests, P50 2.9ms, P99 18.2ms"
std::vector<std::string> apiserver_etcd_notes(const ApiserverEtcdView& view, std::size_t top = 8);

}  // namespace kp::drivers::etcd
