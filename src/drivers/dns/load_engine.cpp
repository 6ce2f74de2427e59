#include "drivers/dns/load_engine.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "core/offered_sink.hpp"
#include "drivers/dns/worker.hpp"
#include "drivers/dns/worker_io.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::dns {
namespace {

// Max mode without a window: dnsperf's default -q.
constexpr std::uint32_t kDefaultWindow = 100;

}  // namespace

Result<LoadResult> run_load(const Workload& workload, const LoadOptions& options, Clock& clock,
                            engine::CancellationToken& cancel, const ProgressFn& progress,
                            Duration progress_interval) {
  return run_load_with(workload, options, clock, cancel, socket_io(), progress, progress_interval);
}

Result<LoadResult> run_load_with(const Workload& workload, const LoadOptions& options, Clock& clock,
                                 engine::CancellationToken& cancel, const IoFactory& io,
                                 const ProgressFn& progress, Duration progress_interval) {
  if (workload.lookups.empty()) {
    return fail(ErrorKind::input, "no queries to send");
  }
  const int clients = std::max(1, options.clients);
  const int threads = std::clamp(options.threads, 1, clients);
  std::uint32_t window = options.outstanding;
  if (window == 0) {
    window = options.rate ? static_cast<std::uint32_t>(std::min(
                                1e6, std::ceil(options.rate->per_second *
                                               std::chrono::duration<double>(options.timeout).count() * 1.5) +
                                         64))
                          : kDefaultWindow;
  }
  window = std::max<std::uint32_t>(window, static_cast<std::uint32_t>(threads));

  // Lookups per second: a walk's lookup sends more than one query, so its achieved queries run above it.
  announce_offered(options.live, Phase::dns,
                   options.rate ? std::optional(options.rate->per_second) : std::nullopt);
  Shared shared;
  load::PoolOptions pool{.count = threads, .monitor = {}, .interval = progress_interval};
  if (progress) {
    pool.monitor = [&](TimePoint start) {
      const double seconds = std::chrono::duration<double>(clock.now() - start).count();
      const std::uint64_t answered = shared.answered.load(std::memory_order_relaxed);
      progress(fmt::format("{:.0f}s: {} sent, {} answered ({:.0f}/s), {} lost", seconds,
                           shared.sent.load(std::memory_order_relaxed), answered,
                           seconds > 0 ? double(answered) / seconds : 0.0,
                           shared.lost.load(std::memory_order_relaxed)));
    };
  }
  // Each worker opens its own sockets on its own thread, then waits for the common start.
  const std::function<Result<LoadResult>(load::WorkerContext&)> body =
      [&](load::WorkerContext& context) -> Result<LoadResult> {
    const int i = context.index();
    WorkerShare share;
    share.index = i;
    share.clients = context.share(clients);
    share.window = static_cast<std::uint32_t>(context.share(static_cast<std::uint64_t>(window)));
    if (options.rate) {
      share.rate = context.share(*options.rate);
    }
    share.total = context.share(options.total);
    share.first_lookup =
        workload.lookups.size() * static_cast<std::size_t>(i) / static_cast<std::size_t>(threads);
    Worker worker(workload, options, share, clock, cancel, shared, io(workload, options, i, clock));
    if (Result<void> opened = worker.open(); !opened) {
      shared.request_stop(opened.error().message);  // the others need not run a whole phase for nothing
      return std::unexpected(opened.error());
    }
    const TimePoint start = context.wait_for_start();
    worker.run(start, [&context] { return context.stop_requested(); });
    return worker.take_result();
  };
  Result<std::pair<std::vector<Result<LoadResult>>, TimePoint>> ran =
      load::run_workers<Result<LoadResult>>(pool, clock, body);
  if (!ran) {
    return std::unexpected(ran.error());
  }
  LoadResult merged;
  merged.threads = threads;
  merged.clients = clients;
  merged.outstanding = window;
  merged.rate = options.rate;
  for (Result<LoadResult>& result : ran->first) {
    if (!result) {
      return std::unexpected(result.error());
    }
    merged.merge(*result);
  }
  {
    std::lock_guard lock(shared.mutex);
    merged.stopped_early = shared.stop_reason;
  }
  return merged;
}

}  // namespace kp::drivers::dns
