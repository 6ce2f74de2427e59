// The pod runner's Services (ready when their EndpointSlice says so), volume claims (storage classes,
// binding) and the watch loop every wait uses.

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cluster/pod_runner.hpp"
#include "cluster/pod_status.hpp"
#include "cluster/runner_state.hpp"

namespace kp::cluster {
namespace detail {

kube::Resource events_resource() {
  return kube::Resource{.group = "", .version = "v1", .name = "events", .kind = "Event", .namespaced = true};
}
kube::Resource endpoint_slices_resource() {
  return kube::Resource{.group = "discovery.k8s.io",
                        .version = "v1",
                        .name = "endpointslices",
                        .kind = "EndpointSlice",
                        .namespaced = true};
}
kube::Resource storage_classes_resource() {
  return kube::Resource{.group = "storage.k8s.io",
                        .version = "v1",
                        .name = "storageclasses",
                        .kind = "StorageClass",
                        .namespaced = false};
}
kube::Resource claims_resource() {
  return *kube::builtin_resource("v1", "PersistentVolumeClaim");
}
kube::Resource services_resource() {
  return *kube::builtin_resource("v1", "Service");
}

Error api_error(const kube::ApiError& error, std::string_view what) {
  Error result = with_context(error.error, fmt::format("{}: ", what));
  if (error.code == 403 || error.code == 401) {
    // The kubeconfig's user may not do this: its input, not the cluster's fault (deploy/rbac/ has the role).
    result.kind = ErrorKind::input;
  } else if (error.code == 0 && result.kind != ErrorKind::cancelled) {
    result.kind = ErrorKind::network;
  }
  return result;
}

std::string last_event(PodRunner::State& state, std::string_view kind, const std::string& name,
                       std::string* reason) {
  kube::ListOptions options;
  options.field_selector = fmt::format("involvedObject.kind={},involvedObject.name={}", kind, name);
  kube::ApiResult<kube::ListResult> listed = state.api->list(events_resource(), state.ns, options);
  if (!listed) {
    return {};
  }
  return last_event_message(listed->items, reason);
}

namespace {

// Client errors that another try will not fix (the watch is refused): everything 4xx but 410 (a stale
// resourceVersion: list again) and 429 (throttled: try again).
bool lasting(const kube::ApiError& error) {
  return error.code >= 400 && error.code < 500 && error.code != 410 && error.code != 429;
}

// One watch among those a wait follows: what to watch, and what to do with it.
struct Subscription {
  kube::Resource resource;
  kube::WatchOptions options;
  std::function<void()> on_open;                        // before each (re)open: the state restarts
  std::function<bool(const kube::WatchEvent&)> handle;  // true: decided
  bool optional = false;                                // refused (a lasting 4xx): dropped, not an error
};

// Follows every subscription's watch, each reopened from "" when it breaks or ends (the server first sends
// the current objects as ADDED, so a reopened watch misses nothing), until a handler decides, `deadline`
// passes or the run is cancelled.
Result<WaitEnd> watch_all(PodRunner::State& s, std::vector<Subscription> subscriptions, TimePoint deadline) {
  const std::size_t n = subscriptions.size();
  std::vector<std::unique_ptr<kube::WatchStream>> streams(n);
  std::vector<TimePoint> reopen_at(n, TimePoint::min());
  std::vector<bool> dropped(n, false);
  // Short slices, so a cancellation is seen within a fraction of a second, whatever the number of watches.
  const Duration slice = std::chrono::milliseconds(250) / static_cast<int>(std::max<std::size_t>(n, 1));
  while (true) {
    if (s.cancel.requested()) {
      return WaitEnd::cancelled;
    }
    if (s.clock.now() >= deadline) {
      return WaitEnd::deadline;
    }
    bool polled = false;
    TimePoint next_reopen = deadline;
    for (std::size_t i = 0; i < n; ++i) {
      Subscription& sub = subscriptions[i];
      if (dropped[i]) {
        continue;
      }
      if (!streams[i]) {
        if (s.clock.now() < reopen_at[i]) {
          next_reopen = std::min(next_reopen, reopen_at[i]);
          continue;
        }
        sub.options.resource_version.clear();
        sub.on_open();
        streams[i] = kube::WatchStream::open(*s.transport, s.clock, sub.resource, s.ns, sub.options);
      }
      polled = true;
      kube::ApiResult<kube::WatchStream::Next> next =
          streams[i]->next(std::min(deadline, s.clock.now() + slice));
      if (!next) {
        streams[i].reset();
        if (lasting(next.error())) {
          if (sub.optional) {
            dropped[i] = true;
            continue;
          }
          return std::unexpected(
              api_error(next.error(), fmt::format("watch {} in {}", sub.resource.name, s.ns)));
        }
        // A broken stream: back off a little (bounded by the deadline) and watch again.
        reopen_at[i] = s.clock.now() + std::chrono::milliseconds(500);
        continue;
      }
      if (next->status == kube::WatchStream::Status::closed) {
        streams[i].reset();
        continue;
      }
      if (next->status == kube::WatchStream::Status::event &&
          next->event.type != kube::WatchEvent::Type::bookmark && sub.handle(next->event)) {
        return WaitEnd::decided;
      }
    }
    if (!polled) {
      if (std::all_of(dropped.begin(), dropped.end(), [](bool d) { return d; })) {
        // Nothing left to follow (only optional watches, all refused): wait out the deadline.
        s.cancel.wait_until(s.clock, deadline);
        continue;
      }
      s.cancel.wait_until(s.clock, next_reopen);
    }
  }
}

Result<WaitEnd> watch_events(PodRunner::State& s, const kube::Resource& resource, kube::WatchOptions options,
                             TimePoint deadline, const std::function<void()>& on_open,
                             const std::function<bool(const kube::WatchEvent&)>& handle) {
  std::vector<Subscription> subscriptions;
  subscriptions.push_back(Subscription{resource, std::move(options), on_open, handle, false});
  return watch_all(s, std::move(subscriptions), deadline);
}

}  // namespace

Result<WaitEnd> watch_object(PodRunner::State& state, const kube::Resource& resource, const std::string& name,
                             TimePoint deadline, const std::function<bool(const json&)>& decide) {
  kube::WatchOptions options;
  options.field_selector = fmt::format("metadata.name={}", name);
  return watch_events(
      state, resource, options, deadline, [] {},
      [&](const kube::WatchEvent& event) {
        return decide(event.type == kube::WatchEvent::Type::deleted ? json() : event.object);
      });
}

Result<WaitEnd> watch_object_and_events(PodRunner::State& state, const kube::Resource& resource,
                                        std::string_view kind, const std::string& name, TimePoint deadline,
                                        const std::function<bool(const json&)>& decide,
                                        const std::function<bool(const json&)>& on_event) {
  kube::WatchOptions object_options;
  object_options.field_selector = fmt::format("metadata.name={}", name);
  kube::WatchOptions event_options;
  event_options.field_selector = fmt::format("involvedObject.kind={},involvedObject.name={}", kind, name);
  std::vector<Subscription> subscriptions;
  subscriptions.push_back(
      Subscription{resource, object_options, [] {},
                   [&](const kube::WatchEvent& event) {
                     return decide(event.type == kube::WatchEvent::Type::deleted ? json() : event.object);
                   },
                   false});
  subscriptions.push_back(Subscription{events_resource(), event_options, [] {},
                                       [&](const kube::WatchEvent& event) {
                                         return event.type != kube::WatchEvent::Type::deleted &&
                                                on_event(event.object);
                                       },
                                       true});
  return watch_all(state, std::move(subscriptions), deadline);
}

}  // namespace detail

Result<ServiceInfo> PodRunner::create_service(const std::string& name, const std::string& agent,
                                              const std::vector<std::pair<std::string, int>>& ports) {
  State& s = *state_;
  kube::ApiResult<json> created = s.api->create(detail::services_resource(), s.ns,
                                                agent_service_manifest(name, agent, ports, s.options.run_id));
  if (!created) {
    return std::unexpected(
        detail::api_error(created.error(), fmt::format("create service {}/{}", s.ns, name)));
  }
  ServiceInfo info{name, created->value("spec", json::object()).value("clusterIP", "")};
  // Ready when one of its EndpointSlices lists a ready endpoint: the data plane (kube-proxy, a CNI's
  // replacement) programs itself from the slices, so the first packets no longer vanish.
  std::map<std::string, bool> slices;  // name -> has a ready endpoint
  kube::WatchOptions options;
  options.label_selector = fmt::format("kubernetes.io/service-name={}", name);
  const Duration timeout = s.options.pods.start_timeout;
  Result<detail::WaitEnd> end = detail::watch_events(
      s, detail::endpoint_slices_resource(), options, s.clock.now() + timeout, [&] { slices.clear(); },
      [&](const kube::WatchEvent& event) {
        const std::string slice = event.object.value("metadata", json::object()).value("name", "");
        if (event.type == kube::WatchEvent::Type::deleted) {
          slices.erase(slice);
        } else {
          slices[slice] = has_ready_endpoint(event.object);
        }
        return std::any_of(slices.begin(), slices.end(), [](const auto& entry) { return entry.second; });
      });
  if (!end) {
    return std::unexpected(end.error());
  }
  if (*end == detail::WaitEnd::cancelled) {
    return fail(ErrorKind::cancelled,
                fmt::format("cancelled while service {}/{} was getting ready", s.ns, name));
  }
  if (*end == detail::WaitEnd::deadline) {
    return fail(ErrorKind::timeout,
                fmt::format("service {}/{} has no ready endpoint within {} ({} EndpointSlices labelled "
                            "kubernetes.io/service-name={}; is agent pod {} running and ready?)",
                            s.ns, name, format_duration(timeout), slices.size(), name, agent));
  }
  return info;
}

Result<std::string> PodRunner::resolve_storage_class(const std::string& storage_class) {
  State& s = *state_;
  kube::ApiResult<kube::ListResult> listed = s.api->list(detail::storage_classes_resource(), "");
  if (!listed) {
    return std::unexpected(detail::api_error(listed.error(), "list storage classes"));
  }
  std::vector<std::string> names;
  std::string default_class;
  std::string default_created;
  for (const json& item : listed->items) {
    const json& metadata = item.value("metadata", json::object());
    const std::string name = metadata.value("name", "");
    const json& annotations = metadata.value("annotations", json::object());
    const bool is_default =
        annotations.value("storageclass.kubernetes.io/is-default-class", "") == "true" ||
        annotations.value("storageclass.beta.kubernetes.io/is-default-class", "") == "true";
    names.push_back(is_default ? name + " (default)" : name);
    if (name == storage_class && !storage_class.empty()) {
      return name;
    }
    // With several defaults, the DefaultStorageClass admission plugin takes the newest.
    const std::string created = metadata.value("creationTimestamp", "");
    if (is_default && (default_class.empty() || created >= default_created)) {
      default_class = name;
      default_created = created;
    }
  }
  std::sort(names.begin(), names.end());
  const std::string known = names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", "));
  if (!storage_class.empty()) {
    return fail(ErrorKind::input,
                fmt::format("storage class \"{}\" does not exist on {} (storage classes: {})", storage_class,
                            s.who, known));
  }
  if (default_class.empty()) {
    return fail(ErrorKind::input,
                fmt::format("no storage class given and {} has no default storage class (annotation "
                            "storageclass.kubernetes.io/is-default-class=true); storage classes: {}",
                            s.who, known));
  }
  return default_class;
}

