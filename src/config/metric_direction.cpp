#include "config/metric_direction.hpp"

#include "config/metric_catalog.hpp"

namespace kp::config {

bool higher_is_better(std::string_view id) {
  const MetricInfo* info = find_metric(id);
  if (info == nullptr) {
    return false;
  }
  switch (info->quantity) {
    case Quantity::rate:
    case Quantity::bandwidth:
      return true;
    case Quantity::duration:
    case Quantity::size:
      return false;
    case Quantity::ratio:
      // Error and loss ratios want to be low; a cache hit ratio high.
      return id.ends_with("hit_ratio");
    case Quantity::count:
      // A breaking point (streams, iodepth) is capacity; "has leader" is 1 when healthy; leader changes
      // are disruptions.
      return id.find("breaking") != std::string_view::npos || id.ends_with("has_leader");
  }
  return false;
}

}  // namespace kp::config
