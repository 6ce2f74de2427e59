#pragma once

// Waits for new namespaces' ServiceAccount (`default`, or the one a pod names) before pods are created in
// them. Used by the api phase (its namespaces' `default`) and the pod runner (its `kubeproof-agent`). A new
// namespace has no `default` ServiceAccount until the controller-manager's ServiceAccount controller creates
// it, a moment later; until then the ServiceAccount admission plugin rejects every pod in it with 403 ("error
// looking up service account <ns>/default: serviceaccount "default" not found"). Those errors come from how a
// test runs, not from the cluster, so kubeproof waits, bounded, as kube-burner and the e2e framework do.
//
// One watch on ServiceAccounts (a Reflector: list, then watch) serves every namespace of the run, so the wait
// adds no request per namespace. Threads: events arrive on the reflector's thread; wait() blocks its caller.

#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "engine/cancellation.hpp"
#include "kube/watch.hpp"

namespace kp::cluster {

class ServiceAccountWaiter {
 public:
  // Watches ServiceAccounts named `account` in namespaces whose name starts with `prefix` (the run id).
  ServiceAccountWaiter(kube::Transport& transport, Clock& clock, std::string prefix,
                       std::string account = "default");
  ~ServiceAccountWaiter();
  void start();
  void stop();
  // Records a namespace's ServiceAccount (from the watch; public for the watch handler and tests).
  void observe(const kube::WatchEvent& event);
  bool has(const std::string& ns) const;
  // Waits until every namespace in `names` has its ServiceAccount, `deadline` passes or `cancel` is
  // requested. Returns the namespaces still without one.
  std::vector<std::string> wait(const std::vector<std::string>& names, TimePoint deadline,
                                engine::CancellationToken& cancel);

 private:
  Clock& clock_;
  std::string prefix_;
  std::string account_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::set<std::string> ready_;
  kube::Reflector reflector_;
};

}  // namespace kp::cluster
