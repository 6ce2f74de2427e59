#pragma once

// The etcd phase itself, independent of where its settings come from (a plan through engine::Driver, or the
// `kubeproof agent etcd` flags): connect and check every member, scrape /metrics, run the plan's stages (and,
// for stress, one breaking-point search per series: stress.hpp) while a thread watches the leader
// (leader_watch.hpp), scrape again, turn it all into measurements (results.hpp), and delete the keys it
// wrote. The load goes through every endpoint: at least one connection per endpoint, whatever `connections`
// says.

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "drivers/etcd/client.hpp"
#include "drivers/etcd/leader_watch.hpp"
#include "drivers/etcd/results.hpp"
#include "drivers/etcd/run_plan.hpp"
#include "drivers/etcd/server_metrics.hpp"
#include "drivers/etcd/settings.hpp"
#include "drivers/etcd/stress.hpp"
#include "drivers/etcd/workload.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::etcd {

// Where the etcd under test is.
struct Endpoint {
  std::vector<std::string> endpoints;
  std::string metrics_url;  // "" : no server metrics
  TlsFiles tls;
  // Every member's /metrics page, for the leader changes each member counts; empty: metrics_url alone. The
  // server figures (fsync, commit) come from metrics_url, or from the first member whose page was read both
  // before and after the run when it was not (a member stopped during the run).
  std::vector<std::string> member_metrics_urls;
};

// The /metrics URL of each endpoint (its client port serves /metrics too).
std::vector<std::string> default_member_metrics_urls(const std::vector<std::string>& endpoints,
                                                     const TlsFiles& tls);

// The /metrics URL when none is given: the first endpoint's client port serves /metrics too.
std::string default_metrics_url(const std::vector<std::string>& endpoints, const TlsFiles& tls);

class EtcdPhase {
 public:
  // `criteria`: the run's active rows (Critical levels for stress, latency targets for validity); empty: the
  // shipped criteria. The rows must outlive the phase.
  EtcdPhase(Settings settings, RunPlan plan, Clock& clock, ProgressFn progress,
            std::span<const config::CriteriaRow> criteria = {});
  ~EtcdPhase();
  EtcdPhase(const EtcdPhase&) = delete;
  EtcdPhase& operator=(const EtcdPhase&) = delete;

  // Opens the connections, checks the member answers Status and has a leader, scrapes /metrics.
  // Connection failures are ErrorKind::network with one line naming the endpoint.
  Result<void> prepare(const Endpoint& endpoint);
  // Runs every stage and search and returns the measurements. On cancellation returns what was measured so
  // far. An error only when a worker failed (ErrorKind::internal), after every worker was joined.
  Result<engine::PhaseRun> run(engine::CancellationToken& cancel);
  // Deletes every key under the key prefix. Never throws.
  void teardown() noexcept;

  const std::vector<StageResult>& stages() const { return record_.stages; }
  const std::vector<load::StressResult>& stress() const { return record_.stress; }
  // Where the workers hand over live counts during measured stages (core/live.hpp); null: off.
  void set_live_sink(LiveSink* live) { live_ = live; }
  const std::optional<ServerDelta>& server() const { return record_.server; }

 private:
  Result<StageResult> run_one(const Stage& stage, const EngineOptions& options,
                              engine::CancellationToken& cancel);

  Settings settings_;
  RunPlan plan_;
  Clock& clock_;
  ProgressFn progress_;
  load::CriteriaView criteria_;
  LiveSink* live_ = nullptr;
  // One member's /metrics page before the run.
  struct MemberPage {
    std::string url;
    std::optional<prom::Exposition> before;
    WallTime before_at;
    std::string problem;
  };
  std::vector<MemberPoll> poll_members();

  Endpoint endpoint_;
  std::optional<Connections> connections_;
  std::vector<MemberPage> pages_;  // the primary page (metrics_url) first
  LeaderWatch watch_;
  RunRecord record_;
};

}  // namespace kp::drivers::etcd
