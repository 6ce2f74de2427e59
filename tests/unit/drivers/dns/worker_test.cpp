// The DNS load worker driven through its Io seam: a scripted server and a FakeClock, so schedule, lateness,
// timeouts, the in-flight window and loss are checked exactly, with no socket and no real time.

#include "drivers/dns/worker.hpp"

#include <map>
#include <stdexcept>

#include <gtest/gtest.h>

#include "drivers/dns/worker_io.hpp"
#include "load/validity.hpp"

namespace kp::drivers::dns {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

// What the scripted server does with the n-th query it receives (0-based): answer after a delay, or never.
using Script = std::function<std::optional<Duration>(std::uint64_t n)>;

// What the fake saw, shared with the test.
struct Seen {
  std::vector<TimePoint> sends;  // when each query went out, in order
  std::size_t max_in_flight = 0;
  int flushes = 0;
};

// A UDP server in the test: a query "goes out" at flush(), its answer (the query with QR set, NOERROR, one A
// record) arrives after the script's delay, which wait() reaches by moving the FakeClock.
class ScriptedIo final : public WorkerIo {
 public:
  ScriptedIo(FakeClock& clock, Script script, Seen& seen)
      : clock_(clock), script_(std::move(script)), seen_(seen) {}

  // After `at`, the worker's own loop is late by `by` once (its CPU was busy): the wake-up overshoots.
  void stall_after(TimePoint at, Duration by) {
    stall_at_ = at;
    stall_by_ = by;
  }
  void throw_on_flush(int n) { throw_on_flush_ = n; }
  // UDP answers come back with TC set (too large for a datagram): the worker asks again over TCP.
  void truncate_udp() { truncate_udp_ = true; }
  // The TCP connections close at `at`: the answers still to come on them never do.
  void close_tcp_at(TimePoint at) { close_tcp_at_ = at; }

  Result<std::uint32_t> open(Protocol protocol, TimePoint, IoEvents&) override {
    protocols_.push_back(protocol);
    return channels_++;
  }
  bool usable(std::uint32_t, TimePoint, IoEvents&) override { return true; }
  bool queue(std::uint32_t channel, const OutgoingQuery& query) override {
    if (protocols_[channel] == Protocol::tcp) {
      // Handed to the connection: on the wire now, answered like a datagram.
      seen_.sends.push_back(clock_.now());
      answer(channel, query, clock_.now());
      return true;
    }
    pending_.push_back({channel, query});
    return false;
  }
  void flush(TimePoint now, IoEvents& events) override {
    if (++seen_.flushes == throw_on_flush_) {
      throw std::runtime_error("the scripted socket broke");
    }
    for (const auto& [channel, query] : pending_) {
      events.sent(query.slot, now);
      seen_.sends.push_back(now);
      answer(channel, query, now);
    }
    seen_.max_in_flight = std::max(seen_.max_in_flight, in_flight_);
    pending_.clear();
  }
  void wait(TimePoint now, TimePoint wake, IoEvents& events) override {
    if (close_tcp_at_ && wake >= *close_tcp_at_) {
      clock_.sleep_until(*close_tcp_at_);
      close_tcp_at_.reset();
      for (std::uint32_t channel = 0; channel < channels_; ++channel) {
        if (protocols_[channel] == Protocol::tcp) {
          std::erase_if(answers_, [&](const auto& entry) { return entry.second.first == channel; });
          events.channel_failed(channel, clock_.now(), "TCP connection closed by the server");
        }
      }
      return;
    }
    if (stall_at_ && now >= *stall_at_) {
      stall_at_.reset();
      clock_.sleep_until(std::max(now, wake) + stall_by_);
      return;
    }
    if (!answers_.empty() && answers_.begin()->first <= wake) {
      const TimePoint at = answers_.begin()->first;
      clock_.sleep_until(at);
      while (!answers_.empty() && answers_.begin()->first == at) {
        auto [channel, bytes] = std::move(answers_.begin()->second);
        answers_.erase(answers_.begin());
        --in_flight_;
        events.message(channel, bytes, clock_.now());
      }
      return;
    }
    clock_.sleep_until(wake);
  }
  int receive_buffer() const override { return 0; }
  void close() override {}

