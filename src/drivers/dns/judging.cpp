#include "drivers/dns/judging.hpp"

#include <algorithm>

namespace kp::drivers::dns {

Judging judging_from(const load::CriteriaView& criteria) {
  Judging judging;
  judging.tightest_latency = criteria.tightest_latency_target(Phase::dns);
  judging.rate_judged = criteria.judged("dns.qps");
  judging.limits.p99_critical = criteria.critical("dns.p99");
  for (std::string_view metric : {"dns.loss_rate", "dns.error_rate"}) {
    if (std::optional<double> critical = criteria.critical(metric)) {
      judging.limits.error_critical =
          judging.limits.error_critical ? std::min(*judging.limits.error_critical, *critical) : *critical;
    }
  }
  return judging;
}

load::GeneratorAccount generator_account(const LoadResult& load, const Judging& judging) {
  const Counters& c = load.counters;
  load::GeneratorAccount account;
  account.what = "lookups";
  account.open_loop = load.rate.has_value();
  account.offered = load.rate ? load.rate->per_second : 0.0;
  account.window = load.send_elapsed;
  account.due = c.lookups_started + load.unsent_due;
  account.sent = c.lookups_started;
  account.queued_for_server = load.queued_for_server;
  account.unsent_for_server = load.unsent_for_server;
  account.own_lateness = load.own_lateness;
  account.rate_judged = judging.rate_judged;
  return account;
}

double offered_queries(const LoadResult& load, const Workload& workload) {
  const Counters& c = load.counters;
  double per_lookup = 1.0;
  if (workload.walk && c.lookups_started > 0) {
    per_lookup = double(c.sent - c.tcp_retries) / double(c.lookups_started);
  }
  return load.rate ? load.rate->per_second * per_lookup : 0.0;
}

load::StepRecord step_record(const LoadResult& load, const Workload& workload) {
  const Counters& c = load.counters;
  load::StepRecord step;
  // The generator's own shortfall is taken off what it offered: the server is judged on what reached it.
  const load::GeneratorAccount account = generator_account(load, Judging{});
  step.offered = offered_queries(load, workload) * account.own_share();
  // Per second of sending, not of the whole run: the answers still arriving after the last send would
  // otherwise dilute a rate the server did hold.
  const double sending = std::chrono::duration<double>(load.send_elapsed).count();
  step.achieved = sending > 0 ? double(c.answered()) / sending : 0.0;
  const Histogram& latency = load.query_latency.corrected;
  if (latency.count() > 0) {
    step.p50 = double(latency.value_at_percentile(50)) / 1e9;
    step.p99 = double(latency.value_at_percentile(99)) / 1e9;
  }
  step.completed = c.sent + c.send_errors;
  step.errors = c.lost + c.connection_lost + c.error_responses() + c.send_errors;
  step.duration = load.send_elapsed;
  step.cancelled = load.cancelled;
  return step;
}

}  // namespace kp::drivers::dns
