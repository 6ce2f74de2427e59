#pragma once

// The API phase's work, independent of the engine's Driver plumbing (driver.hpp): connect, check with
// SelfSubjectAccessReview that the user may do everything the run needs (before anything is created), run
// the jobs (workload.hpp) at the schedule's pace — one steady pass for smoke and load, one pass per step of
// the QPS ramp for stress, bisected to the breaking point (load/breaking_point.hpp) — measure client- and
// server-side SLIs and pod startup, and delete everything the run created (namespaces labelled
// kubeproof.io/run=<run id>).
//
// Measurements (measurements.hpp): api.mutating.p99, api.readonly.p99, api.list.p99 (the server-side SLI
// from apiserver_request_duration_seconds when /metrics is readable, else the client-side one; `source` says
// which and `note` gives both), api.qps, api.error_rate, api.pod_startup.p99; in stress, api.breaking_qps
// and one load::StressResult with every step.

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cluster/run.hpp"
#include "config/criteria.hpp"
#include "config/plan.hpp"
#include "core/clock.hpp"
#include "core/live.hpp"
#include "drivers/api/load_runner.hpp"
#include "drivers/api/settings.hpp"
#include "drivers/api/shape.hpp"
#include "engine/driver.hpp"
#include "kube/api.hpp"

namespace kp::drivers::api {

// The run id and cleanup live below the phases (cluster/run.hpp): the pod runner's namespaces share them.
using cluster::cleanup;
using cluster::new_run_id;

class ApiPhase {
 public:
  using Progress = std::function<void(std::string_view)>;
  ApiPhase(Settings settings, Shape shape, Duration duration, Clock& clock, Progress progress,
           std::string run_id = new_run_id());
  ~ApiPhase();

  // Connects (unreachable or unauthenticated -> ErrorKind::unavailable / input with the server named), then
  // the permission preflight: every permission the run needs that the user lacks, in one ErrorKind::input
  // message, before anything is created.
  Result<void> prepare(const kube::RestConfig& config);
  Result<engine::PhaseRun> run(engine::CancellationToken& cancel);
  // Deletes the run's namespaces and waits (bounded by cleanup_timeout) until they are gone.
  void teardown() noexcept;

  // What a run will do, for the confirmation prompt and --dry-run.
  std::vector<std::string> describe(const kube::RestConfig& config) const;
  const std::string& run_id() const { return run_id_; }
  // Where requests' completions are counted live (core/live.hpp); null: off.
  void set_live_sink(LiveSink* live) { live_ = live; }
  // The run's active criteria rows (stress break levels, the validity rule); empty: the shipped criteria.
  // The rows must outlive run().
  void set_criteria(std::span<const config::CriteriaRow> rows) { criteria_ = rows; }
  kube::Transport* transport() { return transport_.get(); }

 private:
  Settings settings_;
  Shape shape_;
  Duration duration_;
  Clock& clock_;
  Progress progress_;
  LiveSink* live_ = nullptr;
  std::span<const config::CriteriaRow> criteria_;
  std::string run_id_;
  std::unique_ptr<kube::Transport> transport_;
  std::string server_;
};

}  // namespace kp::drivers::api
