#pragma once

// The api phase's rows from what a run measured, and what a stress step records. Kept apart from the run so
// the rules are tested alone:
//   - latency rows (api.mutating.p99, api.readonly.p99, api.list.p99): the server-side P99 from
//     apiserver_request_duration_seconds is the SLO row's value, as the Kubernetes SLO defines it, with its
//     bucket bounds in the note; the client-side P99 (from the intended send time) is in the note too, and
//     its histogram is attached. Without /metrics the client-side value stands, and says so.
//   - api.qps: answered per second of job time, with the offered rate; a server that could not take the rate
//     is a FAIL with the reason ("the API server sustained 880 of 1000 QPS; mutating P99 3.9 s"), never
//     INVALID: only the generator's own shortfall is (load/validity.hpp, judged here).
//   - api.error_rate: failures after retries, with 429s (API Priority and Fairness) counted apart.
//   - api.pod_startup.p99 from the watch.

#include <optional>
#include <string>
#include <vector>

#include "drivers/api/load_runner.hpp"
#include "drivers/api/pod_startup.hpp"
#include "drivers/api/server_sli.hpp"
#include "engine/driver.hpp"
#include "load/breaking_point.hpp"
#include "load/criteria_view.hpp"

namespace kp::drivers::api {

struct MeasureInput {
  const LoadStats& stats;
  const std::optional<ServerSlis>& server;
  const PodStartupResult& startup;
  Duration pod_startup_timeout{0};
  double qps = 0;  // the pace asked for (0: closed loop)
  int burst = 1;
  std::vector<std::string> notes;  // for every row's note
  const load::CriteriaView& criteria;
};

engine::PhaseRun measure(const MeasureInput& input);

// "1.2k 429 answers (API Priority and Fairness) on 950 requests, each retried after its Retry-After (inside
// the latency): flow schema <uid>, priority level <uid>: 1.2k"; "" when none was throttled.
std::string throttling_text(const LoadStats& stats);

// One stress step as the breaking-point search records it: offered and achieved QPS, the client-side
// mutating P50/P99, errors; `broke` from the Critical levels of api.mutating.p99, api.readonly.p99 and
// api.error_rate.
load::StepRecord step_record(const LoadStats& stats, double offered_qps, const load::CriteriaView& criteria,
                             bool cancelled);

}  // namespace kp::drivers::api
