// The TCP_RR loop (client_run.hpp) driven over a socketpair with a FakeClock: the "server" is a thread on the
// other end that reads each request, moves the fake clock by its service time and answers. The clock moves
// only while the loop waits for a response, so every intended time, lateness and latency is exact.

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "drivers/net/client_run.hpp"

namespace kp::drivers::net::detail {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

struct Pair {
  Pair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
      ADD_FAILURE() << "socketpair failed";
      return;
    }
    client = Fd(fds[0]);
    server = Fd(fds[1]);
  }
  Fd client;
  Fd server;
};

// Answers every request after `service` of fake time; with `answer_first` < 0 it answers all of them, else
// only that many, then goes silent (moving the clock past the client's response timeout).
void serve(FakeClock& clock, int fd, const TestSpec& spec, Duration service, int answer_first = -1,
           Duration silence = Duration::zero()) {
  std::vector<char> request(spec.request_size);
  const std::vector<char> response(spec.response_size, 'r');
  for (int answered = 0;; ++answered) {
    std::size_t got = 0;
    while (got < request.size()) {
      const ssize_t n = ::recv(fd, request.data() + got, request.size() - got, 0);
      if (n <= 0) {
        return;
      }
      got += static_cast<std::size_t>(n);
    }
    if (answer_first >= 0 && answered >= answer_first) {
      clock.advance(silence);
      return;
    }
    clock.advance(service);
    if (::send(fd, response.data(), response.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(response.size())) {
      return;
    }
  }
}

struct Loop {
  explicit Loop(Rate rate, Duration warmup = Duration::zero(), Duration window = milliseconds(10))
      : run(clock), worker(0, clock.now() + warmup) {
    spec.scenario = Scenario::tcp_rr;
    spec.request_size = 64;
    spec.response_size = 64;
    spec.rate = rate;
    spec.response_timeout = milliseconds(5);
    run.start = clock.now();
    run.measure_start = run.start + warmup;
    run.measure_end = run.measure_start + window;
    worker.pacer.emplace(rate, Arrival::constant, run.start);
    worker.fd = std::move(pair.client);
    // Blocked reads wake every 20 ms (real time), so the loop notices a response timeout on the fake clock.
    set_timeouts(worker.fd.get(), milliseconds(20), milliseconds(20));
  }
  void go(Duration service, int answer_first = -1, Duration silence = Duration::zero()) {
    std::thread server([&] { serve(clock, pair.server.get(), spec, service, answer_first, silence); });
    tcp_rr_worker(run, worker, spec);
    close_account(run, worker);
    ::shutdown(worker.fd.get(), SHUT_RDWR);
    server.join();
  }

  FakeClock clock;
  Pair pair;
  TestSpec spec;
  RunState run;
  Worker worker;
};

TEST(RrLoop, SendsAtTheIntendedTimesAndTimesFromThem) {
  Loop loop(Rate{1000});  // one request every 1 ms, 10 ms window
  loop.go(microseconds(300));
  EXPECT_EQ(loop.run.error(), "");
  EXPECT_EQ(loop.worker.window_items.load(), 10u);
  EXPECT_EQ(loop.worker.account.due, 10u);
  EXPECT_EQ(loop.worker.account.sent, 10u);
  EXPECT_EQ(loop.worker.account.queued_for_server, 0u);
  EXPECT_EQ(loop.worker.account.own_lateness.count(), 10u);
  EXPECT_EQ(loop.worker.account.own_lateness.max(), 0);  // the fake clock is never late
  // Every round trip is the server's 300 us, from the intended time.
  EXPECT_EQ(loop.worker.latency.corrected.count(), 10u);
  EXPECT_NEAR(double(loop.worker.latency.corrected.min()), 300e3, 300e3 * 0.01);
  EXPECT_NEAR(double(loop.worker.latency.corrected.max()), 300e3, 300e3 * 0.01);
}

TEST(RrLoop, ASlowServerQueuesSendsAsItsOwnLatencyNotTheClients) {
  Loop loop(Rate{1000});
  loop.go(microseconds(2500));  // 2.5 ms per answer at one request per 1 ms: the connection stays busy
  EXPECT_EQ(loop.run.error(), "");
  const SendAccount& account = loop.worker.account;
  EXPECT_EQ(account.due, 10u);
  // The first send found the connection free; every later one waited for the previous answer.
  EXPECT_EQ(account.own_lateness.count(), 1u);
  EXPECT_EQ(account.own_lateness.max(), 0);
  EXPECT_GT(account.queued_for_server, 0u);
  EXPECT_EQ(account.sent + account.unsent_for_server, account.due);
  EXPECT_EQ(account.queued_for_server, account.due - 1);
  // The wait is in the corrected latency: the last answer is far more than one service time after its
  // intended time; the uncorrected one is the service time alone.
  EXPECT_GT(loop.worker.latency.corrected.max(), 5'000'000);
  EXPECT_NEAR(double(loop.worker.latency.uncorrected.max()), 2.5e6, 2.5e6 * 0.01);
}

TEST(RrLoop, WarmUpIsNeitherDueNorMeasured) {
  Loop loop(Rate{1000}, milliseconds(5), milliseconds(5));
  loop.go(microseconds(100));
  EXPECT_EQ(loop.worker.transactions_total, 10u);
  EXPECT_EQ(loop.worker.window_items.load(), 5u);
  EXPECT_EQ(loop.worker.account.due, 5u);
  EXPECT_EQ(loop.worker.latency.corrected.count(), 5u);
}

TEST(RrLoop, ASilentServerIsAResponseTimeout) {
  Loop loop(Rate{1000});
  loop.go(microseconds(100), /*answer_first=*/3, /*silence=*/milliseconds(6));
  EXPECT_EQ(loop.run.error(), "stream 0: no response within 5.00ms");
  EXPECT_TRUE(loop.run.stopped());
  EXPECT_EQ(loop.worker.window_items.load(), 3u);
}

// One UDP_RR stream over a datagram socketpair, closed loop, against a peer that echoes each request after
// `service` of fake time (the echoed header is a valid answer), or, silent, drops it and lets the response
// timeout pass.
struct UdpLoop {
  UdpLoop(int index, bool answers) : run(clock), worker(std::make_unique<Worker>(index, clock.now())) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) != 0) {
      ADD_FAILURE() << "socketpair failed";
      return;
    }
    worker->fd = Fd(fds[0]);
    peer = Fd(fds[1]);
    set_timeouts(worker->fd.get(), milliseconds(20), milliseconds(20));
    set_timeouts(peer.get(), milliseconds(20), milliseconds(20));
    spec.scenario = Scenario::udp_rr;
    spec.request_size = 64;
    spec.response_size = 64;
    spec.response_timeout = milliseconds(5);
    run.start = clock.now();
    run.measure_start = run.start;
    run.measure_end = run.start + milliseconds(20);
    std::thread server([&, answers] {
      std::vector<char> datagram(65536);
      while (!done.load()) {
        const ssize_t n = ::recv(peer.get(), datagram.data(), datagram.size(), 0);
        if (n <= 0) {
          continue;  // the 20 ms wake: look at `done` again
        }
        if (answers) {
          clock.advance(microseconds(100));
          ::send(peer.get(), datagram.data(), static_cast<std::size_t>(n), 0);
        } else {
          clock.advance(milliseconds(6));
        }
      }
    });
    udp_rr_worker(run, *worker, spec, /*token=*/7);
    done = true;
    server.join();
  }

  FakeClock clock;
  TestSpec spec;
  RunState run;
  std::unique_ptr<Worker> worker;
  Fd peer;
  std::atomic<bool> done{false};
};

