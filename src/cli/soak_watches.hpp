#pragma once

// The soak's watches (docs/soak.md, "Watches"), on one thread of their own for the whole soak session, not
// only while a phase runs: etcd's leader (Maintenance.Status of every member, every second: the checklist's
// "No etcd leader election during 24h test" needs the whole soak watched), and on --target cluster the
// nodes (NotReady), the CoreDNS pods (restarts) and the API servers' identity Leases (restarts), listed
// every watch interval. What a resumed soak's record held carries on.
//
// Ownership and threads: start() starts the thread, stop() (or the destructor) stops and joins it after a
// last poll. view() may be called from any thread (the checkpoint ticker's, the soak's) at any time.

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/run_session.hpp"
#include "cluster/cluster_watch.hpp"
#include "core/clock.hpp"
#include "drivers/etcd/leader_watch.hpp"
#include "drivers/etcd/member_poller.hpp"
#include "engine/cancellation.hpp"
#include "kube/transport.hpp"
#include "report/soak_record.hpp"

namespace kp::cli {

struct SoakWatchSettings {
  Duration etcd_interval = drivers::etcd::kLeaderPollInterval;
  // Listing every node of a large cluster is not free: every 10 s by default (--watch-interval).
  Duration cluster_interval = std::chrono::seconds(10);
};

// What a checkpoint or the final report takes of the watches.
struct SoakWatchView {
  std::vector<report::SoakWatchState> watches;  // etcd, nodes, coredns, apiserver
  std::vector<WatchEvent> events;               // by time, at most report::kMaxSoakEvents
  std::uint64_t events_dropped = 0;
  // The etcd watch: whether it ran, how long it covered (with the resumed sessions'), its elections (with
  // the resumed ones) and a note for each ("election at ... : leader a -> b, term N, seen by ...").
  bool etcd_watched = false;
  Duration etcd_covered{0};
  std::size_t elections = 0;
  std::vector<std::string> election_notes;
};

class SoakWatches {
 public:
  // A null `etcd` or `cluster` does not watch that source, for the reason given beside it.
  SoakWatches(Clock& clock, SoakWatchSettings settings, std::unique_ptr<drivers::etcd::MemberPoller> etcd,
              std::string etcd_unwatched, std::unique_ptr<kube::Transport> cluster,
              std::string cluster_unwatched, const report::SoakRecord* resumed);
  ~SoakWatches();
  SoakWatches(const SoakWatches&) = delete;
  SoakWatches& operator=(const SoakWatches&) = delete;

  void start();
  void stop();
  SoakWatchView view() const;
  // "soak watches: etcd (every 1.00s); nodes not watched: --target local: no cluster to watch; ...": the
  // soak's first progress line says what it watches, and what not and why.
  std::string describe() const;

 private:
  void loop();
  void poll_cluster();

  Clock& clock_;
  SoakWatchSettings settings_;
  std::unique_ptr<drivers::etcd::MemberPoller> etcd_;
  std::string etcd_unwatched_;
  std::unique_ptr<kube::Transport> cluster_;
  std::string cluster_unwatched_;
  report::SoakRecord resumed_;  // only its watches and events

  engine::CancellationToken stop_;
  std::thread thread_;

  mutable std::mutex mutex_;  // guards what follows: the thread writes, view() reads
  drivers::etcd::LeaderWatch leader_;
  cluster::ClusterWatch cluster_watch_;
  std::vector<WatchEvent> cluster_events_;
  std::uint64_t cluster_dropped_ = 0;
};

// The watches of `setup`'s soak: etcd's leader when the etcd phase is selected and reached directly, the
// cluster's on --target cluster (its kubeconfig); what cannot be watched says why in the report. Not started.
std::unique_ptr<SoakWatches> open_soak_watches(Clock& clock, const RunSetup& setup, Duration cluster_interval,
                                               const report::SoakRecord* resumed);

}  // namespace kp::cli
