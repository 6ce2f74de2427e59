// The load worker's time logic (RequestFlow) driven by a FakeClock and a simulated server, the way the epoll
// worker drives it: every tick, report the responses that came in, then dispatch what is due. Schedule,
// lateness, queueing for a connection, timeouts and the stop are tested without a socket.

#include "drivers/ingress/request_flow.hpp"

#include <functional>

#include <gtest/gtest.h>

#include "drivers/ingress/measurements.hpp"

namespace kp::drivers::ingress {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::int64_t ms_ns(std::int64_t ms) {
  return ms * 1'000'000;
}

// A server behind `slots` connections: a request sent at t is answered at answer(t) (TimePoint::max():
// never). The clock starts where every FakeClock starts, so a test's own FakeClock gives it the start time.
class Simulation {
 public:
  Simulation(FlowOptions options, std::function<TimePoint(TimePoint)> answer)
      : answer_(std::move(answer)), answers_(options.slots, TimePoint::max()) {
    options.start = clock_.now();
    options.first_intended = clock_.now();
    flow_.emplace(options, result_, nullptr);
    for (std::size_t slot = 0; slot < options.slots; ++slot) {
      flow_->ready(slot);
    }
  }

  FakeClock& clock() { return clock_; }
  RequestFlow& flow() { return *flow_; }
  LoadResult& result() { return result_; }

  // One turn of the event loop at the clock's time: responses in, then dispatch.
  void turn() {
    const TimePoint now = clock_.now();
    for (std::size_t slot = 0; slot < answers_.size(); ++slot) {
      if (answers_[slot] <= now && flow_->has_request(slot)) {
        answers_[slot] = TimePoint::max();
        flow_->completed(slot, now, 200);
        flow_->ready(slot);
      }
    }
    flow_->dispatch(now, [&](std::size_t slot) {
      flow_->sending(slot, now);
      flow_->written(slot, now);
      answers_[slot] = answer_(now);
    });
  }

  // Turns every `tick` until `until`, then stops sending and drains (responses up to `drain` later).
  void run(TimePoint until, Duration tick, Duration drain = seconds(10)) {
    while (clock_.now() < until) {
      turn();
      clock_.advance(tick);
    }
    flow_->stop_sending(clock_.now());
    const TimePoint drain_end = clock_.now() + drain;
    while (flow_->inflight() > 0 && clock_.now() < drain_end) {
      turn();
      clock_.advance(tick);
    }
    flow_->finish();
  }

