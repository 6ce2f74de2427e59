#include "drivers/api/load_runner.hpp"

#include <array>
#include <memory>

#include <fmt/format.h>

#include "kube/rate_limiter.hpp"

namespace kp::drivers::api {

void LoadStats::merge(const LoadStats& other) {
  mutating.merge(other.mutating);
  readonly.merge(other.readonly);
  list.merge(other.list);
  ok += other.ok;
  failed += other.failed;
  for (const auto& [key, count] : other.failures) {
    failures[key] += count;
  }
  for (const std::string& error : other.first_errors) {
    if (first_errors.size() < 5) {
      first_errors.push_back(error);
    }
  }
  busy += other.busy;
  late += other.late;
  paced_seconds += other.paced_seconds;
  unpaced = unpaced || other.unpaced;
}

std::optional<double> LoadStats::offered_rate() const {
  if (unpaced || paced_seconds <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(requests()) / paced_seconds;
}

LoadRunner::LoadRunner(kube::Transport& transport, Clock& clock, engine::CancellationToken& cancel,
                       std::size_t max_in_flight)
    : transport_(transport), clock_(clock), cancel_(cancel), max_in_flight_(max_in_flight) {}

LoadStats LoadRunner::run(std::vector<Operation> operations, double qps, int burst) {
  kube::TokenBucket bucket(qps, burst, clock_.now());
  return run(std::move(operations), bucket);
}

LoadStats LoadRunner::run(std::vector<Operation> operations, kube::TokenBucket& bucket) {
  const double qps = bucket.qps();
  struct Shared {
    explicit Shared(LiveSink* live)
        : live{LiveSeries(live, Phase::api, "mutating"), LiveSeries(live, Phase::api, "readonly"),
               LiveSeries(live, Phase::api, "list")} {}
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t in_flight = 0;
    LoadStats stats;
    // Written under `mutex` by the transport's thread; by verb class.
    std::array<LiveSeries, 3> live;
  };
  auto shared = std::make_shared<Shared>(live_);
  TimePoint started = clock_.now();
  for (Operation& operation : operations) {
    {
      std::unique_lock lock(shared->mutex);
      while (shared->in_flight >= max_in_flight_ && !cancel_.requested()) {
        shared->changed.wait_for(lock, std::chrono::milliseconds(100));
      }
      if (cancel_.requested()) {
        break;
      }
      ++shared->in_flight;
    }
    TimePoint intended = bucket.reserve(clock_.now());
    // Submit a little ahead of time: the transport starts it at `intended` exactly.
    if (intended - clock_.now() > std::chrono::milliseconds(50)) {
      if (cancel_.wait_until(clock_, intended - std::chrono::milliseconds(20))) {
        std::lock_guard lock(shared->mutex);
        --shared->in_flight;
        break;
      }
    }
    operation.request.not_before = intended;
    operation.request.rate_limited = false;
    std::string method = operation.request.method;
    std::string path = operation.request.path;
    VerbClass verb_class = operation.verb_class;
    auto on_success = std::move(operation.on_success);
    auto accepted = std::move(operation.accepted_statuses);
    transport_.submit(std::move(operation.request), [shared, method, path, verb_class, on_success, accepted,
                                                     this](Result<kube::Response> response) {
      bool good =
          response && ((response->status >= 200 && response->status < 300) ||
                       std::find(accepted.begin(), accepted.end(), response->status) != accepted.end());
      if (good && on_success) {
        on_success(*response);
      }
      std::lock_guard lock(shared->mutex);
      LoadStats& stats = shared->stats;
      const TimePoint now = clock_.now();
      LiveSeries& live = shared->live[verb_class == VerbClass::mutating   ? 0
                                      : verb_class == VerbClass::readonly ? 1
                                                                          : 2];
      if (good) {
        live.record(now, response->latency());
      } else {
        live.record_error(now);
      }
      if (response) {
        Histogram& histogram = verb_class == VerbClass::mutating   ? stats.mutating
                               : verb_class == VerbClass::readonly ? stats.readonly
                                                                   : stats.list;
        histogram.record(std::chrono::duration_cast<std::chrono::nanoseconds>(response->latency()).count());
      }
      if (good) {
        ++stats.ok;
      } else {
        ++stats.failed;
        std::string key;
        std::string message;
        if (!response) {
          key = fmt::format("{}", response.error().kind == ErrorKind::timeout ? "timeout" : "network");
          message = response.error().message;
        } else {
          kube::ApiError error = kube::status_error(method, path, *response);
          key = fmt::format("{} {}", error.code, error.reason);
          message = error.error.message;
        }
        ++stats.failures[key];
        if (stats.first_errors.size() < 5) {
          stats.first_errors.push_back(message);
        }
      }
      --shared->in_flight;
      shared->changed.notify_all();
    });
  }
  std::unique_lock lock(shared->mutex);
  while (shared->in_flight > 0) {
    shared->changed.wait_for(lock, std::chrono::milliseconds(100));
  }
  LoadStats stats = std::move(shared->stats);
  // Every request has completed: hand the live counts over now, not whenever the last callback is destroyed.
  for (LiveSeries& series : shared->live) {
    series.flush();
  }
  stats.busy = clock_.now() - started;
  if (qps > 0) {
    stats.paced_seconds = static_cast<double>(stats.requests()) / qps;
  } else {
    stats.unpaced = true;
  }
  return stats;
}

}  // namespace kp::drivers::api
