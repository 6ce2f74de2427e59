// run_load: checks the spec, resolves the target, builds the request bytes and the TLS context, then runs one
// HttpWorker per thread through the load kernel's worker pool (load/worker_pool.hpp): one common start with a
// head start, totals split over the workers, a worker's exception turned into a phase error (the others are
// asked to stop and joined), and results merged in worker order.

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <memory>

#include <fmt/format.h>

#include "core/offered_sink.hpp"
#include "drivers/ingress/http_worker.hpp"
#include "drivers/ingress/load.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::ingress {
namespace {

// Every connection is a descriptor: raise the soft limit towards the hard one when the default (often 1024)
// is too small, instead of failing connects with EMFILE.
void raise_descriptor_limit(int connections) {
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    rlim_t needed = static_cast<rlim_t>(connections) + 64;
    if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed) {
      limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
      setrlimit(RLIMIT_NOFILE, &limit);
    }
  }
}

// OpenSSL writes with write(), not send(MSG_NOSIGNAL): a peer that closed would raise SIGPIPE and end the
// process. Blocked in the worker's thread only, the write fails with EPIPE instead, which is counted.
void block_sigpipe_in_this_thread() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
}

}  // namespace

Result<LoadResult> run_load(const LoadSpec& input, Clock& clock, engine::CancellationToken& cancel,
                            const ProgressFn& progress) {
  LoadSpec spec = input;
  if (spec.connections < 1 || spec.threads < 1) {
    return fail(ErrorKind::usage, fmt::format("connections and threads must be >= 1, got {} and {}",
                                              spec.connections, spec.threads));
  }
  if (spec.rate && !(spec.rate->per_second > 0)) {
    return fail(ErrorKind::usage, fmt::format("rate must be > 0, got {}", spec.rate->per_second));
  }
  if (spec.duration <= Duration::zero() && !spec.requests) {
    return fail(ErrorKind::usage, "a run needs a duration or a request count");
  }
  spec.threads = std::min(spec.threads, spec.connections);
  if (spec.requests && *spec.requests < static_cast<std::uint64_t>(spec.threads)) {
    spec.threads = static_cast<int>(std::max<std::uint64_t>(1, *spec.requests));
  }
  announce_offered(spec.live, Phase::ingress,
                   spec.rate ? std::optional(spec.rate->per_second) : std::nullopt);
  raise_descriptor_limit(spec.connections);
  Result<Address> address = resolve(spec.url);
  if (!address) {
    return std::unexpected(address.error());
  }
  Target target{.address = *address, .requests = {}, .tls = nullptr, .tls_name = {}};
  if (spec.url.tls) {
    Result<std::shared_ptr<TlsContext>> created = TlsContext::create(spec.tls);
    if (!created) {
      return std::unexpected(created.error());
    }
    target.tls = std::move(*created);
    target.tls_name = spec.tls.server_name.empty() ? spec.url.host : spec.tls.server_name;
  }
  if (spec.request.paths.empty()) {
    target.requests.push_back(
        build_request(spec.request, spec.url, spec.url.target, spec.connection_per_request));
  } else {
    for (const std::string& path : spec.request.paths) {
      target.requests.push_back(build_request(spec.request, spec.url, path, spec.connection_per_request));
    }
  }

  // Probed only when io_uring may be used: a forced epoll never touches io_uring.
  static const UringUnavailable kNotProbed;
  Result<IoChoice> io =
      choose_io_backend(spec.io, spec.io == IoBackend::epoll ? kNotProbed : uring_unavailable());
  if (!io) {
    return std::unexpected(io.error());
  }

  const int threads = spec.threads;
  std::vector<Published> published(static_cast<std::size_t>(threads));
  // Written by every worker after the barrier (all the same value): nothing connected, so nothing was sent.
  std::atomic<bool> unreachable{false};

  std::function<LoadResult(load::WorkerContext&)> body = [&](load::WorkerContext& context) {
    block_sigpipe_in_this_thread();
    const int index = context.index();
    WorkerShare share{.index = index,
                      .workers = threads,
                      .connections = context.share(spec.connections),
                      .requests = context.share(spec.requests),
                      .rate = spec.rate ? std::optional(context.share(*spec.rate)) : std::nullopt,
                      .io = io->backend};
    HttpWorker worker(spec, target, clock, cancel, share, published[static_cast<std::size_t>(index)],
                      [&context] { return context.stop_requested(); });
    worker.connect_first();
    const TimePoint start = context.wait_for_start();
    // Every worker has published its connections by now (the pool's barrier orders it).
    std::uint64_t connected = 0;
    for (const Published& each : published) {
      connected += each.connected.load(std::memory_order_relaxed);
    }
    if (connected == 0 && !cancel.requested()) {
      unreachable.store(true, std::memory_order_relaxed);
      return worker.abandon();
    }
    if (cancel.requested() || context.stop_requested()) {
      return worker.abandon();
    }
    return worker.run(start);
  };

  TimePoint next_report{};
  load::PoolOptions options{.count = threads, .monitor = {}, .interval = std::chrono::milliseconds(50)};
  if (progress) {
    options.monitor = [&](TimePoint start) {
      const TimePoint now = clock.now();
      if (next_report == TimePoint{}) {
        next_report = start + std::chrono::seconds(1);
      }
      if (now < next_report || unreachable.load(std::memory_order_relaxed)) {
        return;
      }
      std::uint64_t responses = 0;
      std::uint64_t failures = 0;
      for (const Published& each : published) {
        responses += each.responses.load(std::memory_order_relaxed);
        failures += each.failures.load(std::memory_order_relaxed);
      }
      progress(std::chrono::duration<double>(now - start).count(), responses, failures);
      next_report += std::chrono::seconds(1);
    };
  }
  Result<std::pair<std::vector<LoadResult>, TimePoint>> ran = load::run_workers(options, clock, body);
  if (!ran) {
    return fail(ran.error().kind, fmt::format("ingress load generator: {}", ran.error().message));
  }
  auto& [results, start] = *ran;
  LoadResult merged(start);
  for (const LoadResult& each : results) {
    merged.merge(each);
  }
  merged.intended_rate = spec.rate ? spec.rate->per_second : 0;
  merged.open_loop = spec.rate.has_value();
  if (!io->note.empty()) {
    merged.io_note = io->note;
  }
  if (unreachable.load()) {
    std::string why = merged.error_samples.empty() ? "no connection succeeded" : merged.error_samples.front();
    return fail(ErrorKind::network, fmt::format("cannot connect to {}: {}", spec.url.to_string(), why));
  }
  return merged;
}

}  // namespace kp::drivers::ingress
