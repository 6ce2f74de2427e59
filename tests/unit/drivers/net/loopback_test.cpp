// The agent's two ends in one process over 127.0.0.1 (no root, no namespaces): every scenario, the counts
// of both ends agree, and the ways a test ends early. Short windows; nothing sleeps to synchronise: the
// tests act from the client's per-second progress callback.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "drivers/net/client.hpp"
#include "drivers/net/protocol.hpp"
#include "drivers/net/server.hpp"
#include "drivers/net/socket.hpp"

namespace kp::drivers::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class LoopbackServer {
 public:
  explicit LoopbackServer(Duration hold = Duration::zero(), std::string listen = "127.0.0.1:0") {
    ServerOptions options;
    options.listen = std::move(listen);
    options.hold = hold;
    Result<std::unique_ptr<Server>> server = Server::open(options, real_clock());
    if (!server) {
      ADD_FAILURE() << server.error().message;
      return;
    }
    server_ = std::move(*server);
    thread_ = std::thread([this] { served_ = server_->serve(cancel_, [](std::string_view) {}); });
  }
  ~LoopbackServer() {
    cancel_.request();
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  std::string address() const { return fmt::format("127.0.0.1:{}", server_->port()); }
  std::uint16_t port() const { return server_->port(); }
  void stop() { cancel_.request(); }

 private:
  std::unique_ptr<Server> server_;
  engine::CancellationToken cancel_;
  std::thread thread_;
  Result<void> served_;
};

TestSpec quick(Scenario scenario) {
  TestSpec spec;
  spec.scenario = scenario;
  spec.duration = milliseconds(300);
  spec.warmup = milliseconds(100);
  if (is_udp(scenario) && is_stream(scenario)) {
    spec.message_size = 1400;
  }
  return spec;
}

Result<ClientResult> run(const std::string& server, const TestSpec& spec, engine::CancellationToken& cancel,
                         const ClientProgressFn& progress = {}) {
  ClientOptions options;
  options.server = server;
  options.spec = spec;
  options.connect_timeout = seconds(2);
  return run_client(options, real_clock(), cancel, progress);
}

Result<ClientResult> run(const std::string& server, const TestSpec& spec) {
  engine::CancellationToken cancel;
  return run(server, spec, cancel);
}

TEST(Loopback, TcpStreamBytesAgreeOnBothEnds) {
  LoopbackServer server;
  TestSpec spec = quick(Scenario::tcp_stream);
  spec.streams = 2;
  Result<ClientResult> r = run(server.address(), spec);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  ASSERT_TRUE(r->server_report);
  EXPECT_GT(r->bytes_sent, 0u);
  EXPECT_EQ(r->bytes_sent, r->server_report->bytes_received);
  EXPECT_EQ(r->server_report->connections, 2u);
  EXPECT_EQ(r->throughput_source, "receiver");
  EXPECT_GT(r->throughput_bps, 0);
  EXPECT_GT(r->sender_bps, 0);
  EXPECT_GT(r->server_cpu->window, milliseconds(250));
}

TEST(Loopback, UdpStreamAtAnOfferedBandwidthCountsLoss) {
  LoopbackServer server;
  TestSpec spec = quick(Scenario::udp_stream);
  spec.bandwidth = Bandwidth{50e6};
  Result<ClientResult> r = run(server.address(), spec);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  // 50 Mbit/s of 1400-byte datagrams for 0.3 s: about 1339 datagrams in the window.
  EXPECT_NEAR(double(r->datagrams_sent), 50e6 * 0.3 / (1400 * 8), 150);
  EXPECT_LE(r->datagrams_received, r->datagrams_sent);
  EXPECT_NEAR(r->loss_ratio, 1.0 - double(r->datagrams_received) / double(r->datagrams_sent), 1e-12);
  EXPECT_EQ(r->bytes_sent, r->server_report->bytes_received);  // nothing lost on loopback at 50 Mbit/s
  EXPECT_NEAR(r->throughput_bps, 50e6, 50e6 * 0.15);
}

TEST(Loopback, RequestResponseCountsAgree) {
  LoopbackServer server;
  for (Scenario scenario : {Scenario::tcp_rr, Scenario::udp_rr, Scenario::tcp_crr}) {
    TestSpec spec = quick(scenario);
    spec.streams = 2;
    spec.request_size = 100;
    spec.response_size = 300;
    Result<ClientResult> r = run(server.address(), spec);
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->complete) << to_string(scenario) << ": " << r->error;
    EXPECT_GT(r->transactions, 0u);
    EXPECT_EQ(r->latency.corrected.count(), r->transactions);
    EXPECT_EQ(r->transactions_total - r->timeouts, r->server_report->transactions) << to_string(scenario);
    EXPECT_EQ(r->bytes_sent, r->server_report->bytes_received) << to_string(scenario);
    EXPECT_GT(r->latency.corrected.value_at_percentile(50), 0);
    if (scenario == Scenario::tcp_crr) {
      EXPECT_EQ(r->server_report->connections, r->transactions_total);
    }
  }
}

