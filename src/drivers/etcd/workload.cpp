#include "drivers/etcd/workload.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <grpc/support/time.h>
#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_unary_call.h>

#include "drivers/etcd/keys.hpp"
#include "etcd_rpc.grpc.pb.h"

namespace kp::drivers::etcd {
namespace {

// While every client is busy or nothing is due, a worker waits on its completion queue at most this long
// before it looks at the clock and the cancellation flag again.
constexpr Duration kIdleWait = std::chrono::milliseconds(50);
// After the stage, calls in flight get their request timeout plus this margin before they are cancelled.
constexpr Duration kDrainMargin = std::chrono::seconds(1);

gpr_timespec after(Duration timeout) {
  return gpr_time_from_nanos(std::max<std::int64_t>(0, timeout.count()), GPR_TIMESPAN);
}

// One client: a slot for one request in flight at a time, reusing its messages (protobuf keeps their memory).
struct Call {
  etcdserverpb::KV::Stub* stub = nullptr;
  std::optional<grpc::ClientContext> context;
  etcdserverpb::PutRequest put;
  etcdserverpb::PutResponse put_response;
  etcdserverpb::RangeRequest range;
  etcdserverpb::RangeResponse range_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> put_reader;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::RangeResponse>> range_reader;
  grpc::Status status;
  bool is_range = false;
  bool busy = false;
  TimePoint intended{};
  TimePoint sent{};
};

struct WorkerResult {
  OperationStats put;
  OperationStats range;
  PacerStats pacer;
  TimePoint last_completion{};
  std::uint64_t issued = 0;
  bool cancelled = false;
  std::string stopped_early;
  std::string first_error;
};

class Worker {
 public:
  Worker(int index, int workers, std::vector<std::shared_ptr<grpc::Channel>> channels, int clients,
         const Stage& stage, const EngineOptions& options, const std::string& value, std::uint64_t quota,
         TimePoint start, Clock& clock, engine::CancellationToken& cancel)
      : stage_(stage),
        options_(options),
        quota_(quota),
        start_(start),
        end_(start + stage.duration),
        clock_(clock),
        cancel_(cancel),
        keys_(options.key_prefix, options.key_size, options.key_space, options.sequential_keys,
              static_cast<std::uint64_t>(index), static_cast<std::uint64_t>(workers),
              options.seed * 7919 + static_cast<std::uint64_t>(index)),
        random_(options.seed * 104729 + static_cast<std::uint64_t>(index)),
        live_put_(options.live, Phase::etcd, "put"),
        live_range_(options.live, Phase::etcd, "range") {
    for (const auto& channel : channels) {
      stubs_.push_back(etcdserverpb::KV::NewStub(channel));
    }
    for (std::size_t i = 0; i < static_cast<std::size_t>(clients); ++i) {
      calls_.push_back(std::make_unique<Call>());
      Call& call = *calls_.back();
      call.stub = stubs_[i % stubs_.size()].get();
      call.put.set_value(value);
      call.range.set_serializable(options.serializable);
      idle_.push_back(&call);
    }
    if (stage.rate) {
      double per_worker = stage.rate->per_second / workers;
      pacer_.emplace(Rate{per_worker}, options.arrival, start,
                     options.seed + static_cast<std::uint64_t>(index));
    }
  }

  WorkerResult run() {
    last_success_ = start_;
    if (pacer_) {
      run_open_loop();
    } else {
      run_closed_loop();
    }
    drain();
    if (pacer_) {
      result_.pacer = pacer_->stats();
    }
    return std::move(result_);
  }

 private:
  // Why the worker must stop sending now, or "" to go on. Checked before every send.
  bool should_stop(TimePoint now) {
    if (cancel_.requested()) {
      result_.cancelled = true;
      return true;
    }
    if (now >= end_ || result_.issued >= quota_) {
      return true;
    }
    if (errors_since_success_ > 0 && now - last_success_ >= options_.failure_window) {
      result_.stopped_early =
          fmt::format("no request succeeded for {} ({} failed in a row; first: {})",
                      format_duration(options_.failure_window), errors_since_success_, result_.first_error);
      return true;
    }
    return false;
  }

  void run_open_loop() {
    TimePoint intended = pacer_->next();
    while (true) {
      TimePoint now = clock_.now();
      if (should_stop(now)) {
        return;
      }
      if (intended > end_) {
        return;  // the next intended send is past the stage: only completions are left to collect
      }
      if (now >= intended && !idle_.empty()) {
        send(idle_.back(), intended, now);
        pacer_->record_send(intended, now);
        intended = pacer_->next();
        continue;
      }
      // Wait for a completion until the next send is due (or a short while when every client is busy, because
      // a completion is what frees one).
      Duration wait = idle_.empty() ? kIdleWait : std::min<Duration>(intended - now, kIdleWait);
      wait = std::min<Duration>(wait, end_ - now);
      poll(wait);
    }
  }

  void run_closed_loop() {
    while (true) {
      TimePoint now = clock_.now();
      if (should_stop(now)) {
        return;
      }
      if (!idle_.empty()) {
        send(idle_.back(), now, now);
        continue;
      }
      poll(std::min<Duration>(kIdleWait, end_ - now));
    }
  }

