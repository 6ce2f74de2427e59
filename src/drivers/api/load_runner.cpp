#include "drivers/api/load_runner.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "core/offered_sink.hpp"
#include "load/worker_pool.hpp"

namespace kp::drivers::api {
namespace {

// The longest schedule a run's time is measured against: a year.
constexpr double kLongestPacedSeconds = 365.0 * 24 * 3600;

}  // namespace

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
  paced_seconds += other.paced_seconds;
  unpaced = unpaced || other.unpaced;
  throttled += other.throttled;
  throttled_answers += other.throttled_answers;
  for (const auto& [key, count] : other.throttled_by) {
    throttled_by[key] += count;
  }
  due += other.due;
  sent += other.sent;
  queued_for_server += other.queued_for_server;
  own_lateness.merge(other.own_lateness);
  window += other.window;
}

std::optional<double> LoadStats::offered_rate() const {
  if (unpaced || paced_seconds <= 0) {
    return std::nullopt;
  }
  return static_cast<double>(requests()) / paced_seconds;
}

load::GeneratorAccount LoadStats::account(bool rate_judged) const {
  load::GeneratorAccount account;
  account.what = "API requests";
  account.open_loop = !unpaced;
  account.offered = offered_rate().value_or(0);
  account.window = window;
  account.due = due;
  account.sent = sent;
  account.queued_for_server = queued_for_server;
  account.own_lateness = own_lateness;
  account.rate_judged = rate_judged;
  return account;
}

