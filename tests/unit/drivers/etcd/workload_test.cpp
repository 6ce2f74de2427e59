// The etcd load loop driven through its transport seam on a FakeClock: no etcd, no sleeps. A fake server
// completes each call a set latency after it started; the clock moves only when the worker waits.

#include "drivers/etcd/workload.hpp"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <stdexcept>

#include "drivers/etcd/results.hpp"
#include "drivers/etcd/stress.hpp"

namespace kp::drivers::etcd {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// What every fake transport of a test shares: how the server behaves, and what it saw.
struct FakeServer {
  explicit FakeServer(FakeClock& on) : clock(on) {}
  FakeClock& clock;
  std::function<Duration()> latency = [] { return Duration(milliseconds(1)); };
  std::optional<std::uint64_t> throw_at;  // the call (counted over all workers) whose start throws
  std::mutex mutex;
  std::uint64_t started = 0;
  std::uint64_t waits = 0;  // next() calls: each is a system call or more in the gRPC transport
};

class FakeTransport final : public KvTransport {
 public:
  FakeTransport(FakeServer& server, std::size_t slots) : server_(server), done_at_(slots) {}

  void start(std::size_t slot, bool /*is_range*/, std::string_view /*key*/, Duration /*timeout*/) override {
    Duration latency{0};
    {
      std::lock_guard lock(server_.mutex);
      if (server_.throw_at && server_.started == *server_.throw_at) {
        throw std::runtime_error("injected: the transport failed");
      }
      ++server_.started;
      latency = server_.latency();
    }
    done_at_.at(slot) = server_.clock.now() + latency;
  }

  // The earliest call that completes within `wait` completes, the clock moving to its time; else the clock
  // moves by `wait`.
  std::optional<Completion> next(Duration wait) override {
    {
      std::lock_guard lock(server_.mutex);
      ++server_.waits;
    }
    const TimePoint now = server_.clock.now();
    std::optional<std::size_t> first;
    for (std::size_t i = 0; i < done_at_.size(); ++i) {
      if (done_at_[i] && (!first || *done_at_[i] < *done_at_[*first])) {
        first = i;
      }
    }
    if (first && *done_at_[*first] <= now + wait) {
      if (*done_at_[*first] > now) {
        server_.clock.advance(*done_at_[*first] - now);
      }
      done_at_[*first].reset();
      return Completion{.slot = *first, .ok = true, .code = 0, .message = {}};
    }
    server_.clock.advance(wait);
    return std::nullopt;
  }

  void cancel_in_flight() override {
    for (auto& done : done_at_) {
      if (done) {
        done = server_.clock.now();
      }
    }
  }
  void shutdown() override {}

