#pragma once

// The pod runner: how a phase runs its agents as pods on `--target cluster`.
//
// One namespace per phase of a run, "<run id>-<phase>", labelled kubeproof.io/run=<run id> and
// kubeproof.io/phase=<phase> (so `kubeproof cleanup --run ID` finds it), with a ServiceAccount
// "kubeproof-agent" that has no API permissions and automountServiceAccountToken: false. open() first asks
// the API server (SelfSubjectAccessReview) for runner_permissions(), then creates the namespace and the
// ServiceAccount and waits (bounded) for it to be visible before any pod is created: a pod created too early
// gets 403 "serviceaccount not found" on a real cluster.
//
// Relies only on what the Kubernetes API promises: pod IPs may arrive after phase Running is first seen;
// a waiting container's reason (ErrImagePull, ImagePullBackOff, ErrImageNeverPull, CrashLoopBackOff,
// CreateContainerConfigError), a terminated one's (OOMKilled, Error) and the pod's PodScheduled=False
// (Unschedulable) condition are read from status (cluster/pod_status.hpp); the pod's last Event gives the
// message.
//
// Errors: a pod that cannot start, a claim that does not bind, a Service without a ready endpoint are
// ErrorKind::timeout (the phase fails: it is the cluster's fault, exit 4, not a SKIP); a 403 is
// ErrorKind::input naming the permission (the user's kubeconfig lacks it, exit 2); an unreachable cluster is
// ErrorKind::unavailable (open() only) or network; cancellation is ErrorKind::cancelled.
//
// Threads: one PodRunner is used from one thread (the phase's). Waits use watches with deadlines on the
// injected clock and stop early when `cancel` is requested. close() never throws and runs on every exit path
// (the driver's teardown; the destructor too).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster/agent_pod.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "engine/cancellation.hpp"
#include "kube/access_review.hpp"
#include "kube/api.hpp"
#include "kube/kubeconfig.hpp"
#include "kube/transport.hpp"

namespace kp::cluster {

struct RunnerOptions {
  std::string run_id;  // "kp-1a2b3c4d"
  std::string phase;   // "network", "storage": the namespace's suffix
  AgentImage image;
  PodSettings pods;
  Duration serviceaccount_timeout = std::chrono::seconds(60);
  Duration cleanup_timeout = std::chrono::minutes(2);  // close(): wait until the namespace is gone
  bool preflight = true;  // open() checks runner_permissions() before it creates anything
  // More labels on the namespace, e.g. pod-security.kubernetes.io/enforce: privileged for a phase whose pod
  // needs the node's network and files (Pod Security admission reads the namespace's labels).
  std::map<std::string, std::string> namespace_labels;
};

// The namespace labels that let Pod Security admission admit host-network and hostPath pods:
// pod-security.kubernetes.io/enforce, warn and audit = privileged (a cluster-wide default of baseline or
// restricted, set in the admission configuration, applies to every namespace without these labels). For
// RunnerOptions::namespace_labels of a phase that runs such pods, and only then.
std::map<std::string, std::string> privileged_pod_security_labels();

struct Node {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string zone;  // topology.kubernetes.io/zone, "" when absent
  std::string internal_ip;
};

struct PodInfo {
  std::string name;
  std::string phase;             // Pending, Running, Succeeded, Failed
  std::string ip;                // status.podIP ("" until assigned)
  std::string node;              // spec.nodeName
  std::optional<int> exit_code;  // the agent container's, once terminated
  std::string reason;            // the terminated container's reason (Completed, Error, OOMKilled), else ""
  std::string host_ip;           // status.hostIP
  // The agent container's startedAt and finishedAt (pod_status.hpp: container_times), by the node's clock,
  // whole seconds; unset until the kubelet reports them.
  std::optional<WallTime> started_at;
  std::optional<WallTime> finished_at;
};

struct ServiceInfo {
  std::string name;
  std::string cluster_ip;
};

// The permissions a runner needs (for the preflight, kube/access_review.hpp): namespaces create/get/delete,
// serviceaccounts create/get/list/watch, pods create/get/list/watch/delete, pods/log get, services
// create/get, endpointslices list/watch, persistentvolumeclaims create/get/list/watch/delete, events list,
// nodes list, storageclasses get/list. `why` goes into each ("the network phase's agent pods").
std::vector<kube::Permission> runner_permissions(std::string_view why);
// The ingress phase's `ingress:` setting: get ingresses.networking.k8s.io (its address and host).
std::vector<kube::Permission> ingress_read_permissions(std::string_view why);

class PodRunner {
 public:
  // Connects, checks permissions (RunnerOptions::preflight), creates the namespace and the ServiceAccount,
  // and waits for it. ErrorKind::unavailable when the cluster cannot be reached; ErrorKind::input for a
  // missing permission or a 403 (the message names it). Whatever open() created is deleted when it fails.
  static Result<std::unique_ptr<PodRunner>> open(const kube::RestConfig& config, RunnerOptions options,
                                                 Clock& clock, engine::CancellationToken& cancel);
  ~PodRunner();  // close()
  PodRunner(const PodRunner&) = delete;
  PodRunner& operator=(const PodRunner&) = delete;

  const std::string& ns() const;
  kube::Api& api();
  const RunnerOptions& options() const;

  // Schedulable nodes (not cordoned, matching agent_node_selector() and node_label_keys, no
  // NoSchedule/NoExecute taint the settings do not tolerate), sorted by name.
  Result<std::vector<Node>> schedulable_nodes();

