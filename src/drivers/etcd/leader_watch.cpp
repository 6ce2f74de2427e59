#include "drivers/etcd/leader_watch.hpp"

#include <time.h>

#include <algorithm>

#include <fmt/format.h>

namespace kp::drivers::etcd {

std::string utc_text(WallTime time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
  const std::time_t whole = static_cast<std::time_t>(seconds.count());
  std::tm parts{};
  gmtime_r(&whole, &parts);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", parts.tm_year + 1900, parts.tm_mon + 1,
                     parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, millis);
}

std::string member_text(std::uint64_t id) {
  return fmt::format("{:x}", id);
}

void LeaderWatch::observe(WallTime at, const std::vector<MemberPoll>& polls) {
  const std::optional<WallTime> previous = last_;
  ++polls_;
  if (!first_) {
    first_ = at;
  }
  last_ = at;
  // The newest term any member reports, and the leader a member reports at that term.
  std::uint64_t term = 0;
  std::uint64_t leader = 0;
  std::string seen_by;
  for (const MemberPoll& poll : polls) {
    auto known = std::find_if(reachable_.begin(), reachable_.end(),
                              [&](const auto& each) { return each.first == poll.target; });
    const bool answered = poll.status.has_value();
    if (known == reachable_.end()) {
      reachable_.emplace_back(poll.target, answered);
      if (!answered) {
        reachability_.push_back(ReachabilityChange{at, poll.target, false, poll.status.error().message});
      }
    } else if (known->second != answered) {
      known->second = answered;
      reachability_.push_back(
          ReachabilityChange{at, poll.target, answered, answered ? "" : poll.status.error().message});
    }
    if (!answered) {
      continue;
    }
    const MemberStatus& status = *poll.status;
    if (status.raft_term > term || (status.raft_term == term && leader == 0 && status.leader != 0)) {
      if (status.raft_term > term) {
        seen_by = poll.target;
      }
      term = status.raft_term;
      leader = status.leader;
    }
  }
  if (term == 0) {
    return;  // nobody answered: nothing to compare
  }
  std::string leader_target;
  for (const MemberPoll& poll : polls) {
    if (poll.status && leader != 0 && poll.status->member_id == leader) {
      leader_target = poll.target;
    }
  }
  if (!baseline_) {
    baseline_ = true;
    term_ = term;
    leader_ = leader;
    leader_target_ = leader_target;
    return;
  }
  const bool newer = term > term_;
  if (newer) {
    changes_.push_back(LeaderChange{.at = at,
                                    .previous_poll = previous.value_or(at),
                                    .from = leader_,
                                    .to = leader,
                                    .term = term,
                                    .seen_by = seen_by});
  } else if (term == term_ && leader_ == 0 && leader != 0 && !changes_.empty() && changes_.back().to == 0) {
    changes_.back().to = leader;  // the election seen in progress has ended
  }
  if (newer || term == term_) {
    // A newer term without a leader yet (an election in progress) leaves no leader; at the same term a
    // member that knows none yet does not undo the one another member reported.
    if (newer || leader != 0) {
      leader_ = leader;
      leader_target_ = leader_target;
    }
    term_ = term;
  }
}

void run_leader_watch(Clock& clock, engine::CancellationToken& stop, Duration interval,
                      const std::function<std::vector<MemberPoll>()>& poll, LeaderWatch& watch) {
  TimePoint next = clock.now();
  while (true) {
    watch.observe(clock.wall_now(), poll());
    next += interval;
    if (stop.requested() || stop.wait_until(clock, next)) {
      break;
    }
  }
  watch.observe(clock.wall_now(), poll());
}

namespace {

std::string describe_change(const LeaderChange& change) {
  return fmt::format(
      "at {} (the poll before was at {}): leader {} -> {}, term {}, seen by {}", utc_text(change.at),
      utc_text(change.previous_poll), change.from == 0 ? std::string("none") : member_text(change.from),
      change.to == 0 ? std::string("none yet") : member_text(change.to), change.term, change.seen_by);
}

}  // namespace