 private:
  // The query with QR set, NOERROR and one A record, after the script's delay (or never).
  void answer(std::uint32_t channel, const OutgoingQuery& query, TimePoint now) {
    std::vector<std::uint8_t> answer(query.id.begin(), query.id.end());
    answer.insert(answer.end(), query.rest.begin(), query.rest.end());
    const bool truncated = truncate_udp_ && protocols_[channel] == Protocol::udp;
    answer[2] = static_cast<std::uint8_t>(0x80 | (answer[2] & 0x01) | (truncated ? 0x02 : 0));  // QR, RD, TC
    answer[3] = 0x80;                                                                           // RA, NOERROR
    write_u16(answer.data() + 6, 1);
    for (int byte : {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1}) {
      answer.push_back(static_cast<std::uint8_t>(byte));
    }
    if (std::optional<Duration> delay = script_(received_++)) {
      answers_.emplace(now + *delay, std::pair{channel, std::move(answer)});
    }
    ++in_flight_;
  }

  FakeClock& clock_;
  Script script_;
  Seen& seen_;
  std::uint32_t channels_ = 0;
  std::vector<std::pair<std::uint32_t, OutgoingQuery>> pending_;
  std::multimap<TimePoint, std::pair<std::uint32_t, std::vector<std::uint8_t>>> answers_;
  std::uint64_t received_ = 0;
  std::size_t in_flight_ = 0;  // sent, answer scheduled or never coming (lost ones stay counted)
  std::optional<TimePoint> stall_at_;
  Duration stall_by_{0};
  int throw_on_flush_ = 0;
  bool truncate_udp_ = false;
  std::optional<TimePoint> close_tcp_at_;
  std::vector<Protocol> protocols_;
};

Workload one_query() {
  return *build_workload({{"a.example", type::a}}, std::nullopt, {});
}

LoadOptions open_loop(double rate, Duration duration) {
  LoadOptions options;
  options.server = *parse_server("127.0.0.1:5353");
  options.rate = Rate{rate};
  options.duration = duration;
  options.clients = 1;
  options.threads = 1;
  options.timeout = milliseconds(50);
  options.failure_window = std::chrono::seconds(5);
  return options;
}

struct Outcome {
  Result<LoadResult> result;
  Seen seen;
  TimePoint began;
};

Outcome run(const LoadOptions& options, Script script,
            const std::function<void(ScriptedIo&, TimePoint)>& setup = {}) {
  FakeClock clock;
  engine::CancellationToken cancel;
  Outcome out{.result = LoadResult{}, .seen = {}, .began = clock.now()};
  IoFactory io = [&](const Workload&, const LoadOptions&, int, Clock&) {
    auto fake = std::make_unique<ScriptedIo>(clock, script, out.seen);
    if (setup) {
      setup(*fake, out.began);
    }
    return fake;
  };
  out.result = run_load_with(one_query(), options, clock, cancel, io);
  return out;
}

double ms(std::int64_t ns) {
  return double(ns) / 1e6;
}

TEST(DnsWorker, OpenLoopSendsOnItsScheduleAndTimesFromTheIntendedSend) {
  Outcome r = run(open_loop(1000, milliseconds(100)), [](std::uint64_t) { return milliseconds(2); });
  ASSERT_TRUE(r.result) << r.result.error().message;
  const LoadResult& load = *r.result;
  EXPECT_EQ(load.counters.sent, 100u);
  EXPECT_EQ(load.counters.responses, 100u);
  EXPECT_EQ(load.counters.rcodes[0], 100u);
  EXPECT_EQ(load.counters.lookups_answered, 100u);
  ASSERT_EQ(r.seen.sends.size(), 100u);
  // Every send exactly on its intended time: 1 ms apart from the common start (after the pool's head start).
  for (std::size_t i = 1; i < r.seen.sends.size(); ++i) {
    EXPECT_EQ(r.seen.sends[i] - r.seen.sends[i - 1], milliseconds(1)) << i;
  }
  EXPECT_EQ(load.query_latency.corrected.count(), 100u);
  EXPECT_NEAR(ms(load.query_latency.corrected.max()), 2.0, 0.01);
  EXPECT_EQ(load.own_lateness.count(), 100u);
  EXPECT_EQ(load.own_lateness.max(), 0);
  EXPECT_EQ(load.queued_for_server, 0u);
  EXPECT_EQ(load.unsent_due, 0u);
  EXPECT_EQ(load.send_elapsed, milliseconds(100));
  EXPECT_DOUBLE_EQ(load.achieved_share(), 1.0);
}

TEST(DnsWorker, UnansweredQueriesAreLostAtTheirTimeout) {
  // Every tenth query is never answered: lost at 50 ms, counted in the corrected latency at that timeout.
  Outcome r = run(open_loop(1000, milliseconds(100)), [](std::uint64_t n) -> std::optional<Duration> {
    return n % 10 == 0 ? std::nullopt : std::optional<Duration>(milliseconds(1));
  });
  ASSERT_TRUE(r.result);
  const Counters& c = r.result->counters;
  EXPECT_EQ(c.sent, 100u);
  EXPECT_EQ(c.responses, 90u);
  EXPECT_EQ(c.lost, 10u);
  EXPECT_EQ(c.lookups_lost, 10u);
  EXPECT_EQ(r.result->query_latency.corrected.count(), 100u);
  EXPECT_NEAR(ms(r.result->query_latency.corrected.max()), 50.0, 0.1);
  EXPECT_EQ(r.result->query_latency.uncorrected.count(), 90u);  // responses only
  // The run lasts until the last timeout: 50 ms after the last lost query went out.
  EXPECT_GE(r.result->elapsed, milliseconds(100));
}

TEST(DnsWorker, AFullWindowIsTheServersLatencyNotTheGeneratorsLateness) {
  // Four slots, answers after 10 ms: the server takes 400/s of the 1000/s due. The lookups that waited for a
  // slot are queued for the server; the generator itself was never late.
  LoadOptions options = open_loop(1000, milliseconds(100));
  options.outstanding = 4;
  Outcome r = run(options, [](std::uint64_t) { return milliseconds(10); });
  ASSERT_TRUE(r.result);
  const LoadResult& load = *r.result;
  EXPECT_EQ(r.seen.max_in_flight, 4u);
  EXPECT_GT(load.counters.window_full, 0u);
  EXPECT_GT(load.queued_for_server, 0u);
  EXPECT_GT(load.unsent_due, 0u);
  EXPECT_EQ(load.unsent_for_server, load.unsent_due);
  EXPECT_EQ(load.own_lateness.max(), 0);
  EXPECT_EQ(load.counters.lookups_started + load.unsent_due, 100u);  // everything due is accounted for
  // Waiting for a slot is latency from the intended time: far above the 10 ms service time.
  EXPECT_GT(ms(load.query_latency.corrected.max()), 50.0);
  EXPECT_NEAR(ms(load.query_latency.uncorrected.max()), 10.0, 0.01);
  // And the one validity rule does not call it INVALID.
  load::GeneratorAccount account;
  account.due = load.counters.lookups_started + load.unsent_due;
  account.sent = load.counters.lookups_started;
  account.unsent_for_server = load.unsent_for_server;
  account.queued_for_server = load.queued_for_server;
  account.own_lateness = load.own_lateness;
  account.rate_judged = true;
  EXPECT_TRUE(load::judge_validity(account, 0.010).valid());
}

TEST(DnsWorker, ALateEventLoopIsTheGeneratorsOwnLateness) {
  // 40 ms in, the worker's loop wakes 5 ms late once: the lookups due meanwhile go out late, by up to 5 ms.
  Outcome r = run(
      open_loop(1000, milliseconds(100)), [](std::uint64_t) { return milliseconds(1); },
      [](ScriptedIo& io, TimePoint began) { io.stall_after(began + milliseconds(40), milliseconds(5)); });
  ASSERT_TRUE(r.result);
  const LoadResult& load = *r.result;
  EXPECT_EQ(load.counters.sent, 100u);
  EXPECT_EQ(load.queued_for_server, 0u);
  EXPECT_NEAR(ms(load.own_lateness.max()), 5.0, 1.01);
  EXPECT_GE(ms(load.own_lateness.max()), 4.0);
  EXPECT_GT(load.own_lateness.value_at_percentile(99), 0);
  EXPECT_GT(load.pacer.max_lag, milliseconds(4));
}

TEST(DnsWorker, MaxModeKeepsItsWindowFull) {
  LoadOptions options = open_loop(1, milliseconds(100));
  options.rate.reset();
  options.outstanding = 8;
  options.total = 200;
  options.duration = std::chrono::seconds(10);
  Outcome r = run(options, [](std::uint64_t) { return milliseconds(1); });
  ASSERT_TRUE(r.result);
  EXPECT_EQ(r.result->counters.lookups_started, 200u);
  EXPECT_EQ(r.result->counters.responses, 200u);
  EXPECT_EQ(r.seen.max_in_flight, 8u);
  EXPECT_EQ(r.result->own_lateness.count(), 0u);  // nothing is due in closed loop, so nothing is late
  EXPECT_EQ(r.result->queued_for_server, 0u);
  // 200 lookups, 8 at a time, 1 ms each: 25 ms.
  EXPECT_EQ(r.result->elapsed, milliseconds(25));
}

TEST(DnsWorker, ASilentServerEndsTheRunAfterTheFailureWindow) {
  LoadOptions options = open_loop(100, std::chrono::seconds(60));
  options.failure_window = milliseconds(200);
  Outcome r = run(options, [](std::uint64_t) { return std::nullopt; });
  ASSERT_TRUE(r.result);
  EXPECT_NE(r.result->stopped_early.find("no response from 127.0.0.1:5353 for 200.00ms"), std::string::npos)
      << r.result->stopped_early;
  EXPECT_LT(r.result->send_elapsed, milliseconds(400));
  EXPECT_EQ(r.result->counters.responses, 0u);
  EXPECT_EQ(r.result->counters.lost, r.result->counters.sent);
}

TEST(DnsWorker, TruncatedAnswersAreAskedAgainOverTcpFromTheOriginalIntendedTime) {
  Outcome r = run(
      open_loop(1000, milliseconds(10)), [](std::uint64_t) { return milliseconds(1); },
      [](ScriptedIo& io, TimePoint) { io.truncate_udp(); });
  ASSERT_TRUE(r.result) << r.result.error().message;
  const Counters& c = r.result->counters;
  EXPECT_EQ(c.lookups_started, 10u);
  EXPECT_EQ(c.truncated, 10u);
  EXPECT_EQ(c.tcp_retries, 10u);
  EXPECT_EQ(c.sent, 20u);  // each lookup: a datagram, then the same query over TCP
  EXPECT_EQ(c.responses, 10u);
  EXPECT_EQ(c.lookups_answered, 10u);
  // The TCP answer is timed from the datagram's intended send: 1 ms there, 1 ms over TCP.
  EXPECT_NEAR(ms(r.result->query_latency.corrected.max()), 2.0, 0.01);
}

TEST(DnsWorker, AClosedTcpConnectionFailsItsQueriesInFlight) {
  LoadOptions options = open_loop(1000, milliseconds(20));
  options.protocol = Protocol::tcp;
  Outcome r = run(
      options, [](std::uint64_t) { return milliseconds(5); },
      [](ScriptedIo& io, TimePoint began) { io.close_tcp_at(began + milliseconds(12)); });
  ASSERT_TRUE(r.result) << r.result.error().message;
  const Counters& c = r.result->counters;
  EXPECT_EQ(c.sent, 20u);
  // The connection closed 10 ms after the first send (after the pool's 2 ms head start): the five queries
  // sent in the 5 ms before it never get their answer; the rest go out on the reopened connection.
  EXPECT_EQ(c.connection_lost, 5u);
  EXPECT_EQ(c.lookups_failed, 5u);
  EXPECT_EQ(c.responses, 15u);
  EXPECT_EQ(r.result->first_error, "TCP connection closed by the server");
}

TEST(DnsWorker, AThrowingWorkerIsAPhaseErrorNotACrash) {
  LoadOptions options = open_loop(1000, milliseconds(100));
  options.clients = 2;
  options.threads = 2;
  FakeClock clock;
  engine::CancellationToken cancel;
  Seen seen[2];
  IoFactory io = [&](const Workload&, const LoadOptions&, int worker, Clock&) {
    auto fake = std::make_unique<ScriptedIo>(
        clock, [](std::uint64_t) { return milliseconds(1); }, seen[worker]);
    if (worker == 1) {
      fake->throw_on_flush(1);
    }
    return fake;
  };
  Result<LoadResult> result = run_load_with(one_query(), options, clock, cancel, io);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_EQ(result.error().message, "worker 2 of 2 failed: the scripted socket broke");
}

}  // namespace
}  // namespace kp::drivers::dns