  // Creates the pod; returns at once. 403 -> ErrorKind::input; 409 (the name is taken) -> ErrorKind::input.
  Result<void> create_pod(const AgentPodSpec& spec);
  // How far ahead of now to set the shared start time (--start-at) of pods about to be created: the
  // settings' start_lead when given; else twice the slowest create -> Running this runner has seen, and a
  // second (at least 2 s, at most agent_start_timeout); kDefaultStartLead before any pod ran.
  Duration start_lead() const;
  static constexpr Duration kDefaultStartLead = std::chrono::seconds(10);
  // Waits until the pod is Running with an IP, and Ready when it has a readiness probe (a server pod: see
  // agent_pod_manifest), bounded by the settings' start_timeout. A pod that cannot
  // start fails within that time with one line naming the pod, its reason and the last event's message:
  //   `pod kp-1a2b-network/net-server-0 did not start within 2m: ImagePullBackOff: Back-off pulling image
  //   "x"` (ErrorKind::timeout). Reasons that cannot clear up without a person (ErrImageNeverPull,
  //   InvalidImageName, CreateContainerConfigError, CrashLoopBackOff) fail at once: `pod ... cannot start:
  //   ...`. A pod that already ended (an agent that failed at once) is returned as is: see exit_code, reason
  //   and its result line.
  Result<PodInfo> wait_running(const std::string& pod);
  // Waits until the pod has Succeeded or Failed, or its agent container has terminated (an injected sidecar
  // keeps the pod Running), by `deadline` (ErrorKind::timeout after it). On cancel it
  // returns the pod as it is; the caller then deletes it (the agent gets SIGTERM, ends its window early and
  // prints its result) and reads the log while the pod terminates.
  Result<PodInfo> wait_finished(const std::string& pod, TimePoint deadline);
  // The pod as it is now.
  Result<PodInfo> pod(const std::string& pod);
  // The last Event about the pod: its reason ("FailedMount") and message; both "" when there is none or
  // events cannot be listed.
  struct PodEvent {
    std::string reason;
    std::string message;
  };
  PodEvent last_event(const std::string& pod);
  // The pod's log (stdout and stderr mixed, as pods/log gives them).
  Result<std::string> logs(const std::string& pod);
  // The last line of the log that is a JSON object whose "kind" is `kind` (e.g. "kubeproof.agent.storage").
  // ErrorKind::network naming the pod, with the log's last line, when there is none.
  Result<json> result_line(const std::string& pod, std::string_view kind);
  // Ends a pod whose agent is still running (a cancelled phase) and returns its result line: the agent gets
  // the deletion's SIGTERM, ends its window early and prints what it measured. The log is followed
  // (pods/log?follow=true) from before the DELETE until the container ends, because a pod may be gone (404)
  // as soon as its container ended, and reading the log right after the DELETE can also come before the agent
  // printed. Bounded by the pod's grace period (kAgentGracePeriod, which every agent pod states) plus
  // kStopSlack; a stream cut there still gives every line printed so far. The same errors as result_line.
  Result<json> stop_for_result(const std::string& pod, std::string_view kind);
  static constexpr Duration kStopSlack = std::chrono::seconds(15);
  // Follows a running pod's log (pods/log?follow=true) and hands each whole line to `on_line`, on the
  // transport's thread, as the agent prints it: live counts (an agent's `kp-live` lines) cross from a pod
  // this way. The stream ends when the container does, after `bound`, or when the returned handle is
  // destroyed (which waits until `on_line` is no longer called). Lines are for watching: a stream that
  // fails just stops. Only call it once the pod runs (the log of a container not started is a 400).
  class LogFollow {
   public:
    virtual ~LogFollow() = default;
  };
  std::unique_ptr<LogFollow> follow_lines(const std::string& pod, Duration bound,
                                          std::function<void(std::string_view)> on_line);
  Result<void> delete_pod(const std::string& pod);

  // A Service in front of one agent pod, returned once its EndpointSlice lists a ready endpoint (kube-proxy's
  // rules follow that), bounded by start_timeout.
  Result<ServiceInfo> create_service(const std::string& name, const std::string& agent,
                                     const std::vector<std::pair<std::string, int>>& ports);
  // The class a claim of `storage_class` gets: the name itself when the cluster has it, the default class
  // (annotation storageclass.kubernetes.io/is-default-class=true) for "". ErrorKind::input naming the class
  // when it does not exist (with the classes that do), or when "" and the cluster has no default class.
  Result<std::string> resolve_storage_class(const std::string& storage_class);
  // Creates a PVC (resolve_storage_class first: the same errors).
  Result<void> create_volume_claim(const std::string& name, const std::string& storage_class,
                                   std::uint64_t size);
  // Waits until the claim is Bound (call after creating its pod: a WaitForFirstConsumer class binds only
  // then). Pending past `deadline` -> ErrorKind::timeout with the claim's last event ("no persistent volumes
  // available", "waiting for first consumer").
  Result<void> wait_bound(const std::string& claim, TimePoint deadline);

  // Deletes the namespace (and with it every object) and waits for it to go, bounded by cleanup_timeout.
  // Idempotent, never throws; a failure is reported on stderr with the `kubeproof cleanup --run` command.
  void close() noexcept;

  struct State;

 private:
  explicit PodRunner(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace kp::cluster
