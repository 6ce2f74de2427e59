#include "drivers/api/pod_startup.hpp"

#include <cmath>

#include "kube/encoding.hpp"

namespace kp::drivers::api {
namespace {

std::optional<PodStage> stage_of(std::string_view condition) {
  if (condition == "PodScheduled") {
    return PodStage::scheduled;
  }
  if (condition == "Initialized") {
    return PodStage::initialized;
  }
  if (condition == "ContainersReady") {
    return PodStage::containers_ready;
  }
  if (condition == "Ready") {
    return PodStage::ready;
  }
  return std::nullopt;
}

std::int64_t ns_between(TimePoint from, TimePoint to) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count();
}

}  // namespace

void PodStartupTracker::created(const std::string& ns, const std::string& name, TimePoint when) {
  std::lock_guard lock(mutex_);
  Pod& pod = pods_[ns + "/" + name];
  if (!pod.created || when < *pod.created) {
    pod.created = when;
  }
}

void PodStartupTracker::observe(const kube::WatchEvent& event) {
  if (event.type == kube::WatchEvent::Type::deleted || event.type == kube::WatchEvent::Type::bookmark) {
    return;
  }
  const kube::json& metadata = event.object.value("metadata", kube::json::object());
  std::string key = metadata.value("namespace", "") + "/" + metadata.value("name", "");
  std::lock_guard lock(mutex_);
  Pod& pod = pods_[key];
  if (!pod.created) {
    pod.created = event.observed;  // not ours (a deployment's): first seen
  }
  if (!pod.creation_timestamp) {
    pod.creation_timestamp = kube::parse_rfc3339(metadata.value("creationTimestamp", ""));
  }
  const kube::json& status = event.object.value("status", kube::json::object());
  const kube::json& conditions = status.value("conditions", kube::json::array());
  if (!conditions.is_array()) {
    return;
  }
  for (const kube::json& condition : conditions) {
    if (!condition.is_object() || condition.value("status", "") != "True") {
      continue;
    }
    std::optional<PodStage> stage = stage_of(condition.value("type", ""));
    if (!stage) {
      continue;
    }
    auto& seen = pod.stages[static_cast<std::size_t>(*stage)];
    if (!seen) {
      seen = event.observed;
    }
    if (*stage == PodStage::ready && !pod.ready_transition && condition.contains("lastTransitionTime") &&
        condition["lastTransitionTime"].is_string()) {
      pod.ready_transition = kube::parse_rfc3339(condition["lastTransitionTime"].get<std::string>());
    }
  }
}

std::size_t PodStartupTracker::pods() const {
  std::lock_guard lock(mutex_);
  return pods_.size();
}

std::size_t PodStartupTracker::ready() const {
  std::lock_guard lock(mutex_);
  std::size_t count = 0;
  for (const auto& [key, pod] : pods_) {
    count += pod.stages[3].has_value() ? 1 : 0;
  }
  return count;
}

std::optional<TimePoint> PodStartupTracker::last_created() const {
  std::lock_guard lock(mutex_);
  std::optional<TimePoint> last;
  for (const auto& [key, pod] : pods_) {
    if (pod.created && (!last || *pod.created > *last)) {
      last = pod.created;
    }
  }
  return last;
}

PodStartupResult PodStartupTracker::result(Duration timeout) const {
  std::lock_guard lock(mutex_);
  PodStartupResult result;
  std::int64_t timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  for (const auto& [key, pod] : pods_) {
    ++result.pods;
    if (!pod.created) {
      continue;
    }
    const auto& ready = pod.stages[3];
    if (!ready || ns_between(*pod.created, *ready) > timeout_ns) {
      ++result.never_started;
      if (!pod.stages[0]) {
        ++result.unscheduled;
      }
      result.startup.record(timeout_ns);
      continue;
    }
    ++result.started;
    for (std::size_t i = 0; i < 4; ++i) {
      if (pod.stages[i]) {
        // A stage seen in the same event as a later one (a relist) gets that event's time; never negative.
        result.stages[i].record(std::max<std::int64_t>(1, ns_between(*pod.created, *pod.stages[i])));
      }
    }
    std::int64_t watched = std::max<std::int64_t>(1, ns_between(*pod.created, *ready));
    result.startup.record(watched);
    if (pod.creation_timestamp && pod.ready_transition) {
      double by_conditions =
          std::chrono::duration<double>(*pod.ready_transition - *pod.creation_timestamp).count();
      if (std::abs(by_conditions - static_cast<double>(watched) / 1e9) > 2.0) {
        ++result.condition_mismatches;
      }
    }
  }
  return result;
}

}  // namespace kp::drivers::api
