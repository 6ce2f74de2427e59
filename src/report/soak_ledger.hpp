#pragma once

// The soak's bookkeeping across rounds (docs/soak.md), pure logic on the durations it is given:
// - latency hour by hour: each finished phase's histograms merge into the hour of the soak its run started in
//   (exact merges: a P99 of an hour is the P99 of every request of that hour, never an average of P99s). Only
//   the current hour's histograms stay in full (264 KiB each); a past hour keeps its compact JSON and
//   figures, so a day's soak stays small;
// - per phase, the round the report shows: the worst verdict of the rounds that ran it (a SKIPPED round ranks
//   below any measured one: not running says nothing), the latest of equals;
// - etcd.leader_changes added up over the rounds, with the notes of the rounds that saw an election;
// - the etcd time, which is the checklist's soak;
// - the load profile's factor of each round (its changes) and of each hour (the factors its runs ran at).
// A resumed soak starts from the record and phases its last checkpoint wrote. Not thread-safe: the caller
// locks.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/criteria.hpp"
#include "config/plan.hpp"
#include "core/histogram.hpp"
#include "engine/orchestrator.hpp"
#include "eval/evaluation.hpp"
#include "report/soak_record.hpp"

namespace kp::report {

class SoakLedger {
 public:
  SoakLedger(std::vector<config::CriteriaRow> rows, config::TestType type);

  // A resumed soak: the last checkpoint's record (hours, rounds, etcd time) and shown phases (their inputs
  // as read back; phases in progress or not started then are ignored).
  void resume_from(const SoakRecord& record, const std::vector<eval::PhaseInput>& shown);

  // A round began `at` into the soak, its phases' loads scaled by the load profile's `factor` (1 without
  // one).
  void round_started(int round_number, Duration at, double factor);

  // A phase of the current round finished; its run started `started_at` into the soak.
  void phase_finished(const std::vector<Measurement>& measurements, Duration started_at);

  // A round ended: its phases compete for the shown round, its etcd time and elections add up.
  void round_finished(const engine::RunResult& round, int round_number);

  // The phases to report, one per phase in flow order: the shown rounds so far, with `current` (a
  // checkpoint of the round running) competing as round `current_round`; etcd.leader_changes the soak's
  // total. `timings` receives the shown rounds' phase times.
  std::vector<eval::PhaseInput> inputs(const engine::RunResult* current, int current_round,
                                       std::map<Phase, engine::PhaseTiming>& timings) const;
  // The elections the soak's own leader watch saw over the whole soak (cli/soak_watches.hpp), each with its
  // note. etcd.leader_changes is the larger of this and the rounds' own counts: the watch also sees an
  // election while another phase runs, a phase's counters one the watch's polls missed.
  void watched_elections(std::size_t count, std::vector<std::string> notes);

  // The etcd time so far, with `current`'s.
  Duration etcd_watched(const engine::RunResult* current) const;
  // The hours so far, and the rounds bookkeeping; the caller fills in the rest of the record.
  std::vector<SoakHour> hours() const;
  // Each change of the rounds' load factor so far, from the first round on.
  const std::vector<SoakFactor>& factors() const { return factors_; }
  std::vector<SoakPhaseRounds> phase_rounds(const engine::RunResult* current, int current_round) const;

 private:
  struct Cell {
    std::optional<Histogram> open;  // the current hour's, in full
    SoakHour closed;                // a past hour's (closed.histogram set)
    std::vector<double> factors;    // the load factors its runs ran at, ascending
  };
  struct Shown {
    eval::PhaseInput input;
    std::optional<engine::PhaseTiming> timing;
    int round = 0;
    int rank = -1;
  };
  int rank_of(const eval::PhaseInput& input) const;
  void offer(std::map<Phase, Shown>& shown, const eval::PhaseInput& input,
             std::optional<engine::PhaseTiming> timing, int round) const;
  void close_before(int hour);

  std::vector<config::CriteriaRow> rows_;
  config::TestType type_;
  std::map<std::pair<int, std::string>, Cell> cells_;
  std::map<Phase, Shown> shown_;
  std::map<Phase, int> runs_;
  Duration etcd_watched_{0};
  double leader_changes_ = 0;
  std::vector<std::string> leader_notes_;  // of the rounds that saw an election
  std::size_t watched_changes_ = 0;
  std::vector<std::string> watched_notes_;
  std::vector<SoakFactor> factors_;
  double factor_ = 1.0;  // the current round's
};

// One hour's figures from its histogram (nanoseconds -> seconds).
SoakHour soak_hour(int hour, std::string metric, const Histogram& histogram);

}  // namespace kp::report