LeaderJudgement judge_leader(const LeaderWatch& watch, const std::vector<MemberCounter>& counters,
                             std::optional<std::size_t> cluster_size, Duration interval) {
  LeaderJudgement judgement;

  // The counters: the largest delta over the members whose page was read both times.
  std::optional<double> counted;
  std::vector<std::string> per_member;
  std::optional<WallTime> window_begin;
  std::optional<WallTime> window_end;
  for (const MemberCounter& counter : counters) {
    if (counter.before && counter.after && *counter.after >= *counter.before) {
      const double delta = *counter.after - *counter.before;
      counted = std::max(counted.value_or(0), delta);
      per_member.push_back(fmt::format("{} +{:.0f}", counter.url, delta));
      window_begin = std::min(window_begin.value_or(counter.before_at), counter.before_at);
      window_end = std::max(window_end.value_or(counter.after_at), counter.after_at);
    } else if (counter.before && counter.after) {
      per_member.push_back(fmt::format("{} went down from {:.0f} to {:.0f} (a restarted member)", counter.url,
                                       *counter.before, *counter.after));
    } else {
      per_member.push_back(fmt::format("{} not read ({})", counter.url,
                                       counter.problem.empty() ? std::string("no page") : counter.problem));
    }
  }
  std::string counter_text = per_member.empty()
                                 ? std::string("no /metrics page read")
                                 : fmt::format("etcd_server_leader_changes_seen_total after minus before: {}",
                                               fmt::join(per_member, ", "));

  const std::size_t seen = watch.changes().size();
  const bool watched = watch.polls() > 0 && watch.term() != 0;
  std::string poll_text = watched ? fmt::format("{} polls of Maintenance Status every {} from {} to {}",
                                                watch.polls(), format_duration(interval),
                                                utc_text(*watch.first_poll()), utc_text(*watch.last_poll()))
                                  : std::string("Maintenance Status was not polled");
  if (!counted && !watched) {
    judgement.notes.push_back("etcd leader changes not measured: " + counter_text + "; " + poll_text);
    return judgement;
  }
  const double changes = std::max(counted.value_or(0), static_cast<double>(seen));
  judgement.changes = changes;

  std::vector<std::string> parts;
  if (seen > 0) {
    std::vector<std::string> each;
    for (const LeaderChange& change : watch.changes()) {
      each.push_back(describe_change(change));
    }
    parts.push_back(fmt::format("{} election{} {}", seen, seen == 1 ? "" : "s", fmt::join(each, "; ")));
  }
  if (counted && *counted > static_cast<double>(seen)) {
    // The counters saw an election the polls did not time (it came and went between two polls of the same
    // term, or before the first poll): its time is known only to within the scrapes.
    parts.push_back(fmt::format("{:.0f} election{} at an unknown time between {} and {}", *counted - seen,
                                *counted - seen == 1 ? "" : "s", utc_text(*window_begin),
                                utc_text(*window_end)));
  }
  if (changes == 0) {
    parts.push_back(watch.leader() == 0
                        ? std::string("no election seen")
                        : fmt::format("no election: leader {}{} throughout, term {}",
                                      member_text(watch.leader()),
                                      watch.leader_target().empty() ? "" : " (" + watch.leader_target() + ")",
                                      watch.term()));
  }
  if (cluster_size) {
    parts.push_back(fmt::format("{} member{}", *cluster_size, *cluster_size == 1 ? "" : "s"));
  }
  parts.push_back(counter_text);
  parts.push_back(poll_text);
  judgement.note = fmt::format("{}", fmt::join(parts, "; "));

  if (watch.leader() != 0) {
    judgement.notes.push_back(fmt::format(
        "etcd leader at the end: member {}{}, term {}", member_text(watch.leader()),
        watch.leader_target().empty() ? " (not among the endpoints)" : " at " + watch.leader_target(),
        watch.term()));
  }
  for (const LeaderChange& change : watch.changes()) {
    judgement.notes.push_back("etcd leader election " + describe_change(change));
  }
  for (const ReachabilityChange& change : watch.reachability()) {
    judgement.notes.push_back(
        change.reachable
            ? fmt::format("etcd {} answered Status again at {}", change.target, utc_text(change.at))
            : fmt::format("etcd {} stopped answering Status at {}: {}", change.target, utc_text(change.at),
                          change.error));
  }
  return judgement;
}

}  // namespace kp::drivers::etcd
