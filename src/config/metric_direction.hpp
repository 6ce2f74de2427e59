#pragma once

// Which way is better for a metric, for comparing two runs (`kubeproof compare`): a latency that went up got
// worse, a rate, IOPS or bandwidth that went down got worse. A criteria row's comparison says it for the
// metrics it judges; this says it for every catalog metric, also those no active row judges.

#include <string_view>

namespace kp::config {

// True for rates, bandwidths, breaking points, the DNS cache hit ratio and etcd.has_leader; false for
// latencies, error and loss ratios and leader changes. Ids outside the catalog: false.
bool higher_is_better(std::string_view id);

}  // namespace kp::config
