#include "cluster/cluster_watch.hpp"

#include <set>

#include <fmt/format.h>

#include "core/json_read.hpp"
#include "core/units.hpp"

namespace kp::cluster {
namespace {

using nlohmann::json;

std::string name_of(const json& item) {
  return json_text_or(json_member_or_null(item, "metadata"), "name");
}

// The node's Ready condition: ready, or how it reads when not ("Ready=Unknown (NodeStatusUnknown: Kubelet
// stopped posting node status.)"; "no Ready condition").
std::pair<bool, std::string> node_readiness(const json& node) {
  const json& conditions = json_member_or_null(json_member_or_null(node, "status"), "conditions");
  if (conditions.is_array()) {
    for (const json& condition : conditions) {
      if (json_text_or(condition, "type") != "Ready") {
        continue;
      }
      const std::string status = json_text_or(condition, "status", "?");
      if (status == "True") {
        return {true, {}};
      }
      const std::string reason = json_text_or(condition, "reason");
      const std::string message = json_text_or(condition, "message");
      std::string detail = reason;
      if (!message.empty()) {
        detail += (detail.empty() ? "" : ": ") + message;
      }
      return {false, fmt::format("Ready={}{}", status, detail.empty() ? "" : " (" + detail + ")")};
    }
  }
  return {false, "no Ready condition"};
}

// The pod's restarts: every container's restartCount added up (a pod of several containers restarts when
// any of them does).
long long restarts_of(const json& pod) {
  long long total = 0;
  const json& statuses = json_member_or_null(json_member_or_null(pod, "status"), "containerStatuses");
  if (statuses.is_array()) {
    for (const json& status : statuses) {
      const json& count = json_member_or_null(status, "restartCount");
      if (count.is_number_integer()) {
        total += count.get<long long>();
      }
    }
  }
  return total;
}

// Why the last restart happened, when the pod says: "(last: terminated OOMKilled, exit code 137)".
std::string last_termination(const json& pod) {
  const json& statuses = json_member_or_null(json_member_or_null(pod, "status"), "containerStatuses");
  if (!statuses.is_array()) {
    return {};
  }
  for (const json& status : statuses) {
    const json& terminated = json_member_or_null(json_member_or_null(status, "lastState"), "terminated");
    if (terminated.is_object()) {
      const json& code = json_member_or_null(terminated, "exitCode");
      return fmt::format(
          " (last: {} terminated {}{})", json_text_or(status, "name", "a container"),
          json_text_or(terminated, "reason", "?"),
          code.is_number_integer() ? fmt::format(", exit code {}", code.get<long long>()) : "");
    }
  }
  return {};
}

}  // namespace

std::vector<kube::Permission> soak_watch_permissions() {
  const std::string why = "the soak's watches";
  return {kube::Permission{"list", "", "nodes", "", why + " (NotReady nodes)"},
          kube::Permission{"list", "", "pods", std::string(kDnsNamespace), why + " (CoreDNS restarts)"},
          kube::Permission{"list", "coordination.k8s.io", "leases", std::string(kDnsNamespace),
                           why + " (API server restarts)"}};
}

std::string_view to_string(ClusterSource source) {
  switch (source) {
    case ClusterSource::nodes:
      return "nodes";
    case ClusterSource::coredns:
      return "coredns";
    case ClusterSource::apiserver:
      return "apiserver";
  }
  return "?";
}

ClusterWatch::Track& ClusterWatch::track(ClusterSource source) {
  return tracks_[static_cast<int>(source)];
}

const ClusterWatch::Track& ClusterWatch::track(ClusterSource source) const {
  return tracks_[static_cast<int>(source)];
}

void ClusterWatch::add(WallTime at, ClusterSource source, std::string kind, std::string text) {
  events_.push_back(WatchEvent{at, std::string(to_string(source)), std::move(kind), std::move(text)});
}

void ClusterWatch::observe(ClusterSource source, WallTime at, const std::vector<json>& items) {
  Track& watched = track(source);
  if (!watched.forbidden.empty()) {
    return;
  }
  const bool baseline = !watched.listed;
  if (watched.failing) {
    watched.failing = false;
    add(at, source, "list_ok", fmt::format("{} listed again", to_string(source)));
  }
  watched.listed = true;
  if (!watched.first) {
    watched.first = at;
  }
  watched.last = at;
  switch (source) {
    case ClusterSource::nodes:
      observe_nodes(at, items, baseline);
      break;
    case ClusterSource::coredns:
      observe_pods(at, items, baseline);
      break;
    case ClusterSource::apiserver:
      observe_leases(at, items, baseline);
      break;
  }
}

void ClusterWatch::list_failed(ClusterSource source, WallTime at, std::string_view message, bool forbidden) {
  Track& watched = track(source);
  if (!watched.forbidden.empty()) {
    return;
  }
  if (forbidden) {
    watched.forbidden = fmt::format("cannot list {}: {}", to_string(source), message);
    return;
  }
  if (!watched.failing) {
    watched.failing = true;
    add(at, source, "list_failed", fmt::format("{} could not be listed: {}", to_string(source), message));
  }
}

void ClusterWatch::note_missing(ClusterSource source, bool empty, bool baseline, std::string why) {
  // Nothing to watch is said once, from the first list; a later list that finds some watches it.
  Track& watched = track(source);
  if (!empty) {
    watched.missing.clear();
  } else if (baseline) {
    watched.missing = std::move(why);
  }
}

template <typename State>
void ClusterWatch::forget_unseen(std::map<std::string, State>& known, const std::set<std::string>& seen,
                                 WallTime at, ClusterSource source, std::string_view text) {
  for (auto it = known.begin(); it != known.end();) {
    if (!seen.contains(it->first)) {
      add(at, source, "removed", fmt::format(fmt::runtime(text), it->first));
      it = known.erase(it);
    } else {
      ++it;
    }
  }
}

void ClusterWatch::observe_nodes(WallTime at, const std::vector<json>& items, bool baseline) {
  std::set<std::string> seen;
  for (const json& item : items) {
    const std::string name = name_of(item);
    if (name.empty()) {
      continue;
    }
    seen.insert(name);
    auto [ready, condition] = node_readiness(item);
    auto found = nodes_.find(name);
    if (found == nodes_.end()) {
      if (!baseline) {
        add(at, ClusterSource::nodes, "added",
            fmt::format("node {} joined{}", name, ready ? "" : ", NotReady: " + condition));
      } else if (!ready) {
        add(at, ClusterSource::nodes, "not_ready",
            fmt::format("node {} NotReady when the watch began: {}", name, condition));
      }
      nodes_[name] = NodeState{ready, condition, at};
      continue;
    }
    NodeState& state = found->second;
    if (state.ready && !ready) {
      add(at, ClusterSource::nodes, "not_ready", fmt::format("node {} NotReady: {}", name, condition));
      state = NodeState{false, condition, at};
    } else if (!state.ready && ready) {
      add(at, ClusterSource::nodes, "ready",
          fmt::format("node {} Ready again, NotReady for {} (from the list that first saw it)", name,
                      format_duration(at - state.since)));
      state = NodeState{true, {}, at};
    }
  }
  forget_unseen(nodes_, seen, at, ClusterSource::nodes, "node {} left the cluster");
}

void ClusterWatch::observe_pods(WallTime at, const std::vector<json>& items, bool baseline) {
  note_missing(
      ClusterSource::coredns, items.empty(), baseline,
      fmt::format("no pod labelled {} in {} (another cluster DNS?)", kDnsPodSelector, kDnsNamespace));
  std::set<std::string> seen;
  for (const json& item : items) {
    const std::string name = name_of(item);
    if (name.empty()) {
      continue;
    }
    seen.insert(name);
    const std::string uid = json_text_or(json_member_or_null(item, "metadata"), "uid");
    const long long restarts = restarts_of(item);
    auto found = pods_.find(name);
    if (found == pods_.end() || found->second.uid != uid) {
      if (!baseline) {
        add(at, ClusterSource::coredns, "added",
            fmt::format("CoreDNS pod {} created{}", name,
                        restarts > 0 ? fmt::format(" (restartCount {})", restarts) : ""));
      }
      pods_[name] = PodState{uid, restarts};
      continue;
    }
    if (restarts > found->second.restarts) {
      add(at, ClusterSource::coredns, "restart",
          fmt::format("CoreDNS pod {} restarted: restartCount {} -> {}{}", name, found->second.restarts,
                      restarts, last_termination(item)));
    }
    found->second.restarts = restarts;
  }
  forget_unseen(pods_, seen, at, ClusterSource::coredns, "CoreDNS pod {} deleted");
}

void ClusterWatch::observe_leases(WallTime at, const std::vector<json>& items, bool baseline) {
  note_missing(ClusterSource::apiserver, items.empty(), baseline,
               fmt::format("no Lease labelled {} in {} (APIServerIdentity needs Kubernetes 1.26+)",
                           kApiserverLeaseSelector, kDnsNamespace));
  std::set<std::string> seen;
  for (const json& item : items) {
    const std::string name = name_of(item);
    if (name.empty()) {
      continue;
    }
    seen.insert(name);
    const std::string holder = json_text_or(json_member_or_null(item, "spec"), "holderIdentity");
    const std::string host = json_text_or(
        json_member_or_null(json_member_or_null(item, "metadata"), "labels"), "kubernetes.io/hostname", name);
    auto found = leases_.find(name);
    if (found == leases_.end()) {
      if (!baseline) {
        add(at, ClusterSource::apiserver, "added",
            fmt::format("API server on {} appeared (Lease {}, identity {})", host, name, holder));
      }
      leases_[name] = holder;
      continue;
    }
    if (found->second != holder) {
      add(at, ClusterSource::apiserver, "restart",
          fmt::format("API server on {} restarted: Lease {} identity {} -> {}", host, name, found->second,
                      holder));
      found->second = holder;
    }
  }
  forget_unseen(leases_, seen, at, ClusterSource::apiserver,
                "API server Lease {} removed (its server is gone)");
}

bool ClusterWatch::watching(ClusterSource source) const {
  return unwatched(source).empty();
}

std::string ClusterWatch::unwatched(ClusterSource source) const {
  const Track& watched = track(source);
  if (!watched.forbidden.empty()) {
    return watched.forbidden;
  }
  return watched.missing;
}

std::optional<WallTime> ClusterWatch::first_list(ClusterSource source) const {
  return track(source).first;
}

std::optional<WallTime> ClusterWatch::last_list(ClusterSource source) const {
  return track(source).last;
}

std::vector<WatchEvent> ClusterWatch::take_events() {
  std::vector<WatchEvent> out = std::move(events_);
  events_.clear();
  return out;
}

}  // namespace kp::cluster
