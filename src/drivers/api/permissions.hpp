#pragma once

// Every permission an api phase run needs, for the preflight (kube/access_review.hpp): its namespaces
// (create, get, list, delete), the objects its jobs create (create, get, list; patch where a patch job runs),
// the pod and ServiceAccount watches (list, watch in all namespaces). Objects are read from the jobs'
// templates (expanded with sample values); the built-in workload's are known.

#include <vector>

#include "core/error.hpp"
#include "drivers/api/settings.hpp"
#include "kube/access_review.hpp"

namespace kp::drivers::api {

// Errors: a template that does not expand or parse (input), as the run itself would give.
Result<std::vector<kube::Permission>> required_permissions(const Settings& settings);

}  // namespace kp::drivers::api