 private:
  FakeServer& server_;
  std::vector<std::optional<TimePoint>> done_at_;
};

TransportFactory fake_transports(FakeServer& server) {
  return [&server](int /*index*/, int /*workers*/, std::size_t slots) {
    return std::unique_ptr<KvTransport>(std::make_unique<FakeTransport>(server, slots));
  };
}

EngineOptions options_with(int clients) {
  EngineOptions options;
  options.clients = clients;
  options.key_prefix = "kp/";
  options.key_size = 16;
  options.key_space = 100;
  options.value_size = 8;
  options.request_timeout = seconds(5);
  return options;
}

Stage writes_at(double rate, Duration duration) {
  return Stage{.name = "write",
               .read_fraction = 0,
               .rate = Rate{rate},
               .duration = duration,
               .total = std::nullopt,
               .factor = 1.0,
               .stress_step = false,
               .bisection = false};
}

TEST(EtcdWorkload, AFastServerGetsEverySendOnTime) {
  FakeClock clock;
  FakeServer server(clock);
  engine::CancellationToken cancel;
  Result<StageResult> result =
      run_stage(fake_transports(server), 1, writes_at(1000, seconds(1)), options_with(8), clock, cancel);
  ASSERT_TRUE(result) << result.error().message;
  // Intended sends 1 ms apart over [start, end).
  EXPECT_EQ(result->sends.due, 1000u);
  EXPECT_EQ(result->sends.sent, 1000u);
  EXPECT_EQ(result->sends.queued_for_server, 0u);
  EXPECT_EQ(result->sends.own_lateness.count(), 1000u);
  EXPECT_EQ(result->sends.own_lateness.max(), 0);
  EXPECT_EQ(result->put.ok, 1000u);
  EXPECT_NEAR(double(result->put.latency.corrected.max()), 1e6, 1e6 * 0.001);
}

// A call that completes long before the next send is due leaves nothing to wait for: the worker sleeps once
// to the send's time by the clock, rather than polling the transport in short steps through the last 2 ms
// (which cost a system call and a wake-up each: issue 20).
TEST(EtcdWorkload, NothingInFlightMeansOneSleepToTheNextSendNotSteps) {
  FakeClock clock;
  FakeServer server(clock);
  server.latency = [] { return Duration(std::chrono::microseconds(100)); };
  engine::CancellationToken cancel;
  Result<StageResult> result =
      run_stage(fake_transports(server), 1, writes_at(100, seconds(1)), options_with(8), clock, cancel);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->sends.sent, 100u);
  EXPECT_EQ(result->sends.own_lateness.max(), 0);
  EXPECT_EQ(result->put.ok, 100u);
  EXPECT_NEAR(double(result->put.latency.corrected.max()), 100e3, 1e3);
  // About one per request (110 seen); the loop before made 1199 (a coarse wait, then 200 us steps).
  EXPECT_LE(server.waits, 2 * 100u);
}

// Two clients against a server that takes 100 ms per call can carry 20/s of the 100/s asked for. Sends that
// fall due while both clients are busy wait for the server: queued for a connection, never the generator's
// lateness; the ones still waiting at the end were never sent, for the server's reasons. Valid.
TEST(EtcdWorkload, ASlowServerQueuesSendsForAConnectionNotAsOwnLateness) {
  FakeClock clock;
  FakeServer server(clock);
  server.latency = [] { return Duration(milliseconds(100)); };
  engine::CancellationToken cancel;
  Result<StageResult> result =
      run_stage(fake_transports(server), 1, writes_at(100, seconds(1)), options_with(2), clock, cancel);
  ASSERT_TRUE(result) << result.error().message;
  const SendAccount& sends = result->sends;
  EXPECT_EQ(sends.due, 100u);
  EXPECT_EQ(sends.sent, 20u);                 // two every 100 ms
  EXPECT_EQ(sends.own_lateness.count(), 2u);  // the first two found a free client
  EXPECT_EQ(sends.own_lateness.max(), 0);
  EXPECT_EQ(sends.queued_for_server, 98u);  // the other 18 sent, and the 80 never sent
  EXPECT_EQ(sends.unsent_for_server, 80u);
  // The wait is in the corrected latency, from the intended send time.
  EXPECT_GT(result->put.latency.corrected.value_at_percentile(99), 700e6);

  std::vector<config::CriteriaRow> rows(1);
  rows[0].metric = "etcd.write.p99";
  rows[0].target = 0.025;
  rows[0].critical = 0.050;
  load::CriteriaView criteria(rows);
  std::vector<load::GeneratorAccount> accounts = generator_accounts({*result}, criteria);
  ASSERT_EQ(accounts.size(), 1u);
  EXPECT_DOUBLE_EQ(accounts[0].own_share(), 1.0);
  load::Validity validity = load::judge_validity(accounts[0], 0.025);
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
  EXPECT_NE(validity.statement.find("98 queued for a connection"), std::string::npos) << validity.statement;
}

// A worker that throws is a phase error naming the worker, after every worker was joined: never
// std::terminate. The other worker is asked to stop and does.
TEST(EtcdWorkload, AThrowingWorkerIsAnErrorNotACrash) {
  FakeClock clock;
  FakeServer server(clock);
  server.throw_at = 50;
  engine::CancellationToken cancel;
  Result<StageResult> result =
      run_stage(fake_transports(server), 2, writes_at(1000, seconds(10)), options_with(8), clock, cancel);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::internal);
  EXPECT_TRUE(result.error().message.starts_with("etcd write: worker "));
  EXPECT_TRUE(result.error().message.ends_with(" of 2 failed: injected: the transport failed"))
      << result.error().message;
}