 private:
  FakeClock clock_;
  std::function<TimePoint(TimePoint)> answer_;
  std::vector<TimePoint> answers_;
  LoadResult result_;
  std::optional<RequestFlow> flow_;
};

FlowOptions open_loop(double rate, std::size_t slots, TimePoint end) {
  return FlowOptions{.slots = slots,
                     .rate = Rate{rate},
                     .arrival = Arrival::constant,
                     .start = {},
                     .first_intended = {},
                     .end = end,
                     .budget = std::nullopt,
                     .timeout = seconds(5),
                     .late_tolerance = milliseconds(1),
                     .seed = 1,
                     .max_pending = 1 << 20};
}

TEST(RequestFlow, OpenLoopSendsOnScheduleWithNoLatenessWhenTheLoopKeepsUp) {
  FakeClock probe;
  const TimePoint t0 = probe.now();
  Simulation sim(open_loop(1000, 4, t0 + seconds(1)), [](TimePoint sent) { return sent + milliseconds(1); });
  sim.run(t0 + seconds(1), milliseconds(1));
  const LoadResult& r = sim.result();
  EXPECT_EQ(r.issued, 1000u);  // exactly rate x window
  EXPECT_EQ(r.dispatched, 1000u);
  EXPECT_EQ(r.responses, 1000u);
  EXPECT_EQ(r.queued, 0u);
  EXPECT_EQ(r.unsent, 0u);
  EXPECT_EQ(r.own_lateness.count(), 1000u);
  EXPECT_EQ(r.own_lateness.max(), 0);
  EXPECT_EQ(r.latency.max(), ms_ns(1));  // from the intended time: no wait
  EXPECT_EQ(r.window, seconds(1));
}

// The event loop woke 5 ms late with every connection free: the five sends due meanwhile are the
// generator's own lateness (5, 4, 3, 2, 1 ms), and their latency counts from the intended times.
TEST(RequestFlow, ALateWakeUpWithFreeConnectionsIsTheGeneratorsOwnLateness) {
  FakeClock probe;
  const TimePoint t0 = probe.now();
  Simulation sim(open_loop(1000, 8, t0 + seconds(1)), [](TimePoint sent) { return sent; });
  sim.turn();  // t0: the first send
  sim.clock().advance(milliseconds(6));
  sim.turn();  // t0 + 6 ms: intended 1..6 ms are due at once
  sim.flow().finish();
  const LoadResult& r = sim.result();
  EXPECT_EQ(r.dispatched, 7u);
  EXPECT_EQ(r.queued, 0u);
  EXPECT_EQ(r.own_lateness.count(), 7u);
  EXPECT_EQ(r.own_lateness.max(), ms_ns(5));
  EXPECT_EQ(r.pacer.late_sends, 4u);  // beyond the 1 ms tolerance: 5, 4, 3, 2 ms
}

// Every connection busy with a slow server: intended times queue with their original times. Their wait is
// the server's latency (the corrected figures count it), never the generator's lateness.
TEST(RequestFlow, SendsThatWaitForABusyConnectionAreQueuedForTheServer) {
  FakeClock probe;
  const TimePoint t0 = probe.now();
  // 2 connections, 100 ms per request: the server takes 20/s of the 100/s offered.
  Simulation sim(open_loop(100, 2, t0 + seconds(1)), [](TimePoint sent) { return sent + milliseconds(100); });
  sim.run(t0 + seconds(1), milliseconds(1), seconds(0));
  const LoadResult& r = sim.result();
  EXPECT_EQ(r.issued, 100u);
  EXPECT_GT(r.queued, 70u);
  // Every send is either the generator's (found a free connection) or the server's (waited).
  EXPECT_EQ(r.own_lateness.count() + (r.queued - r.unsent_for_server), r.dispatched);
  EXPECT_EQ(r.own_lateness.max(), 0);
  EXPECT_EQ(r.unsent, r.unsent_for_server);  // still waiting at the end: the server's
  EXPECT_EQ(r.unsent_own, 0u);
  EXPECT_EQ(r.dispatched + r.unsent, r.issued);
  EXPECT_GT(r.latency.max(), ms_ns(500));  // corrected: the wait in the queue shows
  EXPECT_LE(r.uncorrected.max(), ms_ns(100));
  EXPECT_TRUE(judge_run(r, "requests", "ingress.rps", load::CriteriaView({})).valid());
}

// The generator's own loop never got to the sends due in the second half: that shortfall is its own.
TEST(RequestFlow, DueSendsTheLoopNeverGotToAreTheGeneratorsShortfall) {
  FakeClock probe;
  const TimePoint t0 = probe.now();
  Simulation sim(open_loop(1000, 4, t0 + seconds(1)), [](TimePoint sent) { return sent; });
  while (sim.clock().now() < t0 + milliseconds(500)) {
    sim.turn();
    sim.clock().advance(milliseconds(1));
  }
  sim.clock().advance(milliseconds(500));  // the loop stalls to the end of the window
  sim.flow().stop_sending(sim.clock().now());
  sim.flow().finish();
  const LoadResult& r = sim.result();
  EXPECT_EQ(r.issued, 1000u);
  EXPECT_EQ(r.dispatched, 500u);
  EXPECT_EQ(r.unsent_own, 500u);
  EXPECT_EQ(r.unsent_for_server, 0u);
  load::Validity validity = judge_run(r, "requests", "ingress.rps", load::CriteriaView({}));
  ASSERT_EQ(validity.invalid_reasons.size(), 1u);
  EXPECT_NE(validity.invalid_reasons[0].find("sent only 50.00 %"), std::string::npos)
      << validity.invalid_reasons[0];
}

TEST(RequestFlow, ARequestWithoutAResponseExpiresAtItsTimeout) {
  FakeClock probe;
  const TimePoint t0 = probe.now();
  FlowOptions options = open_loop(1000, 1, t0 + seconds(10));
  options.timeout = milliseconds(50);
  Simulation sim(options, [](TimePoint) { return TimePoint::max(); });  // never answers
  sim.turn();
  EXPECT_EQ(sim.flow().inflight(), 1u);
  sim.clock().advance(milliseconds(49));
  EXPECT_TRUE(sim.flow().expired(sim.clock().now()).empty());
  sim.clock().advance(milliseconds(1));
  EXPECT_EQ(sim.flow().expired(sim.clock().now()), std::vector<std::size_t>{0});
  // The worker drops it (counting the timeout); the slot is free again. The intended times that waited
  // meanwhile are older than the timeout: they time out in the queue, unsent, the server's.
  sim.flow().dropped(0);
  sim.flow().ready(0);
  sim.clock().advance(milliseconds(10));
  sim.turn();
  const LoadResult& r = sim.result();
  EXPECT_GE(r.timeouts, 9u);  // intended at 1..9 ms waited more than 50 ms
  EXPECT_EQ(r.unsent_for_server, r.timeouts);
  EXPECT_EQ(sim.flow().inflight(), 1u);  // a later one went out on the freed connection
}

TEST(RequestFlow, ClosedLoopSendsItsBudgetAsConnectionsFree) {
  FakeClock probe;
  FlowOptions options{.slots = 2,
                      .rate = std::nullopt,
                      .arrival = Arrival::constant,
                      .start = {},
                      .first_intended = {},
                      .end = TimePoint::max(),
                      .budget = 10,
                      .timeout = seconds(5),
                      .late_tolerance = milliseconds(1),
                      .seed = 1,
                      .max_pending = 16};
  Simulation sim(options, [](TimePoint sent) { return sent + milliseconds(3); });
  while (!sim.flow().done_sending()) {
    sim.turn();
    sim.clock().advance(milliseconds(1));
  }
  sim.run(sim.clock().now(), milliseconds(1));
  const LoadResult& r = sim.result();
  EXPECT_EQ(r.requests_sent, 10u);
  EXPECT_EQ(r.responses, 10u);
  EXPECT_FALSE(r.open_loop);
  EXPECT_EQ(r.latency.max(), ms_ns(3));  // closed loop: the service time
}

// The held-out check, simulated: a server that stalls 1 s every 5 s, 200 req/s on 16 connections. The
// stall shows in the corrected latency; the sends that waited for a connection are the server's, so the run
// is valid.
TEST(RequestFlow, AServerThatStallsOneSecondInFiveIsNotTheGeneratorsFault) {
  FakeClock probe;
  const TimePoint t0 = probe.now();
  auto answer = [t0](TimePoint sent) {
    const Duration phase = (sent - t0) % seconds(5);
    if (phase >= seconds(1) && phase < seconds(2)) {
      return sent + (seconds(2) - phase) + milliseconds(1);  // held until the stall ends
    }
    return sent + milliseconds(1);
  };
  Simulation sim(open_loop(200, 16, t0 + seconds(10)), answer);
  sim.run(t0 + seconds(10), milliseconds(1));
  const LoadResult& r = sim.result();
  EXPECT_EQ(r.issued, 2000u);
  EXPECT_EQ(r.responses, 2000u);
  EXPECT_GT(r.queued, 300u);  // most of each stall's 200 sends found every connection busy
  EXPECT_EQ(r.own_lateness.max(), 0);
  EXPECT_GE(r.latency.value_at_percentile(99), ms_ns(900));
  EXPECT_LE(r.latency.value_at_percentile(50), ms_ns(2));
  load::Validity validity = judge_run(r, "requests", "ingress.rps", load::CriteriaView({}));
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
  EXPECT_NE(validity.statement.find("queued for a connection"), std::string::npos) << validity.statement;
}

}  // namespace
}  // namespace kp::drivers::ingress