Result<void> PodRunner::create_volume_claim(const std::string& name, const std::string& storage_class,
                                            std::uint64_t size) {
  State& s = *state_;
  if (Result<std::string> resolved = resolve_storage_class(storage_class); !resolved) {
    return std::unexpected(resolved.error());
  }
  kube::ApiResult<json> created = s.api->create(
      detail::claims_resource(), s.ns, volume_claim_manifest(name, storage_class, size, s.options.run_id));
  if (!created) {
    return std::unexpected(
        detail::api_error(created.error(), fmt::format("create persistentvolumeclaim {}/{}", s.ns, name)));
  }
  return {};
}

Result<void> PodRunner::wait_bound(const std::string& claim, TimePoint deadline) {
  State& s = *state_;
  std::string phase = "Pending";
  bool gone = false;
  // A claim whose class is gone, or that nothing can ever bind, stays Pending: only its Event says so, and
  // that ends the wait at once.
  std::optional<std::pair<std::string, std::string>> lasting_event;  // reason, message
  Result<detail::WaitEnd> end = detail::watch_object_and_events(
      s, detail::claims_resource(), "PersistentVolumeClaim", claim, deadline,
      [&](const json& object) {
        if (object.is_null()) {
          gone = true;
          return true;
        }
        phase = claim_phase(object);
        return phase == "Bound" || phase == "Lost";
      },
      [&](const json& event) {
        const json reason = event.value("reason", json());
        const json message = event.value("message", json());
        if (phase == "Pending" && reason.is_string() && message.is_string() &&
            lasting_volume_failure(reason.get<std::string>(), message.get<std::string>())) {
          lasting_event = std::pair{reason.get<std::string>(), message.get<std::string>()};
          return true;
        }
        return false;
      });
  if (!end) {
    return std::unexpected(end.error());
  }
  if (*end == detail::WaitEnd::cancelled) {
    return fail(ErrorKind::cancelled, fmt::format("cancelled while claim {}/{} was binding", s.ns, claim));
  }
  if (phase == "Bound") {
    return {};
  }
  if (gone) {
    return fail(ErrorKind::network, fmt::format("persistentvolumeclaim {}/{} was deleted", s.ns, claim));
  }
  if (lasting_event) {
    const auto& [reason, message] = *lasting_event;
    const std::string why = *lasting_volume_failure(reason, message);
    // A missing StorageClass is the plan's to fix (as resolve_storage_class says up front); the rest is the
    // cluster's.
    return fail(why.starts_with("StorageClass") ? ErrorKind::input : ErrorKind::timeout,
                fmt::format("persistentvolumeclaim {}/{} cannot bind: {}: {} ({})", s.ns, claim, reason,
                            message, why));
  }
  std::string reason;
  const std::string event = detail::last_event(s, "PersistentVolumeClaim", claim, &reason);
  const std::string cause = event.empty() ? std::string("no event explains it")
                                          : (reason.empty() ? event : fmt::format("{}: {}", reason, event));
  if (phase == "Lost") {
    return fail(ErrorKind::timeout,
                fmt::format("persistentvolumeclaim {}/{} lost its volume: {}", s.ns, claim, cause));
  }
  return fail(ErrorKind::timeout, fmt::format("persistentvolumeclaim {}/{} still {} at its deadline: {}",
                                              s.ns, claim, phase, cause));
}

}  // namespace kp::cluster
