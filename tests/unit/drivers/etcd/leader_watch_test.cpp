#include "drivers/etcd/leader_watch.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace kp::drivers::etcd {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// 2026-12-03T04:00:00Z
const WallTime kStart = WallTime{} + std::chrono::seconds(1796270400);

MemberPoll answer(std::string target, std::uint64_t id, std::uint64_t leader, std::uint64_t term) {
  MemberStatus status;
  status.member_id = id;
  status.leader = leader;
  status.raft_term = term;
  return MemberPoll{std::move(target), status};
}

MemberPoll silent(std::string target) {
  return MemberPoll{std::move(target), fail(ErrorKind::network, "etcd " + target + ": Status: UNAVAILABLE")};
}

// Three members a (0xa), b (0xb), c (0xc); `leader` at `term` as every answering member sees it.
std::vector<MemberPoll> cluster(std::uint64_t leader, std::uint64_t term, bool a_answers = true) {
  std::vector<MemberPoll> polls;
  polls.push_back(a_answers ? answer("a:1", 0xa, leader, term) : silent("a:1"));
  polls.push_back(answer("b:1", 0xb, leader, term));
  polls.push_back(answer("c:1", 0xc, leader, term));
  return polls;
}

TEST(UtcText, MillisecondsAndZulu) {
  EXPECT_EQ(utc_text(kStart + std::chrono::milliseconds(6123)), "2026-12-03T04:00:06.123Z");
  EXPECT_EQ(member_text(0x8e9e05c52164694dULL), "8e9e05c52164694d");
}

TEST(LeaderWatch, SameLeaderAndTermIsNoChange) {
  LeaderWatch watch;
  for (int i = 0; i < 5; ++i) {
    watch.observe(kStart + seconds(i), cluster(0xa, 2));
  }
  EXPECT_TRUE(watch.changes().empty());
  EXPECT_EQ(watch.leader(), 0xaU);
  EXPECT_EQ(watch.leader_target(), "a:1");
  EXPECT_EQ(watch.term(), 2U);
  EXPECT_EQ(watch.polls(), 5U);
}

TEST(LeaderWatch, KilledLeaderIsAChangeTimedByThePollThatSawIt) {
  LeaderWatch watch;
  watch.observe(kStart, cluster(0xa, 2));
  watch.observe(kStart + seconds(1), cluster(0xa, 2));
  // a is gone; b and c elected b at term 3.
  watch.observe(kStart + seconds(2), cluster(0xb, 3, false));
  watch.observe(kStart + seconds(3), cluster(0xb, 3, false));
  ASSERT_EQ(watch.changes().size(), 1U);
  const LeaderChange& change = watch.changes().front();
  EXPECT_EQ(change.at, kStart + seconds(2));
  EXPECT_EQ(change.previous_poll, kStart + seconds(1));
  EXPECT_EQ(change.from, 0xaU);
  EXPECT_EQ(change.to, 0xbU);
  EXPECT_EQ(change.term, 3U);
  EXPECT_EQ(change.seen_by, "b:1");
  EXPECT_EQ(watch.leader_target(), "b:1");
  ASSERT_EQ(watch.reachability().size(), 1U);
  EXPECT_EQ(watch.reachability().front().target, "a:1");
  EXPECT_FALSE(watch.reachability().front().reachable);
  EXPECT_EQ(watch.reachability().front().at, kStart + seconds(2));
}

TEST(LeaderWatch, AnElectionSeenInProgressGetsItsLeaderLater) {
  LeaderWatch watch;
  watch.observe(kStart, cluster(0xa, 2));
  watch.observe(kStart + seconds(1), cluster(0, 3, false));  // term 3, no leader yet
  watch.observe(kStart + seconds(2), cluster(0xc, 3, false));
  ASSERT_EQ(watch.changes().size(), 1U);
  EXPECT_EQ(watch.changes().front().to, 0xcU);
  EXPECT_EQ(watch.changes().front().at, kStart + seconds(1));
  EXPECT_EQ(watch.leader(), 0xcU);
}

TEST(LeaderWatch, AStaleMemberDoesNotUndoAnElection) {
  LeaderWatch watch;
  watch.observe(kStart, cluster(0xa, 2));
  // c has not heard of term 3 yet; b has.
  watch.observe(kStart + seconds(1),
                {answer("a:1", 0xa, 0xa, 2), answer("b:1", 0xb, 0xb, 3), answer("c:1", 0xc, 0xa, 2)});
  watch.observe(kStart + seconds(2), cluster(0xb, 3));
  ASSERT_EQ(watch.changes().size(), 1U);
  EXPECT_EQ(watch.leader(), 0xbU);
}

TEST(LeaderWatch, NobodyAnsweringIsNoBaseline) {
  LeaderWatch watch;
  watch.observe(kStart, {silent("a:1")});
  EXPECT_EQ(watch.term(), 0U);
  watch.observe(kStart + seconds(1), {answer("a:1", 0xa, 0xa, 4)});
  EXPECT_TRUE(watch.changes().empty());  // the first answer is the baseline, not an election
  ASSERT_EQ(watch.reachability().size(), 2U);
  EXPECT_TRUE(watch.reachability().back().reachable);
}