// Collects the live hand-overs of a run (from every stream worker and the control thread).
class CollectingSink final : public LiveSink {
 public:
  void add(const LiveDelta& delta) override {
    std::lock_guard lock(mutex_);
    ok += delta.ok;
    errors += delta.errors;
    bytes += delta.bytes;
    for (std::uint64_t count : delta.buckets) {
      in_buckets += count;
    }
    series.insert(std::string(delta.series));
    wrong_phase = wrong_phase || delta.phase != Phase::network;
  }
  std::mutex mutex_;
  std::uint64_t ok = 0, errors = 0, bytes = 0, in_buckets = 0;
  std::set<std::string> series;
  bool wrong_phase = false;
};

TEST(Loopback, LiveCountsAreTheWindowsTransactions) {
  LoopbackServer server;
  for (Scenario scenario : {Scenario::tcp_rr, Scenario::udp_rr, Scenario::tcp_crr}) {
    CollectingSink sink;
    ClientOptions options;
    options.server = server.address();
    options.spec = quick(scenario);
    options.spec.streams = 2;
    options.connect_timeout = seconds(2);
    options.live = &sink;
    engine::CancellationToken cancel;
    Result<ClientResult> r = run_client(options, real_clock(), cancel, {});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_TRUE(r->complete) << to_string(scenario) << ": " << r->error;
    // Warm-up transactions are in neither; every one of the window is in both, the last partial second too.
    EXPECT_EQ(sink.ok, r->transactions) << to_string(scenario);
    EXPECT_EQ(sink.in_buckets, sink.ok);
    EXPECT_EQ(sink.bytes, 0u);
    EXPECT_EQ(sink.series, std::set<std::string>{"transactions"});
    EXPECT_FALSE(sink.wrong_phase);
  }
}

TEST(Loopback, LiveBytesOfAStreamTestComeOncePerSecond) {
  LoopbackServer server;
  CollectingSink sink;
  ClientOptions options;
  options.server = server.address();
  options.spec = quick(Scenario::tcp_stream);
  options.spec.duration = milliseconds(1300);  // one whole second of the window is sampled
  options.connect_timeout = seconds(2);
  options.live = &sink;
  engine::CancellationToken cancel;
  Result<ClientResult> r = run_client(options, real_clock(), cancel, {});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  EXPECT_GT(sink.bytes, 0u);
  EXPECT_LT(sink.bytes, r->bytes_sent);  // the last 0.3 s is not a whole second: only the result has it
  EXPECT_EQ(sink.ok, 0u);
  EXPECT_EQ(sink.series, std::set<std::string>{"bytes"});
}

