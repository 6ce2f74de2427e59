#pragma once

// Sends a job's requests at the job's qps/burst (its own token bucket, kube-burner's meaning) through the
// shared transport, bounded in flight, and records each answer's latency — from its intended start, so a slow
// server is not hidden by the pacing — into per-verb-class histograms: mutating (POST/PUT/PATCH/DELETE),
// read-only single object (GET), list (LIST). Stops submitting on cancellation and waits for what is in
// flight.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/live.hpp"
#include "engine/cancellation.hpp"
#include "kube/api.hpp"
#include "kube/rate_limiter.hpp"

namespace kp::drivers::api {

enum class VerbClass { mutating, readonly, list };

struct Operation {
  VerbClass verb_class = VerbClass::mutating;
  kube::Request request;
  // Runs on the transport thread after a 2xx answer (e.g. remember a created object).
  std::function<void(const kube::Response&)> on_success;
  // Answers with these HTTP statuses count as successes (a delete of something already gone: 404).
  std::vector<long> accepted_statuses;
};

struct LoadStats {
  Histogram mutating;  // ns
  Histogram readonly;
  Histogram list;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::map<std::string, std::uint64_t> failures;  // "409 AlreadyExists", "network" -> count
  std::vector<std::string> first_errors;          // the first few messages, for the report
  Duration busy{0};                               // time spent in jobs (for the achieved rate)
  std::uint64_t late = 0;                         // sends that started > 100 ms after their intended time
  // The job time had every job kept its pace: requests / qps, summed over the jobs merged. With `busy` it
  // tells a server that kept up from one that did not, whatever mix of job rates ran.
  double paced_seconds = 0;
  bool unpaced = false;  // a job ran as fast as it could (qps <= 0): nothing was offered at a rate

  std::uint64_t requests() const { return ok + failed; }
  // The rate the jobs offered, over all of them (requests / paced_seconds); nullopt when one was unpaced or
  // nothing was sent.
  std::optional<double> offered_rate() const;
  void merge(const LoadStats& other);
};

class LoadRunner {
 public:
  LoadRunner(kube::Transport& transport, Clock& clock, engine::CancellationToken& cancel,
             std::size_t max_in_flight = 512);
  // Runs `operations` at `qps` (<= 0: as fast as max_in_flight allows) with `burst`, and returns their stats.
  LoadStats run(std::vector<Operation> operations, double qps, int burst);
  // The same, paced by a bucket that outlives the call: jobs that share one client's limit (client-go's one
  // limiter per client) share its tokens, so a sequence of short jobs does not start each with a full burst.
  LoadStats run(std::vector<Operation> operations, kube::TokenBucket& bucket);
  // Completions are also counted live under series "mutating", "readonly" and "list"; null: off.
  void set_live_sink(LiveSink* live) { live_ = live; }

 private:
  kube::Transport& transport_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  std::size_t max_in_flight_;
  LiveSink* live_ = nullptr;
};

}  // namespace kp::drivers::api
