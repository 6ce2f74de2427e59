#pragma once

// Leader elections during an etcd run, from two sources, both timestamped:
//   - the watch: Maintenance.Status of every member, polled every kLeaderPollInterval from before the first
//     stage until after the last. A raft term above every term seen before is an election; its time is the
//     first poll that saw it, and it happened after the poll before (both are kept). The leader comes from
//     Status `leader`; `header.member_id` says which member answered.
//   - the counters: etcd_server_leader_changes_seen_total on every member's /metrics, scraped before and
//     after. Each member counts the changes it saw, so the run's count is the largest member's delta, never
//     the sum (three members seeing one election is one election).
// The run's etcd.leader_changes is the larger of the two counts: a change the counters saw but the polls
// missed (a member that restarted loses its counter) still counts, and so does one the polls saw on a member
// whose page could not be read afterwards (the leader that was killed).
//
// Pure logic: the phase feeds it polls and scrapes; tests feed it made-up ones with a fake clock's times.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/units.hpp"
#include "drivers/etcd/client.hpp"
#include "engine/cancellation.hpp"

namespace kp::drivers::etcd {

// Often enough to time an election to the second; one Status call per member per poll is no load.
inline constexpr Duration kLeaderPollInterval = std::chrono::seconds(1);

// One member's answer to one poll.
struct MemberPoll {
  std::string target;
  Result<MemberStatus> status;
};

struct LeaderChange {
  WallTime at;             // the first poll that saw the new term
  WallTime previous_poll;  // the poll before it: the election happened in between
  std::uint64_t from = 0;  // the leader before (0: none was known)
  std::uint64_t to = 0;    // the new leader (0: still electing when seen; filled in by a later poll)
  std::uint64_t term = 0;
  std::string seen_by;  // the endpoint of the member that reported the new term first
};

// A member that stopped or started answering Status.
struct ReachabilityChange {
  WallTime at;
  std::string target;
  bool reachable = false;
  std::string error;  // why not, when not
};

class LeaderWatch {
 public:
  // One poll of every member at `at`, in time order. The first poll with an answer is the baseline.
  void observe(WallTime at, const std::vector<MemberPoll>& polls);

  std::uint64_t leader() const { return leader_; }  // 0: none seen yet
  std::uint64_t term() const { return term_; }
  // The endpoint whose member is the leader (its header.member_id), "" when the leader did not answer.
  const std::string& leader_target() const { return leader_target_; }
  const std::vector<LeaderChange>& changes() const { return changes_; }
  const std::vector<ReachabilityChange>& reachability() const { return reachability_; }
  std::size_t polls() const { return polls_; }
  std::optional<WallTime> first_poll() const { return first_; }
  std::optional<WallTime> last_poll() const { return last_; }

 private:
  std::uint64_t leader_ = 0;
  std::uint64_t term_ = 0;
  std::string leader_target_;
  bool baseline_ = false;
  std::vector<LeaderChange> changes_;
  std::vector<ReachabilityChange> reachability_;
  std::vector<std::pair<std::string, bool>> reachable_;  // per target, as last seen
  std::size_t polls_ = 0;
  std::optional<WallTime> first_;
  std::optional<WallTime> last_;
};

// Polls with `poll` every `interval` on `clock` (the first at once) and feeds `watch`, until `stop` is
// requested; then one last poll, so the watch ends with the state after the run. Bounded by `stop`: the
// phase requests it when its stages are over.
void run_leader_watch(Clock& clock, engine::CancellationToken& stop, Duration interval,
                      const std::function<std::vector<MemberPoll>()>& poll, LeaderWatch& watch);

// One member's etcd_server_leader_changes_seen_total around the run.
struct MemberCounter {
  std::string url;
  std::optional<double> before;
  std::optional<double> after;
  WallTime before_at;
  WallTime after_at;
  std::string problem;  // why a value is missing
};

struct LeaderJudgement {
  std::optional<double> changes;   // etcd.leader_changes; absent when neither source measured anything
  std::string note;                // the measurement's note: when, who, and each source's count
  std::vector<std::string> notes;  // for the phase's notes: the leader, each election, each member outage
};

// `cluster_size`: members from MemberList (absent when it failed); `interval`: the watch's poll interval.
LeaderJudgement judge_leader(const LeaderWatch& watch, const std::vector<MemberCounter>& counters,
                             std::optional<std::size_t> cluster_size, Duration interval);

// "2026-12-03T04:05:06.123Z".
std::string utc_text(WallTime time);
// A member id as etcd prints it: lower-case hex.
std::string member_text(std::uint64_t id);

}  // namespace kp::drivers::etcd
