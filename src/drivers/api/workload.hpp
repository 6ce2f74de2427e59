#pragma once

// One pass of the api phase's jobs at one pace: the plan's kube-burner-like jobs, or the built-in workload
// (create namespaces and objects -> read rounds -> patch -> churn -> delete). A steady run is one pass; a
// stress test runs one pass per step of its QPS ramp. Namespaces are "<run id>-<iteration>", numbered on
// across passes, labelled kubeproof.io/run=<run id> so teardown and `kubeproof cleanup` find them.
//
// Pods are created in a namespace only after its default ServiceAccount exists (service_accounts.hpp), so
// the ServiceAccount admission plugin's 403s for a namespace the controller-manager has not finished are
// never counted as the cluster's errors.
//
// Threads: run() blocks its caller; requests complete on the transport thread (load_runner.hpp).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/service_accounts.hpp"
#include "core/clock.hpp"
#include "core/live.hpp"
#include "drivers/api/load_runner.hpp"
#include "drivers/api/pod_startup.hpp"
#include "drivers/api/settings.hpp"
#include "drivers/api/shape.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::api {

using cluster::ServiceAccountWaiter;

struct WorkloadContext {
  kube::Transport& transport;
  Clock& clock;
  engine::CancellationToken& cancel;
  const Settings& settings;
  std::string run_id;
  PodStartupTracker& tracker;
  ServiceAccountWaiter& accounts;
  std::function<void(std::string_view)> progress;
  LiveSink* live = nullptr;
};

class Workload {
 public:
  explicit Workload(WorkloadContext context);
  ~Workload();
  // Runs every job once at `shape`'s pace, stretching the built-in read rounds to about `duration`.
  // Errors: a template that does not expand or names an unknown type (input); an exception in the load
  // (internal).
  Result<LoadStats> run(const Shape& shape, Duration duration);
  // What a reader must know about the passes so far ("3 namespaces waited 1.2 s for their ServiceAccount").
  std::vector<std::string> notes() const;

 private:
  struct Created;
  WorkloadContext context_;
  int next_iteration_ = 0;
  std::vector<std::string> notes_;
  bool accounts_absent_ = false;  // a wait timed out once: the cluster makes none (no controller-manager)
};

}  // namespace kp::drivers::api