// True when this host can bind ::1 (IPv6 on, loopback configured): a container may have neither.
bool ipv6_loopback_usable() {
  const int fd = ::socket(AF_INET6, SOCK_DGRAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

// A pod's server listens with no address (":port"): on an IPv6-only cluster its pod IP is IPv6 and the
// kubelet's readiness probe connects to it; on an IPv4 cluster the peers are IPv4. One dual-stack socket
// takes both.
TEST(Loopback, AServerWithoutAnAddressTakesIpv4AndIpv6Peers) {
  LoopbackServer server(Duration::zero(), ":0");
  std::vector<std::string> peers = {fmt::format("127.0.0.1:{}", server.port())};
  if (ipv6_loopback_usable()) {
    peers.push_back(fmt::format("[::1]:{}", server.port()));
  } else {
    std::cout << "[ NOTE ] no usable ::1 here: only the IPv4 peer is checked\n";
  }
  for (const std::string& peer : peers) {
    for (Scenario scenario : {Scenario::tcp_rr, Scenario::udp_rr}) {
      Result<ClientResult> r = run(peer, quick(scenario));
      ASSERT_TRUE(r) << peer << ": " << r.error().message;
      ASSERT_TRUE(r->complete) << peer << " " << to_string(scenario) << ": " << r->error;
      EXPECT_GT(r->transactions, 0u) << peer;
      EXPECT_EQ(r->transactions_total - r->timeouts, r->server_report->transactions) << peer;
    }
  }
}

TEST(Loopback, TotalEndsTheWindowEarly) {
  LoopbackServer server;
  TestSpec spec = quick(Scenario::tcp_rr);
  spec.duration = seconds(30);
  spec.total = 500;
  Result<ClientResult> r = run(server.address(), spec);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  EXPECT_EQ(r->transactions, 500u);
  EXPECT_LT(r->measured, seconds(10));
}

TEST(Loopback, OpenLoopRunsAtTheRateWithLatencyFromTheIntendedTime) {
  LoopbackServer server;
  TestSpec spec = quick(Scenario::tcp_rr);
  spec.duration = milliseconds(500);
  spec.rate = Rate{1000};
  Result<ClientResult> r = run(server.address(), spec);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  EXPECT_NEAR(double(r->transactions), 500, 25);
  ASSERT_TRUE(r->pacer);
  EXPECT_EQ(r->pacer->sends, r->transactions_total);
  // Corrected latency (from the intended time) is never below the service time.
  EXPECT_GE(r->latency.corrected.value_at_percentile(99), r->latency.uncorrected.value_at_percentile(99));
}

TEST(Loopback, ServerHoldAddsToTheRoundTrip) {
  LoopbackServer server(milliseconds(2));
  TestSpec spec = quick(Scenario::tcp_rr);
  Result<ClientResult> r = run(server.address(), spec);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_TRUE(r->complete) << r->error;
  EXPECT_EQ(r->server_hold, milliseconds(2));
  EXPECT_GE(r->latency.corrected.min(), 2'000'000);
  EXPECT_LT(r->latency.corrected.value_at_percentile(50), 3'000'000);
}

TEST(Loopback, OneTestAtATime) {
  LoopbackServer server;
  TestSpec long_test = quick(Scenario::tcp_rr);
  long_test.duration = seconds(2);
  std::optional<std::string> second_error;
  engine::CancellationToken cancel;
  Result<ClientResult> first = run(server.address(), long_test, cancel, [&](const ProgressSample& sample) {
    if (sample.second == 1) {
      Result<ClientResult> second = run(server.address(), quick(Scenario::tcp_rr));
      second_error = second ? "ran" : second.error().message;
      cancel.request();
    }
  });
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_TRUE(second_error);
  EXPECT_EQ(*second_error,
            fmt::format("{}: the server refused the test: server busy: another test is running (one at "
                        "a time)",
                        server.address()));
}

TEST(Loopback, CancellationEndsTheWindowWithWhatWasMeasured) {
  LoopbackServer server;
  TestSpec spec = quick(Scenario::tcp_rr);
  spec.duration = seconds(30);
  engine::CancellationToken cancel;
  const TimePoint start = real_clock().now();
  Result<ClientResult> r = run(server.address(), spec, cancel, [&](const ProgressSample& sample) {
    if (sample.second == 1) {
      cancel.request();
    }
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT(real_clock().now() - start, seconds(5));
  EXPECT_TRUE(r->cancelled);
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->error.rfind("cancelled (1.", 0), 0u) << r->error;
  EXPECT_GT(r->transactions, 0u);
  ASSERT_TRUE(r->server_report);  // a cancellation still ends the test properly
  EXPECT_EQ(r->transactions_total, r->server_report->transactions);
}

TEST(Loopback, ServerStoppingMidTestIsAClearErrorWithPartialResults) {
  auto server = std::make_unique<LoopbackServer>();
  TestSpec spec = quick(Scenario::tcp_stream);
  spec.duration = seconds(30);
  engine::CancellationToken cancel;
  const TimePoint start = real_clock().now();
  Result<ClientResult> r = run(server->address(), spec, cancel, [&](const ProgressSample& sample) {
    if (sample.second == 1) {
      server->stop();
    }
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_LT(real_clock().now() - start, seconds(5));
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->error.rfind("server: the server is stopping (1.", 0), 0u) << r->error;
  EXPECT_GT(r->sender_bps, 0);
  EXPECT_EQ(r->throughput_source, "sender (acked)");
  EXPECT_FALSE(r->per_second_bps.empty());
}

TEST(Loopback, UnreachableServerIsAOneLineError) {
  // A bound, not listening, socket: its port refuses connections for as long as we hold it.
  Fd holder(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  Result<SocketAddress> bound = local_address(holder.get());
  ASSERT_TRUE(bound);
  Result<ClientResult> r = run(to_string(*bound), quick(Scenario::tcp_rr));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::network);
  EXPECT_EQ(r.error().message, fmt::format("cannot connect to {}: Connection refused", to_string(*bound)));
}

TEST(Loopback, StrangersAndMalformedControlLinesDoNotHurtTheServer) {
  LoopbackServer server;
  Result<SocketAddress> address = resolve(server.address());
  ASSERT_TRUE(address);
  {
    Result<Fd> stranger = connect_tcp(*address, seconds(2));
    ASSERT_TRUE(stranger);
    const std::string request = "GET / HTTP/1.1\r\n\r\n";
    ASSERT_EQ(::send(stranger->get(), request.data(), request.size(), MSG_NOSIGNAL), ssize_t(request.size()));
    char byte = 0;
    set_timeouts(stranger->get(), seconds(5), seconds(5));
    EXPECT_LE(::recv(stranger->get(), &byte, 1, 0), 0);  // closed (or reset) without an answer
  }
  {
    Result<Fd> control = connect_tcp(*address, seconds(2));
    ASSERT_TRUE(control);
    const std::string line = "{\"type\":\"hello\",\"version\":1,\"test\":{\"scenario\":\"TCP_FOO\"}}\n";
    ASSERT_EQ(::send(control->get(), line.data(), line.size(), MSG_NOSIGNAL), ssize_t(line.size()));
    set_timeouts(control->get(), seconds(5), seconds(5));
    std::string reply(512, '\0');
    const ssize_t n = ::recv(control->get(), reply.data(), reply.size(), 0);
    ASSERT_GT(n, 0);
    reply.resize(static_cast<std::size_t>(n));
    EXPECT_EQ(reply,
              "{\"message\":\"hello: test.scenario: must be one of TCP_STREAM, UDP_STREAM, TCP_RR, UDP_RR, "
              "TCP_CRR, "
              "got \\\"TCP_FOO\\\"\",\"type\":\"error\"}\n");
  }
  Result<ClientResult> r = run(server.address(), quick(Scenario::tcp_rr));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->complete) << r->error;
}

}  // namespace
}  // namespace kp::drivers::net
