#pragma once

// The etcd phase's results, from what its stages measured (pure; tested without etcd):
//   etcd.write.p99 / etcd.read.p99   client latency from the intended send time (open loop), histogram
//                                    attached; the uncorrected service-time P99 is in the note. Stress: the
//                                    step at 100 % of capacity (or the series' first step) is what is judged.
//   etcd.write.throughput / etcd.read.throughput  successful requests per second of the judged stages
//   etcd.error_rate                  over every stage
//   etcd.fsync.p99, etcd.backend_commit.p99, etcd.has_leader  server, from /metrics
//   etcd.leader_changes              elections: every member's counter and the leader watch
//   (leader_watch.hpp),
//                                    the note says when each happened
//   etcd.members                     the cluster's size (MemberList): a single member never elects another
//   etcd.write.breaking_rate / etcd.read.breaking_rate  stress: the lowest step that broke; PhaseRun::stress
//                                    has every step
// Validity (load/validity.hpp, the one rule): a GeneratorAccount per series (writes, reads, mixed
// requests) over the stages the verdict judges (a stress search's other steps feed only the informational
// breaking rate, so their lateness cannot change a verdict: it is stated, not judged); the statements go to
// PhaseRun::notes. No etcd rate is judged by the shipped criteria, so a rate
// the server could not take is the server's result, never INVALID. A stage that stopped early (no request
// succeeded for failure_window: the server is gone) is INVALID with the reason.

#include <optional>
#include <string>
#include <vector>

#include "drivers/etcd/leader_watch.hpp"
#include "drivers/etcd/run_plan.hpp"
#include "drivers/etcd/server_metrics.hpp"
#include "drivers/etcd/settings.hpp"
#include "drivers/etcd/workload.hpp"
#include "engine/driver.hpp"
#include "load/criteria_view.hpp"
#include "load/validity.hpp"

namespace kp::drivers::etcd {

struct RunRecord {
  std::vector<StageResult> stages;         // steady stages and stress steps, in the order they ran
  std::vector<load::StressResult> stress;  // one per search
  std::optional<ServerDelta> server;
  std::string scrape_problem;
  // Leader elections from the watch and every member's counter (leader_watch.hpp); absent: only
  // server->leader_changes (the agent's single page).
  std::optional<LeaderJudgement> leader;
  std::optional<std::size_t> members;  // the cluster's size (MemberList), when it answered
};

engine::PhaseRun build_run(const RunRecord& record, const Settings& settings, const RunPlan& plan,
                           const load::CriteriaView& criteria);

// The generator's account of each series over the open-loop stages, in first-run order.
std::vector<load::GeneratorAccount> generator_accounts(const std::vector<const StageResult*>& stages,
                                                       const load::CriteriaView& criteria);
std::vector<load::GeneratorAccount> generator_accounts(const std::vector<StageResult>& stages,
                                                       const load::CriteriaView& criteria);

// One line per stage for progress and the agent: "write at 150/s for 10.00s; put 1500 ok, 0 errors, ...".
std::string describe_stage(const StageResult& stage);

}  // namespace kp::drivers::etcd