  void send(Call* call, TimePoint intended, TimePoint now) {
    idle_.pop_back();
    bool is_range = stage_.read_fraction >= 1.0 ||
                    (stage_.read_fraction > 0 &&
                     std::uniform_real_distribution<double>(0, 1)(random_) < stage_.read_fraction);
    std::string_view key = keys_.next();
    // The readers live in the call's arena, which the context owns: release them before the context.
    call->put_reader.reset();
    call->range_reader.reset();
    call->context.reset();
    call->context.emplace();
    call->context->set_deadline(after(options_.request_timeout));
    call->is_range = is_range;
    call->busy = true;
    call->intended = intended;
    call->sent = now;
    ++result_.issued;
    if (is_range) {
      call->range.set_key(key.data(), key.size());
      call->range_reader = call->stub->PrepareAsyncRange(&*call->context, call->range, &queue_);
      call->range_reader->StartCall();
      call->range_reader->Finish(&call->range_response, &call->status, call);
    } else {
      call->put.set_key(key.data(), key.size());
      call->put_reader = call->stub->PrepareAsyncPut(&*call->context, call->put, &queue_);
      call->put_reader->StartCall();
      call->put_reader->Finish(&call->put_response, &call->status, call);
    }
    ++in_flight_;
  }

  // Handles at most one completion, waiting up to `wait`. False when the queue is shut down.
  bool poll(Duration wait) {
    void* tag = nullptr;
    bool ok = false;
    grpc::CompletionQueue::NextStatus status = queue_.AsyncNext(&tag, &ok, after(wait));
    if (status == grpc::CompletionQueue::SHUTDOWN) {
      return false;
    }
    if (status == grpc::CompletionQueue::GOT_EVENT) {
      complete(static_cast<Call*>(tag));
    }
    return true;
  }

  void complete(Call* call) {
    TimePoint now = clock_.now();
    --in_flight_;
    call->busy = false;
    OperationStats& stats = call->is_range ? result_.range : result_.put;
    if (call->status.ok()) {
      ++stats.ok;
      stats.latency.record(call->intended, call->sent, now);
      (call->is_range ? live_range_ : live_put_).record(now, now - call->intended);
      last_success_ = now;
      errors_since_success_ = 0;
    } else {
      ++stats.errors;
      (call->is_range ? live_range_ : live_put_).record_error(now);
      auto code = static_cast<std::size_t>(call->status.error_code());
      if (code < stats.by_code.size()) {
        ++stats.by_code[code];
      }
      if (result_.first_error.empty()) {
        result_.first_error =
            fmt::format("{} {}", call->is_range ? "Range" : "Put",
                        describe_status(call->status.error_code(), call->status.error_message()));
      }
      ++errors_since_success_;
    }
    result_.last_completion = std::max(result_.last_completion, now);
    idle_.push_back(call);
  }

  // Collects the calls still in flight; each has its own deadline, and any that outlives it (plus a margin)
  // is cancelled, which completes it at once. Then shuts the queue down and drains it, as gRPC requires.
  void drain() {
    TimePoint give_up = clock_.now() + options_.request_timeout + kDrainMargin;
    bool cancelled_calls = false;
    while (in_flight_ > 0) {
      TimePoint now = clock_.now();
      if (now >= give_up && !cancelled_calls) {
        for (const auto& call : calls_) {
          if (call->busy) {
            call->context->TryCancel();
          }
        }
        cancelled_calls = true;
      }
      poll(kIdleWait);
    }
    queue_.Shutdown();
    while (poll(kIdleWait)) {
    }
  }

  const Stage& stage_;
  const EngineOptions& options_;
  std::uint64_t quota_;
  TimePoint start_;
  TimePoint end_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  KeyGenerator keys_;
  std::mt19937_64 random_;
  LiveSeries live_put_;
  LiveSeries live_range_;
  std::optional<Pacer> pacer_;
  grpc::CompletionQueue queue_;
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs_;
  std::vector<std::unique_ptr<Call>> calls_;  // pointers: a call's address is its completion tag
  std::vector<Call*> idle_;
  std::size_t in_flight_ = 0;
  TimePoint last_success_{};
  std::uint64_t errors_since_success_ = 0;
  WorkerResult result_;
};

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

}  // namespace

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

int default_threads(int connections) {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
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

StageResult run_stage(const Connections& connections, const Stage& stage, const EngineOptions& options,
                      Clock& clock, engine::CancellationToken& cancel) {
  int connection_count = static_cast<int>(connections.channels.size());
  int workers = std::clamp(options.threads, 1, std::max(1, connection_count));
  workers = std::min(workers, std::max(1, options.clients));
  std::string value = make_value(options.value_size, options.seed);
  std::uint64_t total = stage.total.value_or(std::numeric_limits<std::uint64_t>::max());

  TimePoint start = clock.now();
  std::vector<WorkerResult> results(static_cast<std::size_t>(workers));
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    std::vector<std::shared_ptr<grpc::Channel>> channels;
    for (int c = w; c < connection_count; c += workers) {
      channels.push_back(connections.channels[static_cast<std::size_t>(c)]);
    }
    int clients = options.clients / workers + (w < options.clients % workers ? 1 : 0);
    std::uint64_t quota =
        total == std::numeric_limits<std::uint64_t>::max()
            ? total
            : total / static_cast<std::uint64_t>(workers) +
                  (static_cast<std::uint64_t>(w) < total % static_cast<std::uint64_t>(workers) ? 1 : 0);
    threads.emplace_back([&, w, channels = std::move(channels), clients, quota]() mutable {
      Worker worker(w, workers, std::move(channels), clients, stage, options, value, quota, start, clock,
                    cancel);
      results[static_cast<std::size_t>(w)] = worker.run();
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }

  StageResult merged;
  merged.stage = stage;
  TimePoint last = start;
  for (WorkerResult& result : results) {
    merged.put.merge(result.put);
    merged.range.merge(result.range);
    merged.pacer.merge(result.pacer);
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
