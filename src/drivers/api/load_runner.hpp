#pragma once

// Sends a job's requests at the job's qps/burst (a token bucket, kube-burner's meaning) through the shared
// transport, bounded in flight, and records each answer's latency — from its intended start, so a slow
// server is not hidden by the pacing — into per-verb-class histograms: mutating (POST/PUT/PATCH/DELETE),
// read-only single object (GET), list (LIST). Stops submitting on cancellation and waits for what is in
// flight.
//
// The schedule (wrk2's rule, load/validity.hpp's split): within one run() the intended send times follow the
// bucket from the run's start, never from when a send actually went out. A send that waited for a free
// in-flight slot because the API server was slow, or fell due while the loop waited for one, is counted as
// queued for the server: its wait is inside its latency, and it is never the generator's shortfall. Only the
// lateness of sends that did not wait for the server (the submitting loop or the transport thread falling
// behind) is the generator's own.
//
// 429s (API Priority and Fairness, max-in-flight) are retried by the transport after Retry-After, inside the
// latency from the intended send time; they are counted apart, with the flow schema and priority level the
// server names.
//
// Threads: the submitting loop runs in the load kernel's worker pool (one worker: the transport thread does
// the I/O), completions on the transport thread. An exception in either becomes an ErrorKind::internal
// error once everything in flight has completed.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/histogram.hpp"
#include "core/live.hpp"
#include "engine/cancellation.hpp"
#include "kube/api.hpp"
#include "kube/rate_limiter.hpp"
#include "load/validity.hpp"

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
  Histogram mutating;  // ns, from the intended send time
  Histogram readonly;
  Histogram list;
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::map<std::string, std::uint64_t> failures;  // "409 AlreadyExists", "network" -> count
  std::vector<std::string> first_errors;          // the first few messages, for the report
  // The jobs' time for the achieved rate: per run, from its first intended send to its last answer less the
  // run's median latency, at least the schedule's length (requests / qps); closed loop: wall time.
  Duration busy{0};
  // The job time had every job kept its pace: requests / qps, summed over the jobs merged. With `busy` it
  // tells a server that kept up from one that did not, whatever mix of job rates ran.
  double paced_seconds = 0;
  bool unpaced = false;  // a job ran as fast as it could (qps <= 0): nothing was offered at a rate

  // API Priority and Fairness: requests answered 429 at least once (a subset of requests; each retried after
  // Retry-After; a failure only when the retries ran out), the 429 answers in all, and those answers by the
  // server's "flow schema <uid>, priority level <uid>" ("" when it named neither).
  std::uint64_t throttled = 0;
  std::uint64_t throttled_answers = 0;
  std::map<std::string, std::uint64_t> throttled_by;

  // The generator's own account (load/validity.hpp): sends due and made, those that waited for a slot the
  // server held, and the own lateness (actual first start - intended, ns) of the others.
  std::uint64_t due = 0;
  std::uint64_t sent = 0;
  std::uint64_t queued_for_server = 0;
  Histogram own_lateness;
  Duration window{0};  // sending time, summed over the runs merged

  std::uint64_t requests() const { return ok + failed; }
  // The rate the jobs offered, over all of them (requests / paced_seconds); nullopt when one was unpaced or
  // nothing was sent.
  std::optional<double> offered_rate() const;
  // The generator's account for the validity rule; `rate_judged`: a row judges api.qps.
  load::GeneratorAccount account(bool rate_judged) const;
  void merge(const LoadStats& other);
};

// Records one answer in `stats` (the completion's bookkeeping, kept apart so it is tested alone).
// `queued`: the send waited for an in-flight slot the server held.
void record_answer(LoadStats& stats, VerbClass verb_class, const std::string& method, const std::string& path,
                   const std::vector<long>& accepted, const Result<kube::Response>& response, bool queued);

class LoadRunner {
 public:
  // How requests reach the server: the transport's submit, or a test's stand-in. `done` runs exactly once,
  // on any thread.
  using Submit = std::function<void(kube::Request, kube::Callback)>;

  LoadRunner(kube::Transport& transport, Clock& clock, engine::CancellationToken& cancel,
             std::size_t max_in_flight = 512);
  LoadRunner(Submit submit, Clock& clock, engine::CancellationToken& cancel, std::size_t max_in_flight = 512);
  // Runs `operations` at `qps` (<= 0: as fast as max_in_flight allows) with `burst`, and returns their stats.
  Result<LoadStats> run(std::vector<Operation> operations, double qps, int burst);
  // The same, paced by a bucket that outlives the call: jobs that share one client's limit (client-go's one
  // limiter per client) share its tokens, so a sequence of short jobs does not start each with a full burst.
  Result<LoadStats> run(std::vector<Operation> operations, kube::TokenBucket& bucket);
  // Completions are also counted live under series "mutating", "readonly" and "list"; null: off.
  void set_live_sink(LiveSink* live) { live_ = live; }

 private:
  Submit submit_;
  Clock& clock_;
  engine::CancellationToken& cancel_;
  std::size_t max_in_flight_;
  LiveSink* live_ = nullptr;
};

}  // namespace kp::drivers::api
