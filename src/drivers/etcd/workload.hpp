#pragma once

// The load engine, like etcd's `benchmark` tool: connections x clients, Put and/or Range, fixed-size keys
// over a key space, open loop at a rate (latency from each request's intended send time, the uncorrected
// service time kept beside it) or closed loop at maximum, bounded by a duration and optionally a count.
//
// The kernel's worker pool (load/worker_pool.hpp) runs the workers: each owns its transport (its calls and
// completion queue, transport.hpp), its pacer, its key generator and its histograms; nothing is shared on
// the hot path except the read-only stage description and the cancellation flag. Results are merged after
// the workers are joined; a worker that throws becomes an error of the stage, never std::terminate. A stage
// always ends: at its duration or count, on cancellation, or when no request has succeeded for
// `failure_window` (the server is gone); calls still in flight then get their own deadline, and are
// cancelled if they outlive it.

#include <array>
#include <cstdint>
#include <string>

#include "core/clock.hpp"
#include "core/live.hpp"
#include "core/pacer.hpp"
#include "drivers/etcd/run_plan.hpp"
#include "drivers/etcd/settings.hpp"
#include "drivers/etcd/transport.hpp"
#include "engine/cancellation.hpp"
#include "load/validity.hpp"

namespace kp::drivers::etcd {

struct OperationStats {
  LatencyRecorder latency;  // successful requests only, ns
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;                 // completed with a non-OK status; ok + errors = completed
  std::array<std::uint64_t, 17> by_code{};  // errors per gRPC status code

  std::uint64_t completed() const { return ok + errors; }
  void merge(const OperationStats& other);
};

// What the generator owed and did, open loop (load/validity.hpp's GeneratorAccount, per stage).
using SendAccount = load::SendAccount;

struct StageResult {
  Stage stage;
  OperationStats put;
  OperationStats range;
  PacerStats pacer;          // open loop only
  SendAccount sends;         // open loop only
  Duration elapsed{0};       // stage start to its last completion
  std::uint64_t issued = 0;  // requests sent
  bool cancelled = false;
  std::string stopped_early;  // why the stage ended before its duration/count, "" if it did not
  std::string first_error;    // the first failed request's status, for people

  double error_fraction() const;
  // Successful requests per second over `elapsed`.
  double put_rate() const;
  double range_rate() const;
  // Requests per second that the stage intended (0 for closed loop).
  double intended_rate() const { return stage.rate ? stage.rate->per_second : 0; }
  // The sending window: the stage's duration, or less when it was cut short (cancelled, stopped early).
  Duration window() const;
};

struct EngineOptions {
  int threads = 1;  // worker threads, each owning a share of the connections and clients
  int clients = 1;  // concurrent requests in flight, over all connections
  std::string key_prefix;
  std::uint64_t key_size = 0;
  std::uint64_t key_space = 1;
  bool sequential_keys = false;
  std::uint64_t value_size = 0;
  bool serializable = false;
  Arrival arrival = Arrival::constant;
  Duration request_timeout = std::chrono::seconds(5);
  Duration failure_window = std::chrono::seconds(3);
  std::uint64_t seed = 1;
  // Live counts for `run --metrics-listen` (series "put" and "range"); null: off.
  LiveSink* live = nullptr;
};

// The default number of worker threads: one per two cores (the other core is left to gRPC's own threads and,
// in the lab, to etcd), at least one, at most one per connection.
int default_threads(int connections);

EngineOptions engine_options(const Settings& settings, std::uint64_t seed);

// Every Put's value: printable random bytes of `size`.
std::string make_value(std::uint64_t size, std::uint64_t seed);

// Runs one stage over `workers` workers (each gets its transport from `transports`) and returns what it
// measured (also when cancelled or stopped early). A worker that throws is ErrorKind::internal
// ("worker 1 of 2 failed: ..."), after every worker was joined.
Result<StageResult> run_stage(const TransportFactory& transports, int workers, const Stage& stage,
                              const EngineOptions& options, Clock& clock, engine::CancellationToken& cancel);

}  // namespace kp::drivers::etcd
