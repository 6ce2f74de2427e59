#pragma once

// Reading a Pod's, an Event list's and a PVC's status the way the API documents them, as pure functions on
// JSON (unit-tested with status captured from real clusters). Nothing here assumes a particular kubelet: a
// reason is read from where the API puts it (conditions, containerStatuses[].state / lastState), never from
// message wording.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace kp::cluster {

using nlohmann::json;

// Where a pod stands on its way to Running.
struct StartState {
  enum class Stage {
    starting,  // Pending (scheduling, pulling, creating) or Running without an IP yet: keep waiting
    running,   // phase Running, the agent container running, status.podIP set, Ready when it has a probe
    ended,     // phase Succeeded or Failed: the agent already exited (read its exit code and log)
    stuck,     // a reason the pod reports for not starting that may still clear (ErrImagePull, Unschedulable)
    failed,    // a reason that will not clear without a person (ErrImageNeverPull, InvalidImageName, ...)
  };
  Stage stage = Stage::starting;
  std::string reason;   // "ImagePullBackOff", "Unschedulable", "ContainerCreating", "OOMKilled", ...
  std::string message;  // the status's own message for that reason ("" when none)
};
StartState start_state(const json& pod);

// The agent container's status (the first container's when none is named "agent").
struct ContainerEnd {
  int exit_code = 0;
  std::string reason;  // Completed, Error, OOMKilled, ContainerCannotRun, ...
};
// state.terminated of the agent container, when it has ended.
std::optional<ContainerEnd> container_end(const json& pod);
// The agent is done: the pod Succeeded or Failed, or its agent container terminated while the pod still runs
// (a sidecar that a service mesh or a secrets agent injected keeps the phase at Running after the agent
// exits).
bool agent_finished(const json& pod);

// The agent container's times from its status, as the kubelet wrote them by its node's clock:
// state.running.startedAt, or state.terminated.startedAt and finishedAt. RFC 3339 with whole seconds (the API
// truncates: the true time is within the second after the one written).
struct ContainerTimes {
  std::optional<std::string> started_at;
  std::optional<std::string> finished_at;
};
ContainerTimes container_times(const json& pod);

// The message of the most recent Event in an EventList's items (by lastTimestamp, eventTime,
// series.lastObservedTime, firstTimestamp or creationTimestamp, whichever the event has), preferring Warning
// events and skipping the kubelet's bare "Error: <reason>" echoes: "Back-off pulling image \"x\"". "" for no
// events. `reason_out`, when given, gets the event's reason.
std::string last_event_message(const std::vector<json>& events, std::string* reason_out = nullptr);

// Whether an Event about a pod or a claim (its reason and message) says a volume will not get there without
// a person, with why in a few words naming what is missing; nullopt for everything else, which is waited on
// (an attach or mount that timed out, a CSI driver's hiccup, a provisioner's retry may all still clear).
// Conservative, from the wording of kube-controller-manager, the kubelet and the CSI spec:
//   FailedMount "... hostPath type check failed: /x is not a directory"   the node has no such path
//   ProvisioningFailed "storageclass.storage.k8s.io \"x\" not found"       the claim's StorageClass is gone
//   FailedBinding "no persistent volumes available for this claim and no storage class is set"
//   ProvisioningFailed "... rpc error: code = InvalidArgument desc = ..." the provisioner refuses the claim
std::optional<std::string> lasting_volume_failure(std::string_view reason, std::string_view message);

// True when an EndpointSlice lists an endpoint that is ready: conditions.ready true, or unset ("a nil value
// indicates an unknown state; in most cases consumers should interpret this unknown state as ready", the
// discovery.k8s.io/v1 API), and not terminating.
bool has_ready_endpoint(const json& endpoint_slice);

// "Bound", "Pending", "Lost" (status.phase of a PVC; "Pending" when it has none yet).
std::string claim_phase(const json& claim);

// The last line of `log` that is a JSON object with "kind" == kind; nullopt when none is.
std::optional<json> find_result_line(std::string_view log, std::string_view kind);
// The last non-empty line of `log`, cut to `limit` characters (for error messages).
std::string last_log_line(std::string_view log, std::size_t limit = 300);

}  // namespace kp::cluster