// The stress search on the kernel's ramp against a server whose latency jumps above 800/s: the first
// step past it breaks on write P99 > Critical, and the bisection narrows it down.
TEST(EtcdWorkload, StressFindsTheBreakingRate) {
  FakeClock clock;
  FakeServer server(clock);
  double offered = 0;
  server.latency = [&offered] { return Duration(offered > 800 ? milliseconds(80) : milliseconds(5)); };
  engine::CancellationToken cancel;
  Settings settings;
  settings.workload = Workload::write;
  PlanInput input;
  input.type = config::TestType::stress;
  input.capacity = Rate{500};
  input.duration = seconds(8);
  Result<RunPlan> plan = plan_run(settings, input);
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_EQ(plan->stress.size(), 1u);

  std::vector<config::CriteriaRow> rows(1);
  rows[0].metric = "etcd.write.p99";
  rows[0].target = 0.025;
  rows[0].critical = 0.050;
  load::CriteriaView criteria(rows);
  std::vector<StageResult> stages;
  StageRunner run_step = [&](const Stage& stage) {
    offered = stage.rate->per_second;
    return run_stage(fake_transports(server), 1, stage, options_with(100), clock, cancel);
  };
  Result<load::StressResult> result =
      search_breaking_point(plan->stress[0], search_limits(criteria), run_step, stages, cancel, nullptr);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->metric, "etcd.write.breaking_rate");
  // Ramp 500, 625, 750, 875 (broke); bisection 812.5 (broke), 781.25, 796.875 (held).
  ASSERT_EQ(result->steps.size(), 7u);
  EXPECT_FALSE(result->steps[3].held());
  EXPECT_NE(result->steps[3].broke.find("P99 80"), std::string::npos) << result->steps[3].broke;
  ASSERT_TRUE(result->breaking_level);
  EXPECT_DOUBLE_EQ(*result->breaking_level, 812.5);
  EXPECT_DOUBLE_EQ(*result->last_held, 796.875);
  EXPECT_EQ(stages.size(), 7u);
  EXPECT_TRUE(stages[4].stage.bisection);
}

}  // namespace
}  // namespace kp::drivers::etcd

namespace kp::drivers::etcd {
namespace {

// A mixed step is held to both latency limits: its writes to etcd.write.p99's Critical, its reads to
// etcd.read.p99's.
TEST(EtcdStressStep, AMixedStepBreaksOnEitherKindsCritical) {
  auto mixed = [](Duration put_latency, Duration range_latency) {
    StageResult stage;
    stage.stage.read_fraction = 0.5;
    stage.stage.rate = Rate{100};
    stage.stage.duration = seconds(10);
    stage.elapsed = seconds(10);
    TimePoint t0{};
    for (int i = 0; i < 500; ++i) {
      stage.put.latency.record(t0, t0, t0 + put_latency);
      stage.range.latency.record(t0, t0, t0 + range_latency);
    }
    stage.put.ok = 500;
    stage.range.ok = 500;
    return stage;
  };
  SearchLimits limits{.writes = {.p99_critical = 0.050, .error_critical = std::nullopt},
                      .reads = {.p99_critical = 0.025, .error_critical = std::nullopt}};
  EXPECT_EQ(step_broke(mixed(milliseconds(40), milliseconds(20)), limits), "");
  EXPECT_EQ(step_broke(mixed(milliseconds(40), milliseconds(30)), limits),
            "read P99 30.00ms > critical 25.00ms");
  EXPECT_EQ(step_broke(mixed(milliseconds(60), milliseconds(20)), limits), "P99 60.00ms > critical 50.00ms");
  load::StepRecord record = step_record(mixed(milliseconds(40), milliseconds(20)));
  EXPECT_DOUBLE_EQ(record.offered, 100);
  EXPECT_DOUBLE_EQ(record.achieved, 100);  // both kinds: 1000 in 10 s
  EXPECT_EQ(record.completed, 1000u);
}

}  // namespace
}  // namespace kp::drivers::etcd
