#pragma once

// Pod startup latency as the Kubernetes SLO defines it, per pod, from watch-observed times (ms precision):
//   created -> scheduled (PodScheduled) -> initialized (Initialized) -> containers ready (ContainersReady)
//   -> ready (Ready)
// `created` is when our create call was answered for pods we created, else the first time the watch saw the
// pod (pods of deployments). Each stage is the first event that shows its condition True. The condition
// lastTransitionTime minus creationTimestamp (the server's clock, second precision) is the cross-check:
// pods whose two figures differ by more than 2 s are counted. Pods not Ready within the timeout are counted
// and enter the quantiles at the timeout (censored: the P99 can only be higher), never dropped.

#include <array>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "kube/watch.hpp"

namespace kp::drivers::api {

enum class PodStage { scheduled = 0, initialized = 1, containers_ready = 2, ready = 3 };
inline constexpr std::array<std::string_view, 4> kPodStageNames = {"scheduled", "initialized",
                                                                   "containers_ready", "ready"};

struct PodStartupResult {
  std::array<Histogram, 4> stages;  // ns from created, per stage (started pods only)
  Histogram startup;                // created -> ready, with pods that never started at the timeout
  std::size_t pods = 0;
  std::size_t started = 0;
  std::size_t never_started = 0;
  std::size_t unscheduled = 0;           // of never_started: not even scheduled (no scheduler/nodes?)
  std::size_t condition_mismatches = 0;  // watch vs condition timestamps differ by > 2 s
};

class PodStartupTracker {
 public:
  explicit PodStartupTracker(Clock& clock) : clock_(clock) {}
  // Our create call for ns/name was answered at `when`.
  void created(const std::string& ns, const std::string& name, TimePoint when);
  // A watch (or list) event about a pod.
  void observe(const kube::WatchEvent& event);
  // Pods tracked so far, and how many are Ready.
  std::size_t pods() const;
  std::size_t ready() const;
  // The moment the last tracked pod was created (to bound the wait for the rest).
  std::optional<TimePoint> last_created() const;
  PodStartupResult result(Duration timeout) const;

 private:
  struct Pod {
    std::optional<TimePoint> created;
    std::array<std::optional<TimePoint>, 4> stages;
    std::optional<WallTime> creation_timestamp;
    std::optional<WallTime> ready_transition;
  };
  Clock& clock_;
  mutable std::mutex mutex_;
  std::map<std::string, Pod> pods_;  // "ns/name"
};

}  // namespace kp::drivers::api
