#pragma once

// How a DNS run is judged by the load kernel: the criteria it answers to (load/criteria_view.hpp), the
// generator's account for the one validity rule (load/validity.hpp), and a stress step's record for the
// breaking-point search (load/breaking_point.hpp). Pure functions of a LoadResult.

#include <optional>

#include "drivers/dns/load_engine.hpp"
#include "load/breaking_point.hpp"
#include "load/criteria_view.hpp"
#include "load/validity.hpp"

namespace kp::drivers::dns {

// What the phase is judged against (the run's criteria rows, or the shipped ones).
struct Judging {
  std::optional<double> tightest_latency;  // seconds: the validity rule's reference (dns.p99's target)
  bool rate_judged = true;   // a row judges dns.qps: the generator's share of due lookups matters
  load::BreakLimits limits;  // where a stress step breaks
};

// tightest_latency: the tightest dns latency target; rate_judged: dns.qps has a row; limits: P99 at dns.p99's
// Critical level, errors at the Critical level of dns.loss_rate or dns.error_rate where a row judges them.
Judging judging_from(const load::CriteriaView& criteria);

// The generator's account of a run, counted in lookups: due (started + never sent), sent, those that waited
// for an in-flight slot a slow server held (the server's), and the own send lateness of the others.
load::GeneratorAccount generator_account(const LoadResult& load, const Judging& judging);

// The queries per second a run offered: the rate paces lookups and dns.qps counts queries, so a lookup
// walking a pod's search list counts the queries it took (TCP retries ask again and are not offered load).
double offered_queries(const LoadResult& load, const Workload& workload);

// What a stress step measured, in queries per second: offered = what the generator actually put on the wire
// (its own shortfall is not the server's failure; see stress_search.hpp), achieved = usable answers (NOERROR,
// NXDOMAIN) per second of sending, P50/P99 corrected, errors = lost, connection-lost, error answers and
// queries that could not be sent.
load::StepRecord step_record(const LoadResult& load, const Workload& workload);

}  // namespace kp::drivers::dns