TEST(RrLoop, AUdpStreamThatNeverGetsAnAnswerFailsTheTest) {
  std::vector<std::unique_ptr<Worker>> workers;
  UdpLoop answered(0, true);
  UdpLoop silent(1, false);
  EXPECT_GT(answered.worker->window_items.load(), 0u);
  EXPECT_EQ(answered.worker->timeouts, 0u);
  EXPECT_EQ(silent.worker->window_items.load(), 0u);
  EXPECT_GT(silent.worker->timeouts, 0u);
  EXPECT_EQ(silent.run.error(), "");  // a UDP timeout alone does not stop the stream...
  workers.push_back(std::move(answered.worker));
  EXPECT_EQ(unanswered_streams(workers), "");
  workers.push_back(std::move(silent.worker));
  // ...but a stream that measured nothing at all is the test's error.
  EXPECT_EQ(
      unanswered_streams(workers),
      fmt::format("stream 1 of 2 got no answer to any of {} requests in the window (their datagrams "
                  "reached no server that knows the test, e.g. a Service in front of several servers, or "
                  "were dropped)",
                  workers[1]->timeouts));
}

TEST(RrLoop, AWorkerExceptionIsAnErrorAndStopsTheOthers) {
  FakeClock clock;
  RunState run(clock);
  std::vector<std::unique_ptr<Worker>> workers;
  workers.push_back(std::make_unique<Worker>(0, clock.now()));
  workers.push_back(std::make_unique<Worker>(1, clock.now()));
  std::atomic<bool> other_saw_stop{false};
  Result<void> ran = run_stream_workers(run, workers, [&](Worker& w) {
    if (w.index == 1) {
      throw std::runtime_error("out of buffers");
    }
    // The other worker runs until it is told to stop: the failure must reach it, or this never ends.
    while (!run.stopped()) {
      std::this_thread::yield();
    }
    other_saw_stop = true;
  });
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().kind, ErrorKind::internal);
  EXPECT_EQ(ran.error().message, "worker 2 of 2 failed: out of buffers");
  EXPECT_TRUE(other_saw_stop);
}

}  // namespace
}  // namespace kp::drivers::net::detail
