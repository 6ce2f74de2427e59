#pragma once

// The API server's own latency SLIs, as ClusterLoader2's API responsiveness measurement computes them: from
// two scrapes of /metrics, the difference of apiserver_request_duration_seconds buckets per (verb, resource,
// subresource, scope), WATCH and CONNECT excluded (long-running by design); the P99 of each series by
// histogram_quantile; and per SLI class the worst series:
//   mutating  = POST, PUT, PATCH, DELETE (any scope)
//   readonly  = GET with scope "resource" (a single object)
//   list      = LIST (scope namespace or cluster)
// Series with no requests in the window are ignored. Quantiles are interpolated within the apiserver's
// buckets (5 ms .. 60 s), so they are coarse; the client-side histograms give the fine shape.

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "prom/prometheus_text.hpp"

namespace kp::drivers::api {

struct ClassSli {
  std::optional<double> p99;  // seconds, worst series
  std::string worst;          // "POST configmaps (namespace)" for the report
  double count = 0;           // requests in the window
  // The apiserver bucket the worst series' P99 was interpolated in: (low, high] seconds, so a reader knows
  // how coarse it is ("between 3 s and 4 s"); high is +Inf when the P99 lies above the last bound.
  double bucket_low = 0;
  double bucket_high = 0;
};

// The text of a bucket for a note: "between 3s and 4s", "below 5ms", "above 60s".
std::string bucket_text(const ClassSli& sli);

struct ServerSlis {
  ClassSli mutating;
  ClassSli readonly;
  ClassSli list;
  std::vector<std::string> problems;
};

Result<ServerSlis> compute_server_slis(const prom::Exposition& before, const prom::Exposition& after);

}  // namespace kp::drivers::api
