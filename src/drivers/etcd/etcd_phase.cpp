#include "drivers/etcd/etcd_phase.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "drivers/etcd/grpc_transport.hpp"

namespace kp::drivers::etcd {
namespace {

// Filling the key space before a read-only run is bounded in time like every other loop.
constexpr Duration kFillLimit = std::chrono::seconds(60);

std::string per_second(double rate) {
  return fmt::format("{:.0f}/s", rate);
}

}  // namespace

std::string default_metrics_url(const std::vector<std::string>& endpoints, const TlsFiles& tls) {
  if (endpoints.empty()) {
    return {};
  }
  std::string endpoint = endpoints.front();
  if (endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
    return endpoint + "/metrics";
  }
  return fmt::format("{}://{}/metrics", tls.enabled() ? "https" : "http", endpoint);
}

std::vector<std::string> default_member_metrics_urls(const std::vector<std::string>& endpoints,
                                                     const TlsFiles& tls) {
  std::vector<std::string> urls;
  for (const std::string& endpoint : endpoints) {
    urls.push_back(default_metrics_url({endpoint}, tls));
  }
  return urls;
}

EtcdPhase::EtcdPhase(Settings settings, RunPlan plan, Clock& clock, ProgressFn progress,
                     std::span<const config::CriteriaRow> criteria)
    : settings_(std::move(settings)),
      plan_(std::move(plan)),
      clock_(clock),
      progress_(std::move(progress)),
      criteria_(criteria) {}

EtcdPhase::~EtcdPhase() = default;

Result<void> EtcdPhase::prepare(const Endpoint& endpoint) {
  endpoint_ = endpoint;
  // Every endpoint gets a connection: a member no load goes through is a member not measured.
  const int count = std::max(settings_.connections, static_cast<int>(endpoint.endpoints.size()));
  Result<Connections> connections = open_connections(endpoint.endpoints, endpoint.tls, count);
  if (!connections) {
    return std::unexpected(connections.error());
  }
  connections_ = std::move(*connections);
  // Every connection must come up: a bad endpoint in the list should fail here, not as errors under load.
  std::vector<MemberPoll> first_poll;
  for (std::size_t i = 0; i < connections_->channels.size() && i < endpoint.endpoints.size(); ++i) {
    Result<MemberStatus> status =
        member_status(connections_->channels[i], connections_->targets[i], settings_.request_timeout);
    if (!status) {
      return std::unexpected(status.error());
    }
    if (status->leader == 0) {
      return fail(ErrorKind::network, fmt::format("etcd {}: the member knows no leader (raft term {})",
                                                  connections_->targets[i], status->raft_term));
    }
    if (progress_) {
      progress_(fmt::format(
          "etcd {} version {}, member {:x}{}, leader {:x}, db {} bytes{}", connections_->targets[i],
          status->version, status->member_id, status->member_id == status->leader ? " (the leader)" : "",
          status->leader, status->db_size,
          status->errors.empty() ? "" : ", alarms: " + fmt::format("{}", fmt::join(status->errors, ", "))));
    }
    first_poll.push_back(MemberPoll{connections_->targets[i], std::move(status)});
  }
  watch_.observe(clock_.wall_now(), first_poll);
  if (Result<std::vector<ClusterMember>> members = member_list(
          connections_->channels.front(), connections_->targets.front(), settings_.request_timeout);
      members) {
    record_.members = members->size();
    if (progress_ && members->size() != endpoint.endpoints.size()) {
      progress_(
          fmt::format("etcd: the cluster has {} members and {} endpoint(s) were given; leader changes "
                      "are counted on the given ones",
                      members->size(), endpoint.endpoints.size()));
    }
  } else if (progress_) {
    progress_(fmt::format("etcd: the member list is unknown: {}", members.error().message));
  }
  for (std::size_t i = 0; i < connections_->channels.size(); ++i) {
    if (Result<void> connected =
            wait_connected(connections_->channels[i], connections_->targets[i], settings_.request_timeout);
        !connected) {
      return connected;
    }
  }
  std::vector<std::string> urls = endpoint.member_metrics_urls;
  if (!endpoint.metrics_url.empty()) {
    std::erase(urls, endpoint.metrics_url);
    urls.insert(urls.begin(), endpoint.metrics_url);
  }
  for (const std::string& url : urls) {
    MemberPage page{.url = url, .before = std::nullopt, .before_at = clock_.wall_now(), .problem = {}};
    if (Result<prom::Exposition> scraped = scrape(url, settings_.metrics_timeout, endpoint.tls); scraped) {
      page.before = std::move(*scraped);
    } else {
      page.problem = scraped.error().message;
    }
    pages_.push_back(std::move(page));
  }
  if (pages_.empty()) {
    record_.scrape_problem = "no metrics URL";
  } else if (!pages_.front().before) {
    record_.scrape_problem = pages_.front().problem;
  }
  return {};
}

std::vector<MemberPoll> EtcdPhase::poll_members() {
  std::vector<MemberPoll> polls;
  // A poll must not outlast its interval, or a dead member would stretch the gaps between polls.
  const Duration timeout = std::min(settings_.request_timeout, kLeaderPollInterval);
  for (std::size_t i = 0; i < connections_->channels.size() && i < endpoint_.endpoints.size(); ++i) {
    polls.push_back(MemberPoll{connections_->targets[i],
                               member_status(connections_->channels[i], connections_->targets[i], timeout)});
  }
  return polls;
}

Result<StageResult> EtcdPhase::run_one(const Stage& stage, const EngineOptions& options,
                                       engine::CancellationToken& cancel) {
  const int workers =
      std::clamp(options.threads, 1, std::max(1, static_cast<int>(connections_->channels.size())));
  return run_stage(grpc_transport_factory(*connections_, make_value(options.value_size, options.seed),
                                          options.serializable),
                   workers, stage, options, clock_, cancel);
}

Result<engine::PhaseRun> EtcdPhase::run(engine::CancellationToken& cancel) {
  if (!connections_) {
    return fail(ErrorKind::internal, "etcd phase: run() before a successful prepare()");
  }
  std::random_device seeds;
  EngineOptions options = engine_options(settings_, (std::uint64_t(seeds()) << 32) | seeds());
  options.live = live_;
  if (settings_.workload == Workload::read && !cancel.requested()) {
    // A read-only run reads keys that must exist: write each key of the key space once, unmeasured.
    Stage fill{.name = "fill",
               .read_fraction = 0,
               .rate = std::nullopt,
               .duration = kFillLimit,
               .total = settings_.key_space,
               .factor = 1.0,
               .stress_step = false,
               .bisection = false};
    EngineOptions fill_options = options;
    fill_options.live = nullptr;  // the fill is not measured
    fill_options.sequential_keys = true;
    Result<StageResult> filled = run_one(fill, fill_options, cancel);
    if (!filled) {
      return std::unexpected(filled.error());
    }
    if (progress_) {
      progress_(describe_stage(*filled));
    }
  }
  // The leader watch runs beside the stages; the guard stops and joins it on every way out of run().
  engine::CancellationToken watch_stop;
  std::thread watcher([this, &watch_stop] {
    run_leader_watch(
        clock_, watch_stop, kLeaderPollInterval, [this] { return poll_members(); }, watch_);
  });
  struct JoinWatch {
    engine::CancellationToken& stop;
    std::thread& thread;
    ~JoinWatch() {
      stop.request();
      if (thread.joinable()) {
        thread.join();
      }
    }
  } join_watch{watch_stop, watcher};
  bool stop = false;
  for (const Stage& stage : plan_.stages) {
    if (cancel.requested()) {
      break;
    }
    if (progress_) {
      progress_(fmt::format("{}: {} for {}", stage.name,
                            stage.rate ? per_second(stage.rate->per_second) : std::string("max"),
                            format_duration(stage.duration)));
    }
    Result<StageResult> result = run_one(stage, options, cancel);
    if (!result) {
      return std::unexpected(result.error());
    }
    if (progress_) {
      progress_(describe_stage(*result));
    }
    stop = !result->stopped_early.empty() || result->cancelled;
    record_.stages.push_back(std::move(*result));
    if (stop) {
      break;  // the server is gone or the user interrupted: later stages would only count errors
    }
  }
  const SearchLimits limits = search_limits(criteria_);
  for (const StressSeries& series : plan_.stress) {
    if (stop || cancel.requested()) {
      break;
    }
    auto run_step = [&](const Stage& step) -> Result<StageResult> {
      Result<StageResult> result = run_one(step, options, cancel);
      if (result && progress_) {
        progress_(describe_stage(*result));
      }
      return result;
    };
    Result<load::StressResult> searched =
        search_breaking_point(series, limits, run_step, record_.stages, cancel, progress_);
    if (!searched) {
      return std::unexpected(searched.error());
    }
    if (progress_) {
      progress_(fmt::format("{}: {}", series.metric, searched->note));
    }
    record_.stress.push_back(std::move(*searched));
    stop = !record_.stages.empty() && !record_.stages.back().stopped_early.empty();
  }
  watch_stop.request();
  watcher.join();
  std::vector<MemberCounter> counters;
  for (MemberPage& page : pages_) {
    MemberCounter counter{.url = page.url,
                          .before = std::nullopt,
                          .after = std::nullopt,
                          .before_at = page.before_at,
                          .after_at = clock_.wall_now(),
                          .problem = page.problem};
    if (!page.before) {
      counters.push_back(std::move(counter));
      continue;
    }
    Result<prom::Exposition> after = scrape(page.url, settings_.metrics_timeout, endpoint_.tls);
    counter.after_at = clock_.wall_now();
    if (!after) {
      counter.problem = "after the run: " + after.error().message;
      if (&page == &pages_.front()) {
        record_.scrape_problem = after.error().message;
      }
      counters.push_back(std::move(counter));
      continue;
    }
    const char* family = "etcd_server_leader_changes_seen_total";
    Result<double> first = prom::scalar(*page.before, family);
    Result<double> last = prom::scalar(*after, family);
    if (first && last) {
      counter.before = *first;
      counter.after = *last;
    } else {
      counter.problem = (!first ? first.error() : last.error()).message;
    }
    counters.push_back(std::move(counter));
    if (!record_.server) {
      // The first member read both times gives the server figures; the primary unless it was lost.
      record_.server = compare(*page.before, *after);
      if (&page != &pages_.front()) {
        record_.server->problems.push_back(
            fmt::format("figures from {}, the first member read both before and after the run ({}: {})",
                        page.url, pages_.front().url, record_.scrape_problem));
      }
    }
  }
  record_.leader = judge_leader(watch_, counters, record_.members, kLeaderPollInterval);
  return build_run(record_, settings_, plan_, criteria_);
}

void EtcdPhase::teardown() noexcept {
  try {
    if (connections_ && !connections_->channels.empty()) {
      // Through the first member that answers: the first may be the one a test stopped.
      Result<std::int64_t> deleted = fail(ErrorKind::internal, "no connection");
      for (const auto& channel : connections_->channels) {
        deleted = delete_prefix(channel, settings_.key_prefix, settings_.request_timeout);
        if (deleted) {
          break;
        }
      }
      if (progress_) {
        progress_(deleted ? fmt::format("deleted {} keys under \"{}\"", *deleted, settings_.key_prefix)
                          : fmt::format("could not delete the keys under \"{}\": {}", settings_.key_prefix,
                                        deleted.error().message));
      }
    }
  } catch (...) {
    // Teardown must not throw; a failed cleanup was reported above when it could be.
  }
  connections_.reset();
}

}  // namespace kp::drivers::etcd
