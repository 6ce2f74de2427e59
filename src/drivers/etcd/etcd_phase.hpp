#pragma once

// The etcd phase itself, independent of where its settings come from (a plan through engine::Driver, or the
// `kubeproof agent etcd` flags): connect and check the member, scrape /metrics, run the stages, scrape again,
// turn it all into measurements, and delete the keys it wrote.
//
// Measurements (metric ids of config/metric_catalog; ids not in the catalog are reported only when it has
// them, otherwise their values go into notes):
//   etcd.write.p99 / etcd.read.p99             client latency from the intended send time (open loop),
//   histogram
//                                              attached; the uncorrected service-time P99 is in the note
//   etcd.write.throughput / etcd.read.throughput  successful requests per second of the write / read stages
//   etcd.fsync.p99, etcd.leader_changes        server, from /metrics (server_metrics.hpp)
//   etcd.error_rate, etcd.backend_commit.p99, etcd.has_leader, etcd.write.breaking_rate (stress)
//   informational

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "drivers/etcd/client.hpp"
#include "drivers/etcd/server_metrics.hpp"
#include "drivers/etcd/settings.hpp"
#include "drivers/etcd/workload.hpp"
#include "engine/cancellation.hpp"
#include "engine/driver.hpp"

namespace kp::drivers::etcd {

using ProgressFn = std::function<void(std::string_view)>;

// Where the etcd under test is.
struct Endpoint {
  std::vector<std::string> endpoints;
  std::string metrics_url;  // "" : no server metrics
  TlsFiles tls;
};

// The /metrics URL when none is given: the first endpoint's client port serves /metrics too.
std::string default_metrics_url(const std::vector<std::string>& endpoints, const TlsFiles& tls);

class EtcdPhase {
 public:
  EtcdPhase(Settings settings, RunShape shape, Clock& clock, ProgressFn progress);
  ~EtcdPhase();
  EtcdPhase(const EtcdPhase&) = delete;
  EtcdPhase& operator=(const EtcdPhase&) = delete;

  // Opens the connections, checks the member answers Status and has a leader, scrapes /metrics.
  // Connection failures are ErrorKind::network with one line naming the endpoint.
  Result<void> prepare(const Endpoint& endpoint);
  // Runs every stage (stress: stops stepping at the breaking point) and returns the measurements. On
  // cancellation returns what was measured so far.
  engine::PhaseRun run(engine::CancellationToken& cancel);
  // Deletes every key under the key prefix. Never throws.
  void teardown() noexcept;

  const std::vector<StageResult>& stages() const { return stages_; }
  // Where the workers hand over live counts during measured stages (core/live.hpp); null: off.
  void set_live_sink(LiveSink* live) { live_ = live; }
  const std::optional<ServerDelta>& server() const { return server_; }

 private:
  Settings settings_;
  RunShape shape_;
  Clock& clock_;
  ProgressFn progress_;
  LiveSink* live_ = nullptr;
  Endpoint endpoint_;
  std::optional<Connections> connections_;
  std::optional<prom::Exposition> before_;
  std::string scrape_problem_;
  std::vector<StageResult> stages_;
  std::optional<ServerDelta> server_;
};

// Turns stage results and the server's delta into the phase's measurements and invalid reasons (pure; tested
// without etcd).
engine::PhaseRun build_run(const std::vector<StageResult>& stages, const std::optional<ServerDelta>& server,
                           const Settings& settings, const RunShape& shape,
                           const std::string& scrape_problem);

// One line per stage for progress and the agent: "write: 1500 ok, 0 errors, 150/s, P99 2.1ms".
std::string describe_stage(const StageResult& stage);

}  // namespace kp::drivers::etcd
