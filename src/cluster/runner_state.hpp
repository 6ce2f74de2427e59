#pragma once

// The pod runner's private state and the helpers its two source files share (not part of the interface).

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cluster/pod_runner.hpp"
#include "engine/exit_deferral.hpp"
#include "kube/watch.hpp"

namespace kp::cluster {

struct PodRunner::State {
  State(RunnerOptions runner_options, Clock& runner_clock, engine::CancellationToken& token)
      : options(std::move(runner_options)), clock(runner_clock), cancel(token) {}
  RunnerOptions options;
  Clock& clock;
  engine::CancellationToken& cancel;
  std::unique_ptr<kube::Transport> transport;
  std::unique_ptr<kube::Api> api;
  std::string ns;
  std::string who;                              // "context \"x\" (https://...)", for messages
  bool created = false;                         // the namespace exists (close() deletes it)
  std::map<std::string, TimePoint> created_at;  // pod -> when create_pod asked for it
  std::optional<Duration> slowest_start;        // the longest create -> Running seen (start_lead())
  bool closed = false;
  // From just before the namespace is created until its DELETE is sent: a second Ctrl-C waits for that
  // DELETE rather than leave the namespace behind (engine/exit_deferral.hpp).
  std::optional<engine::ExitDeferral> namespace_guard;
};

namespace detail {

kube::Resource events_resource();
kube::Resource endpoint_slices_resource();
kube::Resource storage_classes_resource();
kube::Resource claims_resource();
kube::Resource services_resource();

// An API failure as one line: `what: message`. 403 -> ErrorKind::input (the user lacks a permission; the
// message says which), no answer -> ErrorKind::network, anything else keeps the transport's kind.
Error api_error(const kube::ApiError& error, std::string_view what);

// The message of the last Event about `name` (kind Pod, PersistentVolumeClaim, ...) in the namespace, with
// its reason when `reason` is given; "" when there is none or events cannot be listed.
std::string last_event(PodRunner::State& state, std::string_view kind, const std::string& name,
                       std::string* reason = nullptr);

// Watches one object (fieldSelector metadata.name) and hands every state of it to `decide` (the current one
// first) until `decide` returns true, `deadline` passes or the run is cancelled. A broken or ended watch is
// opened again; an object that is deleted is handed over as null.
enum class WaitEnd { decided, deadline, cancelled };
Result<WaitEnd> watch_object(PodRunner::State& state, const kube::Resource& resource, const std::string& name,
                             TimePoint deadline, const std::function<bool(const json&)>& decide);
// The same, and the Events about it (involvedObject kind and name) as they come, current ones first: an Event
// changes nothing in the object (a pod stuck in ContainerCreating, a Pending claim), yet may say it never
// will. `on_event` returning true ends the wait as decided. Events are optional: a watch of them that is
// refused (403: an older ClusterRole without watch on events) is dropped, and the object's wait goes on.
Result<WaitEnd> watch_object_and_events(PodRunner::State& state, const kube::Resource& resource,
                                        std::string_view kind, const std::string& name, TimePoint deadline,
                                        const std::function<bool(const json&)>& decide,
                                        const std::function<bool(const json&)>& on_event);

}  // namespace detail
}  // namespace kp::cluster
