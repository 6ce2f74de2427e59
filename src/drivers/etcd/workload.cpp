#include "drivers/etcd/workload.hpp"

#include <algorithm>
#include <limits>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/cpu_budget.hpp"
#include "core/offered_sink.hpp"
#include "drivers/etcd/worker.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::etcd {

void OperationStats::merge(const OperationStats& other) {
  latency.merge(other.latency);
  ok += other.ok;
  errors += other.errors;
  for (std::size_t i = 0; i < by_code.size(); ++i) {
    by_code[i] += other.by_code[i];
  }
}

double StageResult::error_fraction() const {
  std::uint64_t completed = put.completed() + range.completed();
  return completed == 0 ? 0.0 : double(put.errors + range.errors) / double(completed);
}

double StageResult::put_rate() const {
  double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? double(put.ok) / seconds : 0.0;
}

double StageResult::range_rate() const {
  double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? double(range.ok) / seconds : 0.0;
}

Duration StageResult::window() const {
  return cancelled || !stopped_early.empty() ? std::min(elapsed, stage.duration) : stage.duration;
}

int default_threads(int connections) {
  // The container's CPU quota, not the host's cores: a pod limited to 500m gets one thread
  // (core/cpu_budget.hpp).
  int cores = usable_cpus();
  return std::clamp(cores / 2, 1, std::max(1, connections));
}

EngineOptions engine_options(const Settings& settings, std::uint64_t seed) {
  EngineOptions options;
  options.threads = settings.threads > 0 ? std::min(settings.threads, settings.connections)
                                         : default_threads(settings.connections);
  options.clients = settings.clients;
  options.key_prefix = settings.key_prefix;
  options.key_size = settings.key_size;
  options.key_space = settings.key_space;
  options.sequential_keys = settings.sequential_keys;
  options.value_size = settings.value_size;
  options.serializable = settings.serializable;
  options.arrival = settings.arrival;
  options.request_timeout = settings.request_timeout;
  options.failure_window = settings.failure_window;
  options.seed = seed;
  return options;
}

std::string make_value(std::uint64_t size, std::uint64_t seed) {
  // Printable random bytes: incompressible enough to be honest, and readable with etcdctl.
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> letter('a', 'z');
  std::string value(size, 'a');
  for (char& c : value) {
    c = static_cast<char>(letter(random));
  }
  return value;
}

Result<StageResult> run_stage(const TransportFactory& transports, int workers, const Stage& stage,
                              const EngineOptions& options, Clock& clock, engine::CancellationToken& cancel) {
  workers = std::clamp(workers, 1, std::max(1, options.clients));
  const std::optional<std::uint64_t> total = stage.total;
  std::function<WorkerResult(load::WorkerContext&)> body = [&](load::WorkerContext& context) {
    const auto slots = static_cast<std::size_t>(context.share(options.clients));
    std::unique_ptr<KvTransport> transport = transports(context.index(), context.count(), slots);
    Worker worker(context.index(), context.count(), slots, stage, options,
                  context.share(total).value_or(std::numeric_limits<std::uint64_t>::max()), *transport, clock,
                  cancel, [&context] { return context.stop_requested(); });
    return worker.run(context.wait_for_start());
  };
  announce_offered(options.live, Phase::etcd,
                   stage.rate ? std::optional(stage.rate->per_second) : std::nullopt);
  load::PoolOptions pool;
  pool.count = workers;
  Result<std::pair<std::vector<WorkerResult>, TimePoint>> ran =
      load::run_workers<WorkerResult>(pool, clock, body);
  if (!ran) {
    return std::unexpected(
        Error{ran.error().kind, fmt::format("etcd {}: {}", stage.name, ran.error().message)});
  }
  auto& [results, start] = *ran;
  StageResult merged;
  merged.stage = stage;
  TimePoint last = start;
  for (WorkerResult& result : results) {
    merged.put.merge(result.put);
    merged.range.merge(result.range);
    merged.pacer.merge(result.pacer);
    merged.sends.merge(result.sends);
    merged.issued += result.issued;
    merged.cancelled = merged.cancelled || result.cancelled;
    if (merged.stopped_early.empty()) {
      merged.stopped_early = result.stopped_early;
    }
    if (merged.first_error.empty()) {
      merged.first_error = result.first_error;
    }
    last = std::max(last, result.last_completion);
  }
  merged.elapsed = last - start;
  return merged;
}

}  // namespace kp::drivers::etcd