void record_answer(LoadStats& stats, VerbClass verb_class, const std::string& method, const std::string& path,
                   const std::vector<long>& accepted, const Result<kube::Response>& response, bool queued) {
  const bool good =
      response && ((response->status >= 200 && response->status < 300) ||
                   std::find(accepted.begin(), accepted.end(), response->status) != accepted.end());
  if (response) {
    Histogram& histogram = verb_class == VerbClass::mutating   ? stats.mutating
                           : verb_class == VerbClass::readonly ? stats.readonly
                                                               : stats.list;
    histogram.record(std::chrono::duration_cast<std::chrono::nanoseconds>(response->latency()).count());
    if (!queued && response->started >= response->intended) {
      stats.own_lateness.record(
          std::chrono::duration_cast<std::chrono::nanoseconds>(response->started - response->intended)
              .count());
    }
    if (response->throttled > 0) {
      ++stats.throttled;
      stats.throttled_answers += static_cast<std::uint64_t>(response->throttled);
      std::string key;
      if (!response->flow_schema_uid.empty() || !response->priority_level_uid.empty()) {
        key = fmt::format("flow schema {}, priority level {}",
                          response->flow_schema_uid.empty() ? "?" : response->flow_schema_uid,
                          response->priority_level_uid.empty() ? "?" : response->priority_level_uid);
      }
      stats.throttled_by[key] += static_cast<std::uint64_t>(response->throttled);
    }
  }
  if (good) {
    ++stats.ok;
    return;
  }
  ++stats.failed;
  std::string key;
  std::string message;
  if (!response) {
    key = response.error().kind == ErrorKind::timeout ? "timeout" : "network";
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

LoadRunner::LoadRunner(kube::Transport& transport, Clock& clock, engine::CancellationToken& cancel,
                       std::size_t max_in_flight)
    : LoadRunner([&transport](kube::Request request,
                              kube::Callback done) { transport.submit(std::move(request), std::move(done)); },
                 clock, cancel, max_in_flight) {}

LoadRunner::LoadRunner(Submit submit, Clock& clock, engine::CancellationToken& cancel,
                       std::size_t max_in_flight)
    : submit_(std::move(submit)),
      clock_(clock),
      cancel_(cancel),
      max_in_flight_(std::max<std::size_t>(1, max_in_flight)) {}

Result<LoadStats> LoadRunner::run(std::vector<Operation> operations, double qps, int burst) {
  kube::TokenBucket bucket(qps, burst, clock_.now());
  return run(std::move(operations), bucket);
}

Result<LoadStats> LoadRunner::run(std::vector<Operation> operations, kube::TokenBucket& bucket) {
  const double qps = bucket.qps();
  announce_offered(live_, Phase::api, qps);
  struct Shared {
    explicit Shared(LiveSink* live)
        : live{LiveSeries(live, Phase::api, "mutating"), LiveSeries(live, Phase::api, "readonly"),
               LiveSeries(live, Phase::api, "list")} {}
    std::mutex mutex;
    std::condition_variable changed;
    std::size_t in_flight = 0;
    LoadStats stats;
    std::string failure;  // the first exception of a completion: the run's error
    // For the achieved rate: the last answer.
    std::optional<TimePoint> last_finished;
    // Written under `mutex` by the transport's thread; by verb class.
    std::array<LiveSeries, 3> live;
  };
  auto shared = std::make_shared<Shared>(live_);
  const TimePoint started = clock_.now();
  struct Sent {
    std::uint64_t sent = 0;
    std::uint64_t queued = 0;
    TimePoint first{};
    TimePoint ended{};  // when the loop stopped sending
  };
  // The submitting loop, in the kernel's pool: an exception there is a phase error, not std::terminate.
  load::PoolOptions pool{.count = 1, .monitor = {}, .interval = std::chrono::milliseconds(100)};
  Result<std::pair<std::vector<Sent>, TimePoint>> submitted = load::run_workers<Sent>(
      pool, clock_, std::function<Sent(load::WorkerContext&)>([&](load::WorkerContext& worker) {
        worker.wait_for_start();
        Sent sent;
        // The schedule's own time: a wait for a slot the server held does not move it (wrk2's rule).
        TimePoint schedule = clock_.now();
        // When the loop last stopped waiting for a slot the server held: every send that fell due before
        // then waited for the server, whether or not a slot was free by its own turn.
        std::optional<TimePoint> blocked_until;
        for (Operation& operation : operations) {
          if (cancel_.requested() || worker.stop_requested()) {
            break;
          }
          const TimePoint intended = bucket.reserve(schedule);
          schedule = std::max(schedule, intended);
          // Submit a little ahead of time: the transport starts it at `intended` exactly.
          if (intended - clock_.now() > std::chrono::milliseconds(50)) {
            if (cancel_.wait_until(clock_, intended - std::chrono::milliseconds(20))) {
              break;
            }
          }
          bool queued = false;
          {
            std::unique_lock lock(shared->mutex);
            if (!shared->failure.empty()) {
              break;
            }
            const bool waited = shared->in_flight >= max_in_flight_;
            while (shared->in_flight >= max_in_flight_ && !cancel_.requested()) {
              shared->changed.wait_for(lock, std::chrono::milliseconds(100));
            }
            if (cancel_.requested()) {
              break;
            }
            if (waited) {
              blocked_until = clock_.now();
            }
            queued = blocked_until && intended < *blocked_until;
            ++shared->in_flight;
          }
          operation.request.not_before = intended;
          operation.request.rate_limited = false;
          sent.first = sent.sent == 0 ? intended : sent.first;
          ++sent.sent;
          sent.queued += queued ? 1 : 0;
          std::string method = operation.request.method;
          std::string path = operation.request.path;
          const VerbClass verb_class = operation.verb_class;
          auto on_success = std::move(operation.on_success);
          auto accepted = std::move(operation.accepted_statuses);
          Clock& clock = clock_;
          // A submit that throws never calls back: give its slot back, so the drain below ends.
          try {
            submit_(std::move(operation.request), [shared, method = std::move(method), path = std::move(path),
                                                   verb_class, on_success = std::move(on_success),
                                                   accepted = std::move(accepted), queued,
                                                   &clock](Result<kube::Response> response) {
              std::string failure;
              try {
                const bool good = response && ((response->status >= 200 && response->status < 300) ||
                                               std::find(accepted.begin(), accepted.end(),
                                                         response->status) != accepted.end());
                if (good && on_success) {
                  on_success(*response);
                }
                std::lock_guard lock(shared->mutex);
                const TimePoint now = clock.now();
                LiveSeries& live = shared->live[verb_class == VerbClass::mutating   ? 0
                                                : verb_class == VerbClass::readonly ? 1
                                                                                    : 2];
                if (good) {
                  live.record(now, response->latency());
                } else {
                  live.record_error(now);
                }
                record_answer(shared->stats, verb_class, method, path, accepted, response, queued);
                if (response) {
                  shared->last_finished =
                      std::max(shared->last_finished.value_or(response->finished), response->finished);
                }
              } catch (const std::exception& error) {
                failure = fmt::format("{} {}: {}", method, path, error.what());
              } catch (...) {
                failure = fmt::format("{} {}: unknown exception", method, path);
              }
              std::lock_guard lock(shared->mutex);
              if (!failure.empty() && shared->failure.empty()) {
                shared->failure = std::move(failure);
              }
              --shared->in_flight;
              shared->changed.notify_all();
            });
          } catch (...) {
            std::lock_guard lock(shared->mutex);
            --shared->in_flight;
            shared->changed.notify_all();
            throw;
          }
        }
        sent.ended = std::max(clock_.now(), schedule);
        return sent;
      }));
  // Everything submitted completes before the stats are read, whatever happened to the loop.
  std::unique_lock lock(shared->mutex);
  while (shared->in_flight > 0) {
    shared->changed.wait_for(lock, std::chrono::milliseconds(100));
  }
  if (!submitted) {
    return std::unexpected(with_context(submitted.error(), "api load: "));
  }
  if (!shared->failure.empty()) {
    return fail(ErrorKind::internal, fmt::format("api load: a completion failed: {}", shared->failure));
  }
  LoadStats stats = std::move(shared->stats);
  // Every request has completed: hand the live counts over now, not whenever the last callback is destroyed.
  for (LiveSeries& series : shared->live) {
    series.flush();
  }
  const Sent& sent = submitted->first.front();
  stats.due = sent.sent;
  stats.sent = sent.sent;
  stats.queued_for_server = sent.queued;
  stats.window = sent.sent > 0 ? sent.ended - sent.first : Duration{0};
  // The time the server took for the run at its pace: from the first intended send to the last answer, less
  // the run's median latency (the last answer comes one latency after the last send, and a single answer's
  // latency is noise), never less than the schedule itself. A server that keeps up takes the schedule's
  // time; one that falls behind stretches it. Not the run's wall time: a short run's last answer would count
  // a whole latency against the rate.
  stats.busy = clock_.now() - started;
  if (qps > 0 && sent.sent > 0 && shared->last_finished) {
    Histogram latencies = stats.mutating;
    latencies.merge(stats.readonly);
    latencies.merge(stats.list);
    const Duration typical =
        std::chrono::nanoseconds(latencies.count() > 0 ? latencies.value_at_percentile(50) : 0);
    // A tiny rate makes sent / qps more than a Duration holds (the cast would be undefined); a year is
    // beyond any run, and a few such times summed by merge() still fit.
    const auto paced = std::chrono::duration_cast<Duration>(
        std::chrono::duration<double>(std::min(static_cast<double>(sent.sent) / qps, kLongestPacedSeconds)));
    stats.busy = std::max(paced, *shared->last_finished - sent.first - typical);
  }
  if (qps > 0) {
    stats.paced_seconds = static_cast<double>(stats.requests()) / qps;
  } else {
    stats.unpaced = true;
  }
  return stats;
}

}  // namespace kp::drivers::api
