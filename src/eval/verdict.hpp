#pragma once

#include <string_view>

namespace kp::eval {

// Ordered from best to worst where an order makes sense; worst() of a set is its verdict.
enum class Verdict {
  pass,              // every metric meets its Target
  conditional_pass,  // every metric within Critical, some not meeting Target
  not_judged,        // a smoke run's capacity row (see below): shown, neither judged nor missing
  not_measured,      // a metric (or every metric of a phase) had no value: never a pass
  incomplete,        // a phase or run with some metrics not measured and none failed: it cannot be signed
  skipped,           // the phase did not run (service absent, gated by a failed foundation, --only)
  invalid,           // the run could not do what it set out to (e.g. did not reach its target rate)
  aborted,           // interrupted (SIGINT) before it finished
  in_progress,       // a checkpoint of a run still going: nothing is signed until it ends
  fail,              // some metric beyond its Critical level
};

std::string_view to_string(Verdict verdict);  // "PASS", "CONDITIONAL PASS", "FAIL", "NOT JUDGED", ...

// NOT JUDGED: a capacity row (config::is_capacity_metric) in a smoke run. A smoke test validates
// configuration at a fraction of capacity, so its rate is shown with what was offered and never judged; it is
// evidence neither for nor against the cluster and does not count toward INCOMPLETE.

// Exit code of a whole run: 0 PASS, 1 FAIL, 3 CONDITIONAL PASS, 4 invalid, incomplete or aborted.
int exit_code_for(Verdict overall);

}  // namespace kp::eval
