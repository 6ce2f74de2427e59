#include "cli/soak_watches.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/units.hpp"
#include "kube/api.hpp"
#include "kube/kubeconfig.hpp"

namespace kp::cli {
namespace {

using drivers::etcd::member_text;
using drivers::etcd::utc_text;

constexpr cluster::ClusterSource kClusterSources[] = {
    cluster::ClusterSource::nodes, cluster::ClusterSource::coredns, cluster::ClusterSource::apiserver};

std::string election_note(const drivers::etcd::LeaderChange& change) {
  return fmt::format(
      "election at {} (the poll before was at {}): leader {} -> {}, term {}, seen by {}", utc_text(change.at),
      utc_text(change.previous_poll), change.from == 0 ? std::string("none") : member_text(change.from),
      change.to == 0 ? std::string("none yet") : member_text(change.to), change.term, change.seen_by);
}

const report::SoakWatchState* resumed_state(const report::SoakRecord& record, std::string_view source) {
  auto found = std::ranges::find_if(record.watches,
                                    [&](const report::SoakWatchState& one) { return one.source == source; });
  return found == record.watches.end() ? nullptr : &*found;
}

Duration between(std::optional<WallTime> first, std::optional<WallTime> last) {
  return first && last ? std::chrono::duration_cast<Duration>(*last - *first) : Duration{0};
}

}  // namespace

SoakWatches::SoakWatches(Clock& clock, SoakWatchSettings settings,
                         std::unique_ptr<drivers::etcd::MemberPoller> etcd, std::string etcd_unwatched,
                         std::unique_ptr<kube::Transport> cluster, std::string cluster_unwatched,
                         const report::SoakRecord* resumed)
    : clock_(clock),
      settings_(settings),
      etcd_(std::move(etcd)),
      etcd_unwatched_(std::move(etcd_unwatched)),
      cluster_(std::move(cluster)),
      cluster_unwatched_(std::move(cluster_unwatched)) {
  if (resumed != nullptr) {
    resumed_.watches = resumed->watches;
    resumed_.events = resumed->events;
    resumed_.events_dropped = resumed->events_dropped;
  }
}

SoakWatches::~SoakWatches() {
  stop();
}

void SoakWatches::start() {
  if (!thread_.joinable() && (etcd_ || cluster_)) {
    thread_ = std::thread([this] { loop(); });
  }
}

void SoakWatches::stop() {
  stop_.request();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void SoakWatches::loop() {
  // A poll of a member that does not answer must not outlast the interval, or the gaps would stretch.
  const Duration etcd_timeout = std::min<Duration>(std::chrono::seconds(1), settings_.etcd_interval);
  TimePoint next_etcd = clock_.now();
  TimePoint next_cluster = clock_.now();
  while (true) {
    if (etcd_ && clock_.now() >= next_etcd) {
      std::vector<drivers::etcd::MemberPoll> polls = etcd_->poll(etcd_timeout);
      {
        const std::lock_guard lock(mutex_);
        leader_.observe(clock_.wall_now(), polls);
      }
      // Behind (members slow to answer): the next poll is due now, not a burst of the missed ones.
      next_etcd = std::max(next_etcd + settings_.etcd_interval, clock_.now());
    }
    if (cluster_ && clock_.now() >= next_cluster) {
      poll_cluster();
      next_cluster = std::max(next_cluster + settings_.cluster_interval, clock_.now());
    }
    const TimePoint next = etcd_ && cluster_ ? std::min(next_etcd, next_cluster)
                           : etcd_           ? next_etcd
                                             : next_cluster;
    if (stop_.requested() || stop_.wait_until(clock_, next)) {
      break;
    }
  }
  if (etcd_) {
    // The state after the soak, so an election in its last second is not lost.
    std::vector<drivers::etcd::MemberPoll> polls = etcd_->poll(etcd_timeout);
    const std::lock_guard lock(mutex_);
    leader_.observe(clock_.wall_now(), polls);
  }
}

void SoakWatches::poll_cluster() {
  kube::Api api(*cluster_);
  for (cluster::ClusterSource source : kClusterSources) {
    {
      const std::lock_guard lock(mutex_);
      if (!cluster_watch_.unwatched(source).empty() && cluster_watch_.first_list(source)) {
        continue;  // forbidden, or nothing of the kind: said once
      }
    }
    kube::ListOptions options = kube::stale_ok_list_options();
    kube::ApiResult<kube::ListResult> listed;
    switch (source) {
      case cluster::ClusterSource::nodes:
        listed = api.list(*kube::builtin_resource("v1", "Node"), "", options);
        break;
      case cluster::ClusterSource::coredns:
        options.label_selector = std::string(cluster::kDnsPodSelector);
        listed = api.list(kube::pods_resource(), cluster::kDnsNamespace, options);
        break;
      case cluster::ClusterSource::apiserver:
        options.label_selector = std::string(cluster::kApiserverLeaseSelector);
        listed = api.list(*kube::builtin_resource("coordination.k8s.io/v1", "Lease"), cluster::kDnsNamespace,
                          options);
        break;
    }
    const std::lock_guard lock(mutex_);
    if (listed) {
      cluster_watch_.observe(source, clock_.wall_now(), listed->items);
    } else {
      cluster_watch_.list_failed(source, clock_.wall_now(), listed.error().error.message,
                                 listed.error().code == 403);
    }
    for (WatchEvent& event : cluster_watch_.take_events()) {
      if (cluster_events_.size() < report::kMaxSoakEvents) {
        cluster_events_.push_back(std::move(event));
      } else {
        ++cluster_dropped_;
      }
    }
  }
}

SoakWatchView SoakWatches::view() const {
  SoakWatchView out;
  const report::SoakWatchState* etcd_before = resumed_state(resumed_, "etcd");
  for (const WatchEvent& event : resumed_.events) {
    if (event.source == "etcd" && event.kind == "election") {
      ++out.elections;
      out.election_notes.push_back(event.text);
    }
  }
  std::vector<WatchEvent> events = resumed_.events;
  std::uint64_t dropped = resumed_.events_dropped;
  const std::lock_guard lock(mutex_);

  report::SoakWatchState etcd{
      .source = "etcd", .covered = etcd_before ? etcd_before->covered : Duration{0}, .unwatched = {}};
  if (etcd_) {
    out.etcd_watched = true;
    etcd.covered += between(leader_.first_poll(), leader_.last_poll());
    for (const drivers::etcd::LeaderChange& change : leader_.changes()) {
      std::string note = election_note(change);
      events.push_back(WatchEvent{change.at, "etcd", "election", note});
      out.election_notes.push_back(std::move(note));
      ++out.elections;
    }
    for (const drivers::etcd::ReachabilityChange& change : leader_.reachability()) {
      events.push_back(
          WatchEvent{change.at, "etcd", change.reachable ? "reachable" : "unreachable",
                     change.reachable
                         ? fmt::format("etcd {} answers Status again", change.target)
                         : fmt::format("etcd {} stopped answering Status: {}", change.target, change.error)});
    }
  } else {
    out.etcd_watched = etcd_before != nullptr && etcd_before->covered > Duration{0};
    etcd.unwatched = etcd_unwatched_;
  }
  out.etcd_covered = etcd.covered;
  out.watches.push_back(std::move(etcd));

  for (cluster::ClusterSource source : kClusterSources) {
    const std::string name(cluster::to_string(source));
    const report::SoakWatchState* before = resumed_state(resumed_, name);
    report::SoakWatchState state{
        .source = name, .covered = before ? before->covered : Duration{0}, .unwatched = {}};
    if (cluster_) {
      state.covered += between(cluster_watch_.first_list(source), cluster_watch_.last_list(source));
      state.unwatched = cluster_watch_.unwatched(source);
      if (state.unwatched.empty() && !cluster_watch_.first_list(source)) {
        // Covered 0 would read as watched: say that nothing was (the events say why each list failed).
        state.unwatched = "no list has succeeded (yet)";
      }
    } else {
      state.unwatched = cluster_unwatched_;
    }
    out.watches.push_back(std::move(state));
  }
  events.insert(events.end(), cluster_events_.begin(), cluster_events_.end());
  dropped += cluster_dropped_;
  std::ranges::stable_sort(events, {}, &WatchEvent::at);
  if (events.size() > report::kMaxSoakEvents) {
    dropped += events.size() - report::kMaxSoakEvents;
    events.resize(report::kMaxSoakEvents);
  }
  out.events = std::move(events);
  out.events_dropped = dropped;
  return out;
}

std::unique_ptr<SoakWatches> open_soak_watches(Clock& clock, const RunSetup& setup, Duration cluster_interval,
                                               const report::SoakRecord* resumed) {
  std::unique_ptr<drivers::etcd::MemberPoller> etcd;
  std::string etcd_unwatched;
  if (!setup.orchestrator.only.empty() && !setup.orchestrator.only.contains(Phase::etcd)) {
    etcd_unwatched = "the etcd phase is not selected (--only)";
  } else if (Result<std::unique_ptr<drivers::etcd::MemberPoller>> opened =
                 drivers::etcd::MemberPoller::open(setup.plan, setup.registry.lab_dir);
             opened) {
    etcd = std::move(*opened);
  } else {
    etcd_unwatched = opened.error().message;
  }
  std::unique_ptr<kube::Transport> transport;
  std::string cluster_unwatched;
  if (setup.plan.target != config::Target::cluster) {
    cluster_unwatched = "--target local: no cluster to watch";
  } else {
    kube::LoadOptions load;
    load.kubeconfig = setup.registry.kubeconfig;
    load.context = setup.registry.context;
    Result<kube::RestConfig> config = kube::load_rest_config(load);
    if (!config) {
      cluster_unwatched = config.error().message;
    } else {
      kube::ClientOptions client;
      client.request_timeout = std::min<Duration>(cluster_interval, std::chrono::seconds(30));
      client.max_retries = 1;                 // the next list is the retry
      client.warn = [](std::string_view) {};  // the phases warn about an insecure kubeconfig
      Result<std::unique_ptr<kube::Transport>> created = kube::Transport::create(*config, client, clock);
      if (created) {
        transport = std::move(*created);
      } else {
        cluster_unwatched = created.error().message;
      }
    }
  }
  SoakWatchSettings settings;
  settings.cluster_interval = cluster_interval;
  return std::make_unique<SoakWatches>(clock, settings, std::move(etcd), std::move(etcd_unwatched),
                                       std::move(transport), std::move(cluster_unwatched), resumed);
}

std::string SoakWatches::describe() const {
  const SoakWatchSettings& settings = settings_;
  std::vector<std::string> parts;
  for (const report::SoakWatchState& watch : view().watches) {
    if (watch.unwatched.empty()) {
      parts.push_back(fmt::format(
          "{} (every {})", watch.source,
          format_duration(watch.source == "etcd" ? settings.etcd_interval : settings.cluster_interval)));
    } else {
      parts.push_back(fmt::format("{} not watched: {}", watch.source, watch.unwatched));
    }
  }
  return fmt::format("soak watches: {}", fmt::join(parts, "; "));
}

}  // namespace kp::cli
