#pragma once

#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/histogram.hpp"

namespace kp {

// One measured value of a metric. `value` is in the base unit of the metric's Quantity (seconds, per second,
// fraction, bits per second, count, bytes); see config/metric_catalog.hpp for each id's quantity.
struct Measurement {
  std::string metric;  // stable dotted id, e.g. "etcd.write.p99"
  double value = 0;
  // For a rate measured in open loop: the rate the run offered, in the same base unit. The value cannot
  // exceed it, so it proves capacity only up to it: a smoke run at 10 % of capacity that answers everything
  // it sent shows that the system kept up, not that it cannot do more (eval judges such a row on it).
  // Unset for closed-loop (max) runs and for everything that is not a rate.
  std::optional<double> offered;
  std::optional<Histogram> histogram;  // the distribution behind a percentile (ns), when we have it
  std::string source;                  // where it came from: "client", "server /metrics", "fio", "imported"
  std::string note;                    // anything a reader must know to trust the number
};

// The form agents print in their JSON result line (one object per measurement, base units, the lossless
// histogram when there is one), so results from many agent pods can be read back and merged.
nlohmann::json to_json(const Measurement& measurement);

}  // namespace kp
