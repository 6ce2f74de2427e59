#pragma once

// What a soak watches of a cluster beside its load (docs/soak.md, "Watches"), from lists the caller takes
// through the API every watch interval:
//   - nodes: a node whose Ready condition leaves "True" (False, Unknown, or gone) is NotReady from that list
//     on, and Ready again when it comes back; nodes that join or leave;
//   - CoreDNS: the pods labelled k8s-app=kube-dns in kube-system (CoreDNS and kube-dns both carry it): a
//     container restart raises the pod's restartCount; a pod deleted and replaced shows as a new uid;
//   - API servers: each kube-apiserver (1.26+, APIServerIdentity) holds a Lease in kube-system labelled
//     apiserver.kubernetes.io/identity=kube-apiserver, named after its host; a restarted server takes the
//     same Lease with a new holderIdentity. That is the API's own record of a restart, on managed control
//     planes too, where no kube-apiserver pod is visible.
// The first list of each kind is the baseline: what is already wrong then is said once, as at the start.
// A list that fails says so once per outage; a 403 (no permission) stops that watch with the reason.
//
// Pure logic on JSON objects as the API returns them; not thread-safe (one watch thread feeds it).

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/watch_event.hpp"
#include "kube/access_review.hpp"

namespace kp::cluster {

inline constexpr std::string_view kDnsNamespace = "kube-system";
inline constexpr std::string_view kDnsPodSelector = "k8s-app=kube-dns";
inline constexpr std::string_view kApiserverLeaseSelector = "apiserver.kubernetes.io/identity=kube-apiserver";

// What the watches list: nodes, the kube-dns pods and the API server Leases of kube-system. The preflight
// asks for them before a soak on a cluster: a soak is hours long, and finding out at its end that it could
// not watch would waste them.
std::vector<kube::Permission> soak_watch_permissions();

enum class ClusterSource { nodes, coredns, apiserver };
std::string_view to_string(ClusterSource source);  // "nodes", "coredns", "apiserver": WatchEvent::source

class ClusterWatch {
 public:
  // One successful list of `source` at `at`: its items.
  void observe(ClusterSource source, WallTime at, const std::vector<nlohmann::json>& items);
  // One failed list. `forbidden` (403): the watch stops for good, `message` is why.
  void list_failed(ClusterSource source, WallTime at, std::string_view message, bool forbidden);

  // Still watched: not forbidden, and (once listed) the cluster has what it watches (a kube-dns pod, an
  // API server Lease).
  bool watching(ClusterSource source) const;
  // Why not, when not watching; "" while watching.
  std::string unwatched(ClusterSource source) const;
  // Whether it has listed at least once, and the time from the first list to the last.
  std::optional<WallTime> first_list(ClusterSource source) const;
  std::optional<WallTime> last_list(ClusterSource source) const;

  // The events seen since the last call.
  std::vector<WatchEvent> take_events();

 private:
  struct NodeState {
    bool ready = true;
    std::string condition;  // "Ready=False (KubeletNotReady: ...)" when not ready
    WallTime since{};       // when it was first seen NotReady
  };
  struct PodState {
    std::string uid;
    long long restarts = 0;
  };
  struct Track {
    bool listed = false;
    bool failing = false;  // the last list failed (said once per outage)
    std::string forbidden;
    std::string missing;  // the cluster has nothing of the kind to watch
    std::optional<WallTime> first;
    std::optional<WallTime> last;
  };

  void observe_nodes(WallTime at, const std::vector<nlohmann::json>& items, bool baseline);
  void observe_pods(WallTime at, const std::vector<nlohmann::json>& items, bool baseline);
  void observe_leases(WallTime at, const std::vector<nlohmann::json>& items, bool baseline);
  void add(WallTime at, ClusterSource source, std::string kind, std::string text);
  void note_missing(ClusterSource source, bool empty, bool baseline, std::string why);
  // What `known` holds and this list did not: one "removed" event each (`text` names it: "node {} left").
  template <typename State>
  void forget_unseen(std::map<std::string, State>& known, const std::set<std::string>& seen, WallTime at,
                     ClusterSource source, std::string_view text);
  Track& track(ClusterSource source);
  const Track& track(ClusterSource source) const;

  Track tracks_[3];
  std::map<std::string, NodeState> nodes_;
  std::map<std::string, PodState> pods_;
  std::map<std::string, std::string> leases_;  // name -> holderIdentity
  std::vector<WatchEvent> events_;
};

}  // namespace kp::cluster
