#pragma once

// The API phase's work, independent of the engine's Driver plumbing (driver.hpp): connect, run the jobs
// (built-in workload or the plan's kube-burner-like jobs), measure client- and server-side SLIs and pod
// startup, and delete everything the run created (namespaces labelled kubeproof.io/run=<run id>).
//
// Measurements: api.mutating.p99, api.readonly.p99, api.list.p99 (the server-side SLI from
// apiserver_request_duration_seconds when /metrics is readable, else the client-side one; `source` says
// which and `note` gives the other), api.qps (requests answered per second of job time), api.error_rate
// (requests that failed after retries / all), api.pod_startup.p99 (created -> Ready, watch-observed).

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/clock.hpp"
#include "core/live.hpp"
#include "drivers/api/load_runner.hpp"
#include "drivers/api/settings.hpp"
#include "engine/driver.hpp"
#include "kube/api.hpp"

namespace kp::drivers::api {

inline constexpr std::string_view kRunLabel = "kubeproof.io/run";
// The API request rate assumed when the plan states no capacity.api_qps.
inline constexpr double kAssumedCapacity = 100;

struct Shape {
  double qps = 0;
  int burst = 1;
  int iterations = 1;
  std::vector<std::string> notes;
};

// The rate and size of the built-in workload: qps = settings.qps, else capacity.api_qps x load, else
// kAssumedCapacity x load (noted); iterations so the create job takes about a third of the phase.
Shape shape_run(const Settings& settings, const config::Capacity& capacity, double load, Duration duration);

// The built-in workload's object templates for one iteration (kube-burner placeholders, one YAML document
// each) with their replica counts.
std::vector<ObjectSpec> builtin_objects(const Settings& settings);

// A new run id: "kp-" + 8 hex digits; namespaces are "<run id>-<iteration>".
std::string new_run_id();

class ApiPhase {
 public:
  using Progress = std::function<void(std::string_view)>;
  ApiPhase(Settings settings, Shape shape, Duration duration, Clock& clock, Progress progress,
           std::string run_id = new_run_id());
  ~ApiPhase();

  // Connects (unreachable or unauthenticated -> ErrorKind::unavailable / input with the server named).
  Result<void> prepare(const kube::RestConfig& config);
  Result<engine::PhaseRun> run(engine::CancellationToken& cancel);
  // Deletes the run's namespaces and waits (bounded by cleanup_timeout) until they are gone.
  void teardown() noexcept;

  // What a run will do, for the confirmation prompt and --dry-run.
  std::vector<std::string> describe(const kube::RestConfig& config) const;
  const std::string& run_id() const { return run_id_; }
  // Where requests' completions are counted live (core/live.hpp); null: off.
  void set_live_sink(LiveSink* live) { live_ = live; }
  kube::Transport* transport() { return transport_.get(); }

 private:
  struct Created;
  Settings settings_;
  Shape shape_;
  Duration duration_;
  Clock& clock_;
  Progress progress_;
  LiveSink* live_ = nullptr;
  std::string run_id_;
  std::unique_ptr<kube::Transport> transport_;
  std::string server_;
};

// Deletes namespaces labelled kubeproof.io/run=<run_id> (every run's when run_id is empty) and waits until
// they are gone or `timeout` passed. Returns the names deleted; an error when some remain.
Result<std::vector<std::string>> cleanup(kube::Transport& transport, const std::string& run_id,
                                         Duration timeout, Clock& clock);

}  // namespace kp::drivers::api
