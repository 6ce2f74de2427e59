#include "cluster/pod_status.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

#include "cluster/agent_pod.hpp"

namespace kp::cluster {
namespace {

// Waiting reasons that do not clear without a person: the kubelet retries them, but nothing in the cluster
// will change the outcome within a test's start timeout. (ErrImagePull and ImagePullBackOff may be a
// registry's hiccup; Unschedulable may be an autoscaler's next node: those are waited on to the deadline.)
constexpr std::array kFatalWaiting = {
    std::string_view("ErrImageNeverPull"),           // pullPolicy Never and the image is not on the node
    std::string_view("InvalidImageName"),            // the runtime cannot parse the reference
    std::string_view("CreateContainerConfigError"),  // e.g. runAsNonRoot with an image that runs as root
    std::string_view("CrashLoopBackOff"),            // only with restartPolicy other than Never
};

// The waiting reasons the kubelet reports while all is well.
constexpr std::array kNormalWaiting = {std::string_view("ContainerCreating"),
                                       std::string_view("PodInitializing")};

std::string text_of(const json& object, std::string_view key) {
  if (!object.is_object()) {
    return {};
  }
  auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

// An integer member (a container's exitCode); `fallback` when absent, of another type or beyond an int
// (json::value() would throw, or convert a huge number with undefined behaviour).
int int_of(const json& object, std::string_view key, int fallback) {
  if (!object.is_object()) {
    return fallback;
  }
  auto found = object.find(key);
  if (found == object.end() || !found->is_number_integer()) {
    return fallback;
  }
  if (found->is_number_unsigned()) {
    const auto value = found->get<std::uint64_t>();
    return value <= static_cast<std::uint64_t>(std::numeric_limits<int>::max()) ? static_cast<int>(value)
                                                                                : fallback;
  }
  const auto value = found->get<std::int64_t>();
  return value >= std::numeric_limits<int>::min() && value <= std::numeric_limits<int>::max()
             ? static_cast<int>(value)
             : fallback;
}

// The member `key` of `object` when it is an object, else an empty object (json::value() would copy it, and
// a pointer into the copy would dangle).
const json& member(const json& object, std::string_view key) {
  static const json empty = json::object();
  if (!object.is_object()) {
    return empty;
  }
  auto found = object.find(key);
  return found != object.end() && found->is_object() ? *found : empty;
}

bool is_one_of(std::string_view reason, const auto& reasons) {
  return std::find(reasons.begin(), reasons.end(), reason) != reasons.end();
}

const json* agent_status(const json& pod) {
  const json& status = member(pod, "status");
  auto statuses = status.find("containerStatuses");
  if (statuses == status.end() || !statuses->is_array() || statuses->empty()) {
    return nullptr;
  }
  for (const json& container : *statuses) {
    if (text_of(container, "name") == kAgentContainer) {
      return &container;
    }
  }
  return &statuses->front();
}

const json* condition(const json& pod, std::string_view type) {
  const json& status = member(pod, "status");
  auto conditions = status.find("conditions");
  if (conditions == status.end() || !conditions->is_array()) {
    return nullptr;
  }
  for (const json& item : *conditions) {
    if (text_of(item, "type") == type) {
      return &item;
    }
  }
  return nullptr;
}

std::string event_time(const json& event) {
  // Core v1 events fill lastTimestamp; events.k8s.io-written ones fill eventTime (and series) instead.
  std::string best;
  for (const std::string& candidate :
       {text_of(event, "lastTimestamp"), text_of(event, "eventTime"),
        text_of(member(event, "series"), "lastObservedTime"), text_of(event, "firstTimestamp"),
        text_of(member(event, "metadata"), "creationTimestamp")}) {
    // RFC 3339 in UTC compares as text; a null field reads as "".
    best = std::max(best, candidate);
  }
  return best;
}

bool has_readiness_probe(const json& pod) {
  auto containers = member(pod, "spec").find("containers");
  if (containers == member(pod, "spec").end() || !containers->is_array()) {
    return false;
  }
  for (const json& container : *containers) {
    if (text_of(container, "name") == kAgentContainer) {
      return container.contains("readinessProbe");
    }
  }
  return !containers->empty() && containers->front().contains("readinessProbe");
}

}  // namespace

StartState start_state(const json& pod) {
  const json& status = member(pod, "status");
  const std::string phase = text_of(status, "phase");
  if (phase == "Succeeded" || phase == "Failed") {
    std::optional<ContainerEnd> end = container_end(pod);
    std::string reason = end ? end->reason : text_of(status, "reason");  // e.g. Evicted, no container status
    return StartState{StartState::Stage::ended, reason, text_of(status, "message")};
  }
  if (const json* scheduled = condition(pod, "PodScheduled");
      scheduled != nullptr && text_of(*scheduled, "status") == "False") {
    std::string reason = text_of(*scheduled, "reason");
    return StartState{StartState::Stage::stuck, reason.empty() ? "Unschedulable" : reason,
                      text_of(*scheduled, "message")};
  }
  if (const json* container = agent_status(pod)) {
    const json& state = member(*container, "state");
    if (state.contains("waiting") && state["waiting"].is_object()) {
      const std::string reason = text_of(state["waiting"], "reason");
      std::string message = text_of(state["waiting"], "message");
      // A crash loop's cause is the last run's end (OOMKilled, Error), not the back-off.
      const json& last = member(*container, "lastState");
      if (last.contains("terminated") && last["terminated"].is_object()) {
        const json& ended = last["terminated"];
        std::string cause = fmt::format("last run ended {} (exit code {})", text_of(ended, "reason"),
                                        int_of(ended, "exitCode", 0));
        message = message.empty() ? cause : fmt::format("{}; {}", message, cause);
      }
      if (is_one_of(reason, kFatalWaiting)) {
        return StartState{StartState::Stage::failed, reason, message};
      }
      if (!reason.empty() && !is_one_of(reason, kNormalWaiting)) {
        return StartState{StartState::Stage::stuck, reason, message};
      }
      return StartState{StartState::Stage::starting, reason, message};
    }
    if (state.contains("terminated") && state["terminated"].is_object()) {
      // Ended, but the pod's phase has not caught up yet: report it as ended with the container's reason.
      return StartState{StartState::Stage::ended, text_of(state["terminated"], "reason"),
                        text_of(state["terminated"], "message")};
    }
    if (state.contains("running") && phase == "Running") {
      if (text_of(status, "podIP").empty()) {
        // The API does not promise the IP together with Running: wait for it.
        return StartState{StartState::Stage::starting, "NoPodIP", "running, no pod IP assigned yet"};
      }
      if (has_readiness_probe(pod)) {
        const json* ready = condition(pod, "Ready");
        if (ready == nullptr || text_of(*ready, "status") != "True") {
          return StartState{StartState::Stage::starting, "NotReady",
                            "running, its readiness probe has not passed yet"};
        }
      }
      return StartState{StartState::Stage::running, "Running", ""};
    }
  }
  return StartState{StartState::Stage::starting, phase.empty() ? "Pending" : phase,
                    text_of(status, "message")};
}

ContainerTimes container_times(const json& pod) {
  ContainerTimes times;
  const json* container = agent_status(pod);
  if (container == nullptr) {
    return times;
  }
  const json& state = member(*container, "state");
  for (const char* which : {"running", "terminated"}) {
    if (state.contains(which) && state[which].is_object()) {
      const json& at = state[which];
      if (at.contains("startedAt") && at["startedAt"].is_string()) {
        times.started_at = at["startedAt"].get<std::string>();
      }
      if (at.contains("finishedAt") && at["finishedAt"].is_string()) {
        times.finished_at = at["finishedAt"].get<std::string>();
      }
    }
  }
  return times;
}

std::optional<ContainerEnd> container_end(const json& pod) {
  const json* container = agent_status(pod);
  if (container == nullptr) {
    return std::nullopt;
  }
  const json& state = member(*container, "state");
  if (!state.contains("terminated") || !state["terminated"].is_object()) {
    return std::nullopt;
  }
  const json& ended = state["terminated"];
  return ContainerEnd{int_of(ended, "exitCode", 0), text_of(ended, "reason")};
}

bool agent_finished(const json& pod) {
  const std::string phase = text_of(member(pod, "status"), "phase");
  return phase == "Succeeded" || phase == "Failed" || container_end(pod).has_value();
}

std::optional<std::string> lasting_volume_failure(std::string_view reason, std::string_view message) {
  if (reason == "FailedMount") {
    // pkg/volume/hostpath: the type check runs on every retry against the node's own files.
    if (std::size_t at = message.find("hostPath type check failed: "); at != std::string_view::npos) {
      return fmt::format("the node has no such path for the hostPath volume ({})",
                         message.substr(at + std::string_view("hostPath type check failed: ").size()));
    }
    return std::nullopt;
  }
  if (reason == "ProvisioningFailed") {
    constexpr std::string_view kClass = "storageclass.storage.k8s.io \"";
    if (std::size_t at = message.find(kClass); at != std::string_view::npos) {
      std::string_view rest = message.substr(at + kClass.size());
      std::size_t end = rest.find('"');
      if (end != std::string_view::npos && rest.substr(end).starts_with("\" not found")) {
        return fmt::format("StorageClass \"{}\" does not exist", rest.substr(0, end));
      }
    }
    // gRPC's INVALID_ARGUMENT: the CSI driver says the request itself is wrong, whatever the retry.
    if (message.find("code = InvalidArgument") != std::string_view::npos) {
      return std::string("the provisioner refuses the claim (InvalidArgument)");
    }
    return std::nullopt;
  }
  if (reason == "FailedBinding" &&
      message.find("no persistent volumes available for this claim and no storage class is set") !=
          std::string_view::npos) {
    return std::string("no StorageClass is set and no PersistentVolume matches the claim");
  }
  return std::nullopt;
}

std::string last_event_message(const std::vector<json>& events, std::string* reason_out) {
  const json* best = nullptr;
  std::string best_time;
  bool best_warning = false;
  for (const json& event : events) {
    if (!event.is_object()) {
      continue;
    }
    // The kubelet follows each informative warning ("Failed to pull image \"x\": ...", "Back-off pulling
    // image \"x\"") with "Error: <waiting reason>", which only repeats the reason: never the one to show.
    const std::string message = text_of(event, "message");
    if (message.starts_with("Error: ") && message.find(' ', 7) == std::string::npos) {
      continue;
    }
    const bool warning = text_of(event, "type") == "Warning";
    const std::string time = event_time(event);
    // A later Warning beats everything; a Normal event only wins when there is no Warning at all. Equal
    // times keep the later item (the list's order).
    if (best == nullptr || (warning && !best_warning) || (warning == best_warning && time >= best_time)) {
      best = &event;
      best_time = time;
      best_warning = warning;
    }
  }
  if (best == nullptr) {
    return {};
  }
  if (reason_out != nullptr) {
    *reason_out = text_of(*best, "reason");
  }
  std::string message = text_of(*best, "message");
  if (message.empty()) {
    message = text_of(*best, "note");  // events.k8s.io/v1's name for it
  }
  return message;
}

bool has_ready_endpoint(const json& endpoint_slice) {
  auto endpoints = endpoint_slice.find("endpoints");
  if (endpoints == endpoint_slice.end() || !endpoints->is_array()) {
    return false;
  }
  for (const json& endpoint : *endpoints) {
    const json& conditions = member(endpoint, "conditions");
    auto ready = conditions.find("ready");
    auto terminating = conditions.find("terminating");
    const bool is_ready =
        ready == conditions.end() || ready->is_null() || (ready->is_boolean() && ready->get<bool>());
    const bool is_terminating =
        terminating != conditions.end() && terminating->is_boolean() && terminating->get<bool>();
    if (is_ready && !is_terminating) {
      return true;
    }
  }
  return false;
}

std::string claim_phase(const json& claim) {
  std::string phase = text_of(member(claim, "status"), "phase");
  return phase.empty() ? "Pending" : phase;
}

std::optional<json> find_result_line(std::string_view log, std::string_view kind) {
  std::size_t end = log.size();
  while (end > 0) {
    std::size_t start = log.rfind('\n', end - 1);
    std::size_t begin = start == std::string_view::npos ? 0 : start + 1;
    std::string_view line = log.substr(begin, end - begin);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
      line.remove_suffix(1);
    }
    if (!line.empty() && line.front() == '{') {
      json parsed = json::parse(line, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_object() && text_of(parsed, "kind") == kind) {
        return parsed;
      }
    }
    if (start == std::string_view::npos) {
      break;
    }
    end = start;
  }
  return std::nullopt;
}

std::string last_log_line(std::string_view log, std::size_t limit) {
  while (!log.empty() && (log.back() == '\n' || log.back() == '\r' || log.back() == ' ')) {
    log.remove_suffix(1);
  }
  std::size_t start = log.rfind('\n');
  std::string_view line = start == std::string_view::npos ? log : log.substr(start + 1);
  if (line.size() > limit) {
    return fmt::format("{}...", line.substr(0, limit));
  }
  return std::string(line);
}

}  // namespace kp::cluster
