// The pod runner: the namespace and its ServiceAccount, nodes, pods, their start-up and their logs.
// Services, claims and the watch helper are in runner_objects.cpp.

#include "cluster/pod_runner.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <regex>
#include <tuple>

#include <fmt/format.h>

#include "cluster/pod_status.hpp"
#include "cluster/run.hpp"
#include "cluster/runner_state.hpp"
#include "cluster/service_accounts.hpp"
#include "core/json_read.hpp"
#include "kube/encoding.hpp"

namespace kp::cluster {
namespace {

// The pod as the API gave it; a garbled object (a field of another type) is one line naming the field.
Result<PodInfo> to_info(const json& pod, std::string_view ns, std::string_view name) {
  PodInfo info;
  const std::string where = fmt::format("the API's pod {}/{}", ns, name);
  Result<json> metadata = json_object(pod, "metadata", where);
  Result<json> status = json_object(pod, "status", where);
  Result<json> spec = json_object(pod, "spec", where);
  for (const Result<json>* part : {&metadata, &status, &spec}) {
    if (!*part) {
      return std::unexpected(part->error());
    }
  }
  for (auto [parent, key, field] :
       {std::tuple{&*metadata, "metadata.name", &info.name},
        std::tuple{&*status, "status.phase", &info.phase}, std::tuple{&*status, "status.podIP", &info.ip},
        std::tuple{&*status, "status.hostIP", &info.host_ip},
        std::tuple{&*spec, "spec.nodeName", &info.node}}) {
    Result<std::string> value = json_string(*parent, key, where);
    if (!value) {
      return std::unexpected(value.error());
    }
    *field = std::move(*value);
  }
  if (std::optional<ContainerEnd> end = container_end(pod)) {
    info.exit_code = end->exit_code;
    info.reason = end->reason;
  }
  const ContainerTimes times = container_times(pod);
  if (times.started_at) {
    info.started_at = kube::parse_rfc3339(*times.started_at);
  }
  if (times.finished_at) {
    info.finished_at = kube::parse_rfc3339(*times.finished_at);
  }
  return info;
}

// Does `toleration` (as the Pod API takes it) tolerate `taint` (as a Node carries it)? The scheduler's rule:
// the effect matches (or the toleration names none); an empty key with Exists matches every key; Exists
// matches any value, Equal (the default) the same value.
bool tolerates(const json& toleration, const json& taint) {
  const std::string effect = toleration.value("effect", "");
  if (!effect.empty() && effect != taint.value("effect", "")) {
    return false;
  }
  const std::string key = toleration.value("key", "");
  const std::string op = toleration.value("operator", "Equal");
  if (key.empty()) {
    return op == "Exists";
  }
  if (key != taint.value("key", "")) {
    return false;
  }
  return op == "Exists" || toleration.value("value", "") == taint.value("value", "");
}

// What an agent printed as its result, or one line saying what its log ends with instead.
Result<json> line_in_log(std::string_view ns, std::string_view pod, std::string_view log,
                         std::string_view kind) {
  if (std::optional<json> line = find_result_line(log, kind)) {
    return std::move(*line);
  }
  const std::string last = last_log_line(log);
  return fail(ErrorKind::network, fmt::format("pod {}/{} printed no {} result line ({})", ns, pod, kind,
                                              last.empty() ? std::string("its log is empty")
                                                           : fmt::format("log ends \"{}\"", last)));
}

std::string joined_reason(const StartState& state, const std::string& event) {
  const std::string& detail = event.empty() ? state.message : event;
  return detail.empty() ? state.reason : fmt::format("{}: {}", state.reason, detail);
}

}  // namespace

std::vector<kube::Permission> runner_permissions(std::string_view why_text) {
  const std::string why(why_text);
  std::vector<kube::Permission> needed;
  auto add = [&](std::initializer_list<std::string_view> verbs, std::string group, std::string resource) {
    for (std::string_view verb : verbs) {
      needed.push_back({std::string(verb), group, resource, "", why});
    }
  };
  add({"create", "get", "delete"}, "", "namespaces");
  add({"create", "get", "list", "watch"}, "", "serviceaccounts");
  add({"create", "get", "list", "watch", "delete"}, "", "pods");
  add({"get"}, "", "pods/log");
  add({"create", "get"}, "", "services");
  add({"list", "watch"}, "discovery.k8s.io", "endpointslices");
  add({"create", "get", "list", "watch", "delete"}, "", "persistentvolumeclaims");
  add({"list", "watch"}, "", "events");
  add({"list"}, "", "nodes");
  add({"get", "list"}, "storage.k8s.io", "storageclasses");
  return needed;
}

std::vector<kube::Permission> ingress_read_permissions(std::string_view why) {
  return {kube::Permission{"get", "networking.k8s.io", "ingresses", "", std::string(why)}};
}

PodRunner::PodRunner(std::unique_ptr<State> state) : state_(std::move(state)) {}

PodRunner::~PodRunner() {
  close();
}

const std::string& PodRunner::ns() const {
  return state_->ns;
}

std::map<std::string, std::string> privileged_pod_security_labels() {
  // warn and audit too: left out, a cluster default of baseline would still warn on every pod create and
  // annotate the audit log as if the pods broke a policy.
  return {{"pod-security.kubernetes.io/enforce", "privileged"},
          {"pod-security.kubernetes.io/warn", "privileged"},
          {"pod-security.kubernetes.io/audit", "privileged"}};
}

kube::Api& PodRunner::api() {
  return *state_->api;
}

const RunnerOptions& PodRunner::options() const {
  return state_->options;
}

Result<std::unique_ptr<PodRunner>> PodRunner::open(const kube::RestConfig& config, RunnerOptions options,
                                                   Clock& clock, engine::CancellationToken& cancel) {
  const std::string ns = fmt::format("{}-{}", options.run_id, options.phase);
  static const std::regex label(R"(^[a-z0-9]([-a-z0-9]*[a-z0-9])?$)");
  if (options.run_id.empty() || options.phase.empty() || ns.size() > 63 || !std::regex_match(ns, label)) {
    return fail(ErrorKind::internal, fmt::format("pod runner: \"{}\" is not a namespace name (run id \"{}\", "
                                                 "phase \"{}\")",
                                                 ns, options.run_id, options.phase));
  }
  auto state = std::make_unique<State>(std::move(options), clock, cancel);
  state->ns = ns;
  state->who = fmt::format("context \"{}\" ({})", config.context, config.server);
  kube::ClientOptions client;
  client.request_timeout = std::chrono::seconds(30);
  client.connect_timeout = std::chrono::seconds(10);
  Result<std::unique_ptr<kube::Transport>> transport = kube::Transport::create(config, client, clock);
  if (!transport) {
    return std::unexpected(transport.error());
  }
  state->transport = std::move(*transport);
  state->api = std::make_unique<kube::Api>(*state->transport);
  std::unique_ptr<PodRunner> runner(new PodRunner(std::move(state)));
  State& s = *runner->state_;

  // Reachable, and allowed everything the runner will do, before anything is created.
  if (s.options.preflight) {
    const std::string why = fmt::format("the {} phase's agent pods", s.options.phase);
    kube::ApiResult<std::vector<kube::AccessAnswer>> answers =
        kube::review_access(*s.transport, runner_permissions(why));
    if (!answers) {
      Error error = answers.error().error;
      if (answers.error().code == 0) {
        error.kind = ErrorKind::unavailable;
      } else if (answers.error().code == 401 || answers.error().code == 403) {
        error.kind = ErrorKind::input;
      }
      return std::unexpected(with_context(error, fmt::format("{}: ", s.who)));
    }
    if (Result<void> judged = kube::judge_access(*answers, s.who); !judged) {
      return std::unexpected(judged.error());
    }
  } else if (kube::ApiResult<std::string> version = s.api->get_text("/version"); !version) {
    Error error = version.error().error;
    error.kind = version.error().code == 0 ? ErrorKind::unavailable : error.kind;
    return std::unexpected(with_context(error, fmt::format("{}: ", s.who)));
  }

  const json run_labels = {{std::string(kRunLabel), s.options.run_id},
                           {std::string(kPhaseLabel), s.options.phase}};
  json namespace_labels = run_labels;
  for (const auto& [key, value] : s.options.namespace_labels) {
    namespace_labels[key] = value;
  }
  json namespace_object = {{"apiVersion", "v1"},
                           {"kind", "Namespace"},
                           {"metadata", {{"name", s.ns}, {"labels", namespace_labels}}}};
  s.namespace_guard.emplace();
  if (kube::ApiResult<json> created = s.api->create(kube::namespaces_resource(), "", namespace_object);
      !created) {
    s.namespace_guard.reset();
    if (created.error().code == 409) {
      return fail(ErrorKind::input,
                  fmt::format("namespace {} already exists on {}: run id {} was used before "
                              "(`kubeproof cleanup --run {}` removes it)",
                              s.ns, s.who, s.options.run_id, s.options.run_id));
    }
    return std::unexpected(detail::api_error(created.error(), fmt::format("create namespace {}", s.ns)));
  }
  s.created = true;
  // From here on, a failure deletes the namespace (the runner's destructor closes it).
  json account = {{"apiVersion", "v1"},
                  {"kind", "ServiceAccount"},
                  {"metadata", {{"name", std::string(kAgentServiceAccount)}, {"labels", run_labels}}},
                  {"automountServiceAccountToken", false}};
  if (kube::ApiResult<json> created =
          s.api->create(*kube::builtin_resource("v1", "ServiceAccount"), s.ns, account);
      !created) {
    return std::unexpected(detail::api_error(
        created.error(), fmt::format("create serviceaccount {}/{}", s.ns, kAgentServiceAccount)));
  }
  ServiceAccountWaiter waiter(*s.transport, clock, s.ns, std::string(kAgentServiceAccount), s.ns);
  waiter.start();
  std::vector<std::string> missing =
      waiter.wait({s.ns}, clock.now() + s.options.serviceaccount_timeout, cancel);
  waiter.stop();
  if (cancel.requested()) {
    return fail(ErrorKind::cancelled,
                fmt::format("cancelled while waiting for serviceaccount {}/{}", s.ns, kAgentServiceAccount));
  }
  if (!missing.empty()) {
    return fail(ErrorKind::timeout,
                fmt::format("serviceaccount {}/{} not visible within {} on {}", s.ns, kAgentServiceAccount,
                            format_duration(s.options.serviceaccount_timeout), s.who));
  }
  return runner;
}

Result<std::vector<Node>> PodRunner::schedulable_nodes() {
  State& s = *state_;
  kube::ApiResult<kube::ListResult> listed = s.api->list(*kube::builtin_resource("v1", "Node"), "");
  if (!listed) {
    return std::unexpected(detail::api_error(listed.error(), "list nodes"));
  }
  const std::map<std::string, std::string> selector = agent_node_selector(s.options.pods);
  std::vector<Node> nodes;
  for (const json& item : listed->items) {
    const json& spec = item.value("spec", json::object());
    if (spec.value("unschedulable", false)) {
      continue;  // cordoned
    }
    const json& labels = item.value("metadata", json::object()).value("labels", json::object());
    bool selected = true;
    for (const auto& [key, value] : selector) {
      selected = selected && labels.contains(key) && labels[key].is_string() && labels[key] == value;
    }
    const std::vector<std::string>& keys = s.options.pods.node_label_keys;
    selected = selected &&
               (keys.empty() || std::any_of(keys.begin(), keys.end(),
                                            [&](const std::string& key) { return labels.contains(key); }));
    bool tolerated = true;
    for (const json& taint : spec.value("taints", json::array())) {
      const std::string effect = taint.value("effect", "");
      if (effect != "NoSchedule" && effect != "NoExecute") {
        continue;  // PreferNoSchedule only steers
      }
      const json& tolerations = s.options.pods.tolerations;
      tolerated =
          tolerated && std::any_of(tolerations.begin(), tolerations.end(),
                                   [&](const json& toleration) { return tolerates(toleration, taint); });
    }
    if (!selected || !tolerated) {
      continue;
    }
    Node node;
    node.name = item["metadata"].value("name", "");
    for (const auto& [key, value] : labels.items()) {
      if (value.is_string()) {
        node.labels[key] = value.get<std::string>();
      }
    }
    node.zone =
        node.labels.contains("topology.kubernetes.io/zone") ? node.labels["topology.kubernetes.io/zone"] : "";
    for (const json& address : item.value("status", json::object()).value("addresses", json::array())) {
      if (address.value("type", "") == "InternalIP" && node.internal_ip.empty()) {
        node.internal_ip = address.value("address", "");
      }
    }
    nodes.push_back(std::move(node));
  }
  std::sort(nodes.begin(), nodes.end(), [](const Node& a, const Node& b) { return a.name < b.name; });
  return nodes;
}

Result<void> PodRunner::create_pod(const AgentPodSpec& spec) {
  State& s = *state_;
  const json manifest = agent_pod_manifest(spec, s.options.image, s.options.pods, s.ns, s.options.run_id);
  if (kube::ApiResult<json> created = s.api->create(kube::pods_resource(), s.ns, manifest); !created) {
    Error error = detail::api_error(created.error(), fmt::format("create pod {}/{}", s.ns, spec.name));
    if (created.error().code == 409) {
      error.kind = ErrorKind::input;
    }
    return std::unexpected(error);
  }
  s.created_at[spec.name] = s.clock.now();
  return {};
}

Duration PodRunner::start_lead() const {
  const State& s = *state_;
  if (s.options.pods.start_lead) {
    return *s.options.pods.start_lead;
  }
  if (!s.slowest_start) {
    return kDefaultStartLead;
  }
  // Twice the slowest start seen, and a second: pods of one test are created one after another.
  return std::clamp<Duration>(*s.slowest_start * 2 + std::chrono::seconds(1), std::chrono::seconds(2),
                              std::max<Duration>(s.options.pods.start_timeout, std::chrono::seconds(2)));
}

Result<PodInfo> PodRunner::wait_running(const std::string& pod) {
  State& s = *state_;
  const Duration timeout = s.options.pods.start_timeout;
  StartState last{StartState::Stage::starting, "Pending", ""};
  json last_pod;
  bool deleted = false;
  // A volume that will never mount (a hostPath the node lacks) leaves the pod ContainerCreating with nothing
  // in its status to say so: only the kubelet's FailedMount Event does. That one ends the wait at once.
  std::optional<std::pair<std::string, std::string>> lasting_event;  // reason, message
  Result<detail::WaitEnd> end = detail::watch_object_and_events(
      s, kube::pods_resource(), "Pod", pod, s.clock.now() + timeout,
      [&](const json& object) {
        if (object.is_null()) {
          deleted = true;
          return true;
        }
        last_pod = object;
        last = start_state(object);
        return last.stage == StartState::Stage::running || last.stage == StartState::Stage::ended ||
               last.stage == StartState::Stage::failed;
      },
      [&](const json& event) {
        const json reason = event.value("reason", json());
        const json message = event.value("message", json());
        // Only while it has not started: an old event of a pod that runs by now decides nothing.
        if (last.stage == StartState::Stage::starting && reason.is_string() && message.is_string() &&
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
    return fail(ErrorKind::cancelled, fmt::format("cancelled while pod {}/{} was starting", s.ns, pod));
  }
  if (deleted) {
    return fail(ErrorKind::network, fmt::format("pod {}/{} was deleted before it started", s.ns, pod));
  }
  if (lasting_event) {
    const auto& [reason, message] = *lasting_event;
    return fail(ErrorKind::timeout, fmt::format("pod {}/{} cannot start: {}: {} ({})", s.ns, pod, reason,
                                                message, *lasting_volume_failure(reason, message)));
  }
  if (*end == detail::WaitEnd::decided &&
      (last.stage == StartState::Stage::running || last.stage == StartState::Stage::ended)) {
    if (auto created = s.created_at.find(pod); created != s.created_at.end()) {
      const Duration took = s.clock.now() - created->second;
      s.slowest_start = s.slowest_start ? std::max(*s.slowest_start, took) : took;
    }
    return to_info(last_pod, s.ns, pod);
  }
  const std::string event = detail::last_event(s, "Pod", pod);
  if (*end == detail::WaitEnd::decided) {
    return fail(ErrorKind::timeout,
                fmt::format("pod {}/{} cannot start: {}", s.ns, pod, joined_reason(last, event)));
  }
  return fail(ErrorKind::timeout, fmt::format("pod {}/{} did not start within {}: {}", s.ns, pod,
                                              format_duration(timeout), joined_reason(last, event)));
}

Result<PodInfo> PodRunner::wait_finished(const std::string& pod, TimePoint deadline) {
  State& s = *state_;
  json last_pod;
  Result<detail::WaitEnd> end =
      detail::watch_object(s, kube::pods_resource(), pod, deadline, [&](const json& object) {
        if (object.is_null()) {
          return true;
        }
        last_pod = object;
        // A garbled pod ends the wait: to_info() below says which field.
        return !to_info(object, s.ns, pod) || agent_finished(object);
      });
  if (!end) {
    return std::unexpected(end.error());
  }
  if (*end == detail::WaitEnd::cancelled) {
    return this->pod(pod);
  }
  if (last_pod.is_null()) {
    return fail(ErrorKind::network, fmt::format("pod {}/{} is gone", s.ns, pod));
  }
  if (*end == detail::WaitEnd::deadline) {
    Result<PodInfo> info = to_info(last_pod, s.ns, pod);
    return fail(ErrorKind::timeout, fmt::format("pod {}/{} still {} at its deadline", s.ns, pod,
                                                info && !info->phase.empty() ? info->phase : "Pending"));
  }
  return to_info(last_pod, s.ns, pod);
}

Result<PodInfo> PodRunner::pod(const std::string& pod) {
  State& s = *state_;
  kube::ApiResult<json> got = s.api->get(kube::pods_resource(), s.ns, pod);
  if (!got) {
    return std::unexpected(detail::api_error(got.error(), fmt::format("get pod {}/{}", s.ns, pod)));
  }
  return to_info(*got, s.ns, pod);
}

PodRunner::PodEvent PodRunner::last_event(const std::string& pod) {
  PodEvent event;
  event.message = detail::last_event(*state_, "Pod", pod, &event.reason);
  return event;
}

Result<std::string> PodRunner::logs(const std::string& pod) {
  State& s = *state_;
  const std::string path = fmt::format(
      "{}/log?container={}", kube::resource_path(kube::pods_resource(), s.ns, pod), kAgentContainer);
  kube::ApiResult<std::string> log = s.api->get_text(path, std::chrono::seconds(60));
  if (!log) {
    return std::unexpected(detail::api_error(log.error(), fmt::format("log of pod {}/{}", s.ns, pod)));
  }
  return std::move(*log);
}

Result<json> PodRunner::result_line(const std::string& pod, std::string_view kind) {
  Result<std::string> log = logs(pod);
  if (!log) {
    return std::unexpected(log.error());
  }
  return line_in_log(state_->ns, pod, *log, kind);
}

Result<json> PodRunner::stop_for_result(const std::string& pod, std::string_view kind) {
  State& s = *state_;
  struct Followed {
    std::mutex mutex;
    std::condition_variable ended;
    std::string log;
    std::optional<Result<kube::Response>> end;
  };
  auto followed = std::make_shared<Followed>();
  kube::Request request;
  request.path = fmt::format("{}/log?container={}&follow=true",
                             kube::resource_path(kube::pods_resource(), s.ns, pod), kAgentContainer);
  request.timeout = kAgentGracePeriod + kStopSlack;
  request.rate_limited = false;
  request.on_data = [followed](std::string_view chunk) {
    std::lock_guard lock(followed->mutex);
    followed->log.append(chunk);
    return true;
  };
  // Submitted before the DELETE on the same transport: the stream is asked for while the pod still exists.
  const std::uint64_t id = s.transport->submit(request, [followed](Result<kube::Response> response) {
    std::lock_guard lock(followed->mutex);
    followed->end = std::move(response);
    followed->ended.notify_all();
  });
  if (Result<void> deleted = delete_pod(pod); !deleted) {
    s.transport->cancel(id);
    std::unique_lock lock(followed->mutex);
    followed->ended.wait(lock, [&] { return followed->end.has_value(); });
    return std::unexpected(deleted.error());
  }
  // The request's own timeout bounds this wait: the transport calls back exactly once.
  std::unique_lock lock(followed->mutex);
  followed->ended.wait(lock, [&] { return followed->end.has_value(); });
  const Result<kube::Response>& end = *followed->end;
  if (end && (end->status < 200 || end->status >= 300)) {
    return std::unexpected(detail::api_error(kube::status_error("GET", request.path, *end),
                                             fmt::format("log of pod {}/{}", s.ns, pod)));
  }
  if (std::optional<json> line = find_result_line(followed->log, kind)) {
    return std::move(*line);  // a stream cut at its bound still holds what the agent printed
  }
  if (!end) {
    return fail(end.error().kind == ErrorKind::timeout ? ErrorKind::timeout : ErrorKind::network,
                fmt::format("log of pod {}/{} while it stopped: {}", s.ns, pod, end.error().message));
  }
  return line_in_log(s.ns, pod, followed->log, kind);
}

namespace {

class FollowedLog final : public PodRunner::LogFollow {
 public:
  struct Shared {
    std::mutex mutex;
    std::condition_variable ended;
    bool done = false;
    std::string partial;  // a line not ended yet
    std::function<void(std::string_view)> on_line;
  };
  FollowedLog(kube::Transport& transport, std::shared_ptr<Shared> shared, std::uint64_t id)
      : transport_(transport), shared_(std::move(shared)), id_(id) {}
  ~FollowedLog() override {
    transport_.cancel(id_);
    std::unique_lock lock(shared_->mutex);
    shared_->ended.wait(lock, [&] { return shared_->done; });
  }

 private:
  kube::Transport& transport_;
  std::shared_ptr<Shared> shared_;
  std::uint64_t id_;
};

}  // namespace

std::unique_ptr<PodRunner::LogFollow> PodRunner::follow_lines(const std::string& pod, Duration bound,
                                                              std::function<void(std::string_view)> on_line) {
  State& s = *state_;
  auto shared = std::make_shared<FollowedLog::Shared>();
  shared->on_line = std::move(on_line);
  kube::Request request;
  request.path = fmt::format("{}/log?container={}&follow=true",
                             kube::resource_path(kube::pods_resource(), s.ns, pod), kAgentContainer);
  request.timeout = bound;
  request.retry = false;  // a second stream from the start would hand every line over twice
  request.rate_limited = false;
  request.on_data = [shared](std::string_view chunk) {
    std::lock_guard lock(shared->mutex);
    shared->partial.append(chunk);
    std::size_t begin = 0;
    for (std::size_t end = shared->partial.find('\n'); end != std::string::npos;
         end = shared->partial.find('\n', begin)) {
      shared->on_line(std::string_view(shared->partial).substr(begin, end - begin));
      begin = end + 1;
    }
    shared->partial.erase(0, begin);
    return true;
  };
  const std::uint64_t id = s.transport->submit(request, [shared](Result<kube::Response>) {
    std::lock_guard lock(shared->mutex);
    shared->done = true;
    shared->ended.notify_all();
  });
  return std::make_unique<FollowedLog>(*s.transport, std::move(shared), id);
}

Result<void> PodRunner::delete_pod(const std::string& pod) {
  State& s = *state_;
  kube::ApiResult<json> removed = s.api->remove(kube::pods_resource(), s.ns, pod);
  if (!removed && removed.error().code != 404) {
    return std::unexpected(detail::api_error(removed.error(), fmt::format("delete pod {}/{}", s.ns, pod)));
  }
  return {};
}

void PodRunner::close() noexcept {
  if (!state_ || state_->closed || !state_->created) {
    return;
  }
  State& s = *state_;
  s.closed = true;
  try {
    kube::ApiResult<json> removed = s.api->remove(kube::namespaces_resource(), "", s.ns);
    // Sent: Kubernetes finishes the deletion without us, so a second Ctrl-C may end the process now.
    s.namespace_guard.reset();
    std::string problem;
    // 409: the namespace is already Terminating (a retried DELETE whose first attempt went through): as good
    // as accepted, so the wait for it to be gone follows.
    if (!removed && removed.error().code != 404 && removed.error().code != 409) {
      problem = removed.error().error.message;
    } else {
      // Polling the namespace until it is gone (its finalizers delete every object in it first).
      const TimePoint deadline = s.clock.now() + s.options.cleanup_timeout;
      while (true) {
        kube::ApiResult<json> left = s.api->get(kube::namespaces_resource(), "", s.ns);
        if (!left && left.error().code == 404) {
          break;
        }
        if (s.clock.now() >= deadline) {
          problem = fmt::format("still terminating after {}", format_duration(s.options.cleanup_timeout));
          break;
        }
        s.clock.sleep_until(std::min(deadline, s.clock.now() + std::chrono::milliseconds(200)));
      }
    }
    if (!problem.empty()) {
      std::string line =
          fmt::format("kubeproof: namespace {}: {}; `kubeproof cleanup --run {}` removes what is left\n",
                      s.ns, problem, s.options.run_id);
      std::fputs(line.c_str(), stderr);
    }
  } catch (...) {
    std::string line = fmt::format(
        "kubeproof: deleting namespace {} failed; `kubeproof cleanup --run {}` removes what is left\n", s.ns,
        s.options.run_id);
    std::fputs(line.c_str(), stderr);
  }
}

}  // namespace kp::cluster