TEST(RunLeaderWatch, PollsEveryIntervalOnTheClockAndOnceMoreAfterStop) {
  FakeClock clock;
  engine::CancellationToken stop;
  LeaderWatch watch;
  std::vector<WallTime> times;
  auto poll = [&] {
    times.push_back(clock.wall_now());
    if (times.size() == 3) {
      stop.request();
    }
    return cluster(0xa, 2);
  };
  const WallTime begin = clock.wall_now();
  run_leader_watch(clock, stop, seconds(1), poll, watch);
  // Three polls a second apart, then the last one at once when stopped.
  EXPECT_THAT(times, ElementsAre(begin, begin + seconds(1), begin + seconds(2), begin + seconds(2)));
  EXPECT_EQ(watch.polls(), 4U);
}

TEST(JudgeLeader, CountsTheLargestMemberDeltaNotTheSum) {
  LeaderWatch watch;
  watch.observe(kStart, cluster(0xa, 2));
  watch.observe(kStart + seconds(1), cluster(0xb, 3, false));
  std::vector<MemberCounter> counters = {
      {"http://a/metrics", 1, std::nullopt, kStart, kStart + seconds(5), "after the run: connection refused"},
      {"http://b/metrics", 1, 2, kStart, kStart + seconds(5), ""},
      {"http://c/metrics", 1, 2, kStart, kStart + seconds(5), ""},
  };
  LeaderJudgement judged = judge_leader(watch, counters, 3, seconds(1));
  ASSERT_TRUE(judged.changes);
  EXPECT_EQ(*judged.changes, 1);
  EXPECT_THAT(judged.note, HasSubstr("1 election at 2026-12-03T04:00:01.000Z (the poll before was at "
                                     "2026-12-03T04:00:00.000Z): leader a -> b, term 3, seen by b:1"));
  EXPECT_THAT(judged.note, HasSubstr("3 members"));
  EXPECT_THAT(judged.note, HasSubstr("http://a/metrics not read (after the run: connection refused), "
                                     "http://b/metrics +1, http://c/metrics +1"));
  EXPECT_THAT(judged.notes, ::testing::Contains(HasSubstr("etcd a:1 stopped answering Status at "
                                                          "2026-12-03T04:00:01.000Z")));
  EXPECT_THAT(judged.notes, ::testing::Contains("etcd leader at the end: member b at b:1, term 3"));
}

TEST(JudgeLeader, AnElectionOnlyTheCountersSawIsTimedToTheScrapes) {
  LeaderWatch watch;
  watch.observe(kStart, cluster(0xa, 2));
  watch.observe(kStart + seconds(1), cluster(0xa, 2));
  std::vector<MemberCounter> counters = {{"http://a/metrics", 4, 5, kStart, kStart + seconds(9), ""}};
  LeaderJudgement judged = judge_leader(watch, counters, 3, seconds(1));
  ASSERT_TRUE(judged.changes);
  EXPECT_EQ(*judged.changes, 1);
  EXPECT_THAT(judged.note, HasSubstr("1 election at an unknown time between 2026-12-03T04:00:00.000Z and "
                                     "2026-12-03T04:00:09.000Z"));
}

TEST(JudgeLeader, NoElectionSaysWhoLedAndForHowLong) {
  LeaderWatch watch;
  watch.observe(kStart, cluster(0xa, 2));
  watch.observe(kStart + seconds(20), cluster(0xa, 2));
  std::vector<MemberCounter> counters = {{"http://a/metrics", 1, 1, kStart, kStart + seconds(20), ""}};
  LeaderJudgement judged = judge_leader(watch, counters, 1, seconds(1));
  ASSERT_TRUE(judged.changes);
  EXPECT_EQ(*judged.changes, 0);
  EXPECT_THAT(judged.note, HasSubstr("no election: leader a (a:1) throughout, term 2; 1 member;"));
  EXPECT_THAT(judged.note,
              HasSubstr("2 polls of Maintenance Status every 1.00s from 2026-12-03T04:00:00.000Z to "
                        "2026-12-03T04:00:20.000Z"));
  EXPECT_THAT(judged.note, Not(HasSubstr("election at")));
}

TEST(JudgeLeader, NothingReadIsNotMeasured) {
  LeaderWatch watch;
  std::vector<MemberCounter> counters = {
      {"http://a/metrics", std::nullopt, std::nullopt, kStart, kStart, "connection refused"}};
  LeaderJudgement judged = judge_leader(watch, counters, std::nullopt, seconds(1));
  EXPECT_FALSE(judged.changes);
  ASSERT_EQ(judged.notes.size(), 1U);
  EXPECT_THAT(judged.notes.front(), HasSubstr("etcd leader changes not measured"));
}

}  // namespace
}  // namespace kp::drivers::etcd
