// The HTTP generator against a real nginx (started here in a temp dir on free ports, access log on, stopped
// at the end) and against in-test servers that stall or misbehave. Skipped with the reason when nginx is
// missing. The tests of the load paths run once per I/O backend (epoll, io_uring: NginxIo and IngressIo);
// the io_uring run is skipped, with the reason, where io_uring is unavailable.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/plan.hpp"
#include "drivers/ingress/driver.hpp"
#include "drivers/ingress/http_command.hpp"
#include "drivers/ingress/load.hpp"
#include "drivers/ingress/measurements.hpp"
#include "lab/nginx_service.hpp"
#include "prom/prometheus_text.hpp"
#include "report/live_metrics.hpp"
#include "test_servers.hpp"

namespace kp::drivers::ingress {
namespace {

namespace fs = std::filesystem;
using testing::Reply;
using testing::TestServer;

LoadSpec spec_for(const std::string& url) {
  LoadSpec spec;
  spec.url = *parse_url(url);
  spec.threads = 1;
  spec.connections = 4;
  spec.timeout = std::chrono::seconds(3);
  return spec;
}

Result<LoadResult> run(const LoadSpec& spec) {
  engine::CancellationToken cancel;
  return run_load(spec, real_clock(), cancel);
}

std::string backend_name(const ::testing::TestParamInfo<IoBackend>& info) {
  return std::string(io_backend_name(info.param));
}

// Skips the io_uring run where io_uring is unavailable; otherwise checks the run used the backend asked for.
#define SKIP_UNLESS_BACKEND_AVAILABLE(backend)                        \
  if ((backend) == IoBackend::uring && uring_unavailable()) {         \
    GTEST_SKIP() << "io_uring unavailable: " << *uring_unavailable(); \
  }

// One nginx for the whole suite (start-up generates certificates: done once).
class Nginx : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(fs::temp_directory_path() / fmt::format("kp-ingress-it-{}", getpid()));
    Result<lab::NginxInstance> started =
        lab::start_nginx(*dir_, lab::NginxOptions{.workers = 1, .access_log = true}, real_clock());
    if (!started) {
      skip_reason_ = new std::string(started.error().message);
      return;
    }
    nginx_ = new lab::NginxInstance(std::move(*started));
  }
  static void TearDownTestSuite() {
    delete nginx_;
    nginx_ = nullptr;
    if (dir_ != nullptr) {
      std::error_code ignored;
      fs::remove_all(*dir_, ignored);
    }
    delete dir_;
    delete skip_reason_;
    skip_reason_ = nullptr;
  }
  void SetUp() override {
    if (nginx_ == nullptr) {
      GTEST_SKIP() << "nginx not available: " << (skip_reason_ ? *skip_reason_ : "");
    }
  }

  // Access-log lines per status for requests to `uri` (the log format is "<status> <method> <uri> <port>").
  static std::map<int, std::uint64_t> logged(const std::string& uri) {
    std::map<int, std::uint64_t> counts;
    std::ifstream in(lab::nginx_access_log(nginx_->dir()));
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      int status = 0;
      std::string method;
      std::string path;
      fields >> status >> method >> path;
      if (path == uri) {
        ++counts[status];
      }
    }
    return counts;
  }
  static std::uint64_t logged_total(const std::string& uri) {
    std::uint64_t total = 0;
    for (const auto& [status, count] : logged(uri)) {
      total += count;
    }
    return total;
  }

  static fs::path* dir_;
  static lab::NginxInstance* nginx_;
  static std::string* skip_reason_;
};
fs::path* Nginx::dir_ = nullptr;
lab::NginxInstance* Nginx::nginx_ = nullptr;
std::string* Nginx::skip_reason_ = nullptr;

// The load paths against nginx, once per I/O backend. Each backend's requests go to their own URI, so the
// access-log counts are per run.
class NginxIo : public Nginx, public ::testing::WithParamInterface<IoBackend> {
 protected:
  void SetUp() override {
    Nginx::SetUp();
    SKIP_UNLESS_BACKEND_AVAILABLE(GetParam());
  }
  IoBackend backend() const { return GetParam(); }
  std::string tagged(std::string_view uri) const {
    return fmt::format("{}-{}", uri, io_backend_name(GetParam()));
  }
  LoadSpec io_spec_for(const std::string& url) const {
    LoadSpec spec = spec_for(url);
    spec.io = GetParam();
    return spec;
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, NginxIo, ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         backend_name);

// The in-test servers (stalls, malformed responses, cancellation), once per I/O backend.
class IngressIo : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override { SKIP_UNLESS_BACKEND_AVAILABLE(GetParam()); }
  LoadSpec io_spec_for(const std::string& url) const {
    LoadSpec spec = spec_for(url);
    spec.io = GetParam();
    return spec;
  }
};
INSTANTIATE_TEST_SUITE_P(Backends, IngressIo, ::testing::Values(IoBackend::epoll, IoBackend::uring),
                         backend_name);

TEST_P(NginxIo, ClosedLoopCountsMatchTheAccessLog) {
  const std::string uri = tagged("/small.txt?closed");
  LoadSpec spec = io_spec_for(nginx_->http_url(uri));
  spec.threads = 2;
  spec.connections = 8;
  spec.requests = 5000;
  spec.duration = Duration::zero();
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->requests_sent, 5000u);
  EXPECT_EQ(result->responses, 5000u);
  EXPECT_EQ(result->status_classes[2], 5000u);
  EXPECT_EQ(result->failures(), 0u);
  EXPECT_EQ(result->latency.count(), 5000u);
  EXPECT_EQ(logged_total(uri), 5000u);
  EXPECT_EQ(result->io_backend, io_backend_name(backend()));
}

TEST_P(NginxIo, OpenLoopCountsMatchTheAccessLogAndTheRate) {
  const std::string uri = tagged("/small.txt?open");
  LoadSpec spec = io_spec_for(nginx_->http_url(uri));
  spec.threads = 2;
  spec.connections = 8;
  spec.rate = Rate{2000};
  spec.duration = std::chrono::seconds(2);
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->issued, 4000u);  // exactly rate x duration intended times
  EXPECT_EQ(result->responses + result->failures() + result->unsent, 4000u);
  EXPECT_EQ(logged_total(uri), result->responses);
  EXPECT_EQ(result->io_backend, io_backend_name(backend()));
  EXPECT_TRUE(result->open_loop);
  EXPECT_EQ(result->uncorrected.count(), result->responses);
  // Per-second series: two seconds of data.
  EXPECT_GE(result->series.series(kSeriesLatency).size(), 2u);
}

TEST_P(NginxIo, FiveXxRateIsExact) {
  LoadSpec spec = io_spec_for(nginx_->http_url("/"));
  spec.threads = 2;
  spec.requests = 1000;
  spec.duration = Duration::zero();
  const std::string mix = tagged("/small.txt?mix");
  const std::string error = tagged("/error?");
  spec.request.paths = {mix, error, mix, mix};
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->responses, 1000u);
  EXPECT_EQ(result->status_classes[5], 250u);
  EXPECT_EQ(result->status_classes[2], 750u);
  std::vector<Measurement> measurements = request_measurements(*result);
  auto rate = std::find_if(measurements.begin(), measurements.end(),
                           [](const Measurement& m) { return m.metric == "ingress.error_rate_5xx"; });
  ASSERT_NE(rate, measurements.end());
  EXPECT_DOUBLE_EQ(rate->value, 0.25);
  EXPECT_EQ(logged(error)[500], 250u);
}

TEST_P(NginxIo, TlsVerifiesAgainstTheLabCa) {
  const std::string uri = tagged("/small.txt?tls");
  LoadSpec spec = io_spec_for(nginx_->https_url(uri));
  spec.requests = 200;
  spec.duration = Duration::zero();
  spec.tls.ca_file = lab::nginx_ca_file(nginx_->dir()).string();
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->responses, 200u);
  EXPECT_EQ(result->handshake_time.count(), 4u);  // one per keep-alive connection
  EXPECT_EQ(logged_total(uri), 200u);
  EXPECT_EQ(result->io_backend, io_backend_name(backend()));
}

TEST_P(NginxIo, WrongCertificateIsRefusedUnlessInsecure) {
  // Not signed by a CA in the system store.
  LoadSpec untrusted = io_spec_for(nginx_->https_url("/small.txt"));
  untrusted.requests = 10;
  untrusted.duration = Duration::zero();
  Result<LoadResult> refused = run(untrusted);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::network);
  EXPECT_NE(refused.error().message.find("certificate verify failed"), std::string::npos)
      << refused.error().message;

  // The right CA but the wrong name.
  LoadSpec wrong_name = untrusted;
  wrong_name.tls.ca_file = lab::nginx_ca_file(nginx_->dir()).string();
  wrong_name.tls.server_name = "wrong.example";
  Result<LoadResult> mismatch = run(wrong_name);
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("certificate verify failed"), std::string::npos)
      << mismatch.error().message;

  LoadSpec insecure = untrusted;
  insecure.tls.insecure = true;
  insecure.tls.server_name = "wrong.example";
  Result<LoadResult> accepted = run(insecure);
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->responses, 10u);
}

TEST_P(NginxIo, ConnectionPerRequestOverTls) {
  const std::string uri = tagged("/small.txt?conn");
  LoadSpec spec = io_spec_for(nginx_->https_url(uri));
  spec.requests = 300;
  spec.duration = Duration::zero();
  spec.connection_per_request = true;
  spec.tls.ca_file = lab::nginx_ca_file(nginx_->dir()).string();
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->responses, 300u);
  EXPECT_EQ(result->connections_opened, 300u);
  EXPECT_EQ(result->connect_time.count(), 300u);
  EXPECT_EQ(result->handshake_time.count(), 300u);
  EXPECT_GT(result->connection_rate(), 0);
  EXPECT_EQ(logged_total(uri), 300u);
  EXPECT_EQ(result->io_backend, io_backend_name(backend()));
}

TEST_P(NginxIo, OpenLoopConnectionRate) {
  const std::string uri = tagged("/small.txt?connrate");
  LoadSpec spec = io_spec_for(nginx_->http_url(uri));
  spec.connection_per_request = true;
  spec.connections = 16;
  spec.rate = Rate{500};
  spec.duration = std::chrono::seconds(1);
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->issued, 500u);
  EXPECT_EQ(result->connections_opened, result->responses);
  EXPECT_EQ(logged_total(uri), result->responses);
  EXPECT_NEAR(static_cast<double>(result->responses), 500.0, 5.0);
  EXPECT_EQ(result->io_backend, io_backend_name(backend()));
}

TEST_P(NginxIo, StandaloneCommandPrintsAWrkLikeSummary) {
  HttpOptions options;
  options.url = nginx_->http_url(tagged("/small.txt?cli"));
  options.io = std::string(io_backend_name(backend()));
  options.threads = 1;
  options.connections = 2;
  options.requests = 100;
  options.duration = "0";
  options.latency = true;
  std::ostringstream out;
  engine::CancellationToken cancel;
  Result<int> code = run_http_command(options, real_clock(), cancel, out);
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_EQ(*code, 0) << out.str();
  EXPECT_NE(out.str().find("100 requests in"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Requests/sec:"), std::string::npos);
  EXPECT_NE(out.str().find("99.000%"), std::string::npos);
  EXPECT_NE(out.str().find(fmt::format("I/O on {}", io_backend_name(backend()))), std::string::npos)
      << out.str();
}

// The phase driver end to end: settings from YAML, an open-loop request run and a connection-rate run, with
// live metrics on (as `run --metrics-listen` has them): every response the report counts was also counted
// live.
TEST_F(Nginx, DriverMeasuresTheIngressRowsAndCountsThemLive) {
  Result<config::Plan> plan = config::parse_plan(fmt::format(R"(name: it
type: smoke
capacity:
  ingress_rps: 2000
  ingress_connection_rate: 1000
phases:
  - phase: ingress
    duration: 1m
    load: 10%
    settings:
      url: {}
      connections: 8
      threads: 1
)",
                                                             nginx_->http_url("/small.txt?driver")),
                                                 "it.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(config::apply_duration_scale(*plan, 1.0 / 30));  // 2 s
  const config::PhasePlan& phase = plan->phases.back();
  struct Quiet : engine::ProgressSink {
    void message(Phase, std::string_view) override {}
  } quiet;
  report::LiveMetrics live({"it", "it", "smoke", "local"});
  report::LiveProgress sink(quiet, live);
  engine::CancellationToken cancel;
  engine::PhaseContext context{*plan, phase, real_clock(), cancel, sink};
  auto driver = make_driver(*plan, *dir_);
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> ran = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(ran) << ran.error().message;
  std::map<std::string, const Measurement*> measured;
  for (const Measurement& m : ran->measurements) {
    measured[m.metric] = &m;
  }
  ASSERT_EQ(measured.size(), 4u);
  EXPECT_NEAR(measured["ingress.rps"]->value, 200.0, 20.0);  // 2000 x 10 %
  EXPECT_GT(measured["ingress.p99"]->value, 0.0);
  EXPECT_EQ(measured["ingress.error_rate_5xx"]->value, 0.0);
  EXPECT_NEAR(measured["ingress.connection_rate"]->value, 100.0, 15.0);  // 1000 x 10 %

  Result<prom::Exposition> page = prom::parse_text(live.render());
  ASSERT_TRUE(page) << page.error().message;
  Result<double> live_ok = prom::scalar(*page, "kubeproof_live_completions_total",
                                        {{"phase", "ingress"}, {"series", "request"}, {"outcome", "ok"}});
  ASSERT_TRUE(live_ok) << live_ok.error().message;
  ASSERT_TRUE(measured["ingress.p99"]->histogram.has_value());
  EXPECT_EQ(*live_ok, static_cast<double>(measured["ingress.p99"]->histogram->count()));
  Result<double> connections =
      prom::scalar(*page, "kubeproof_live_completions_total",
                   {{"phase", "ingress"}, {"series", "connection"}, {"outcome", "ok"}});
  ASSERT_TRUE(connections) << connections.error().message;
  EXPECT_GT(*connections, 0.0);
}

// Latency means the same on both backends: a server that holds every response 20 ms is reported at 20 ms
// (never less: the clock starts at the intended send), plus what the loopback and the event loop add.
TEST_P(IngressIo, AResponseHeldAKnownTimeIsReportedAsThatTime) {
  constexpr auto kHold = std::chrono::milliseconds(20);
  TestServer server([&](const std::string&) {
    std::this_thread::sleep_for(kHold);  // the server's hold, by design
    return Reply{testing::ok_response(), false};
  });
  LoadSpec spec = io_spec_for(server.url("/"));
  spec.connections = 8;  // room for 400/s at 20 ms each: nothing waits for a connection at 100/s
  spec.rate = Rate{100};
  spec.duration = std::chrono::seconds(2);
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->responses, 200u);
  EXPECT_EQ(result->failures(), 0u);
  const std::int64_t hold = std::chrono::nanoseconds(kHold).count();
  const std::int64_t slack = std::chrono::nanoseconds(std::chrono::milliseconds(1)).count();
  for (const Histogram* histogram : {&result->latency, &result->uncorrected}) {
    EXPECT_GE(histogram->value_at_percentile(50), hold);
    EXPECT_LE(histogram->value_at_percentile(50), hold + slack);
    EXPECT_GE(histogram->min(), hold);
  }
  EXPECT_EQ(result->io_backend, io_backend_name(GetParam()));
}

TEST_P(IngressIo, StallShowsInCorrectedButNotInUncorrectedP99) {
  // 300 ms stall every 3 s (a scaled "1 s every 10 s"): every request arriving during a stall waits for its
  // end.
  auto start = std::chrono::steady_clock::now();
  TestServer server([start](const std::string&) {
    auto since = std::chrono::steady_clock::now() - start;
    auto phase = since % std::chrono::milliseconds(3000);
    if (phase >= std::chrono::milliseconds(1000) && phase < std::chrono::milliseconds(1300)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1300) - phase);  // the server's stall, by design
    }
    return Reply{testing::ok_response(), false};
  });
  LoadSpec spec = io_spec_for(server.url("/"));
  spec.connections = 10;
  spec.rate = Rate{1000};
  spec.duration = std::chrono::seconds(6);
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  std::int64_t corrected = result->latency.value_at_percentile(99);
  std::int64_t uncorrected = result->uncorrected.value_at_percentile(99);
  // About 10 % of the intended sends fall into a stall and wait up to 300 ms for it.
  EXPECT_GT(corrected, std::chrono::nanoseconds(std::chrono::milliseconds(150)).count())
      << "corrected P99 " << corrected << " ns";
  // Only the ~10 requests in flight when each stall began saw it as service time: < 1 % of them.
  EXPECT_LT(uncorrected, std::chrono::nanoseconds(std::chrono::milliseconds(50)).count())
      << "uncorrected P99 " << uncorrected << " ns";
  // Sends waited for a connection during the stalls: the server's latency, shown above, not a reason to
  // call the run invalid.
  EXPECT_GT(result->queued, 0u);
  load::Validity validity = validity_of(spec, *result);
  EXPECT_TRUE(validity.valid()) << validity.invalid_reasons.front();
}

// The held-out check: `kubeproof http` at 200 req/s on 16 connections against a server that stalls 1 s
// every 5 s. It must report the stall in the latency (P99 about 1 s) and must not call the run INVALID
// because sends waited for a free connection: every connection was held by the stalled server.
TEST_P(IngressIo, AServerStallingOneSecondInFiveIsSlowNotAnInvalidRun) {
  auto start = std::chrono::steady_clock::now();
  TestServer server([start](const std::string&) {
    auto phase = (std::chrono::steady_clock::now() - start) % std::chrono::seconds(5);
    if (phase >= std::chrono::seconds(1) && phase < std::chrono::seconds(2)) {
      std::this_thread::sleep_for(std::chrono::seconds(2) - phase);  // the server's stall, by design
    }
    return Reply{testing::ok_response(), false};
  });
  HttpOptions options;
  options.url = server.url("/");
  options.threads = 1;
  options.connections = 16;
  options.io = std::string(io_backend_name(GetParam()));
  options.rate = "200";
  options.duration = "6s";  // one whole stall, 1 s to 2 s after the server started
  options.latency = true;
  options.percentiles = {50, 99};
  std::ostringstream out;
  engine::CancellationToken cancel;
  Result<int> code = run_http_command(options, real_clock(), cancel, out);
  ASSERT_TRUE(code) << code.error().message;
  const std::string text = out.str();
  EXPECT_EQ(*code, 0) << text;
  EXPECT_EQ(text.find("INVALID"), std::string::npos) << text;
  EXPECT_NE(text.find("queued for a connection"), std::string::npos) << text;
  // The first distribution is the corrected one: its P99 line shows the stall ("  99.000%  0.97s").
  std::size_t line = text.find("99.000%");
  ASSERT_NE(line, std::string::npos) << text;
  std::string value = text.substr(line + 8, text.find('\n', line) - line - 8);
  value.erase(0, value.find_first_not_of(' '));
  double seconds = std::stod(value);
  if (value.ends_with("ms")) {
    seconds /= 1e3;
  } else if (value.ends_with("us")) {
    seconds /= 1e6;
  }
  EXPECT_GE(seconds, 0.8) << text;
}

TEST_P(IngressIo, MalformedAndTruncatedResponsesAreCountedNotFatal) {
  TestServer server([](const std::string& path) {
    if (path == "/garbage") {
      return Reply{"NOT HTTP AT ALL\r\n\r\n", true};
    }
    if (path == "/truncated") {
      return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true};
    }
    if (path == "/too-long") {
      return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhello", false};
    }
    return Reply{testing::ok_response(), false};
  });
  LoadSpec spec = io_spec_for(server.url("/"));
  spec.connections = 1;
  spec.requests = 40;
  spec.duration = Duration::zero();
  spec.request.paths = {"/ok", "/garbage", "/truncated", "/too-long"};
  Result<LoadResult> result = run(spec);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->requests_sent, 40u);
  EXPECT_EQ(result->responses, 20u);  // /ok and /too-long (its response is complete; the extra bytes are not)
  EXPECT_EQ(result->parse_errors, 30u);  // garbage, truncated, and the extra bytes after /too-long
  // The server's fault, counted as errors (the error rate), not a reason to call the run invalid.
  std::vector<Measurement> rows = request_measurements(*result);
  auto errors = std::find_if(rows.begin(), rows.end(),
                             [](const Measurement& m) { return m.metric == "ingress.error_rate_5xx"; });
  ASSERT_NE(errors, rows.end());
  EXPECT_DOUBLE_EQ(errors->value, static_cast<double>(result->failures()) /
                                      static_cast<double>(result->responses + result->failures()));
  EXPECT_GE(errors->value, 0.6);  // at least the 30 malformed of 50 attempts
  EXPECT_TRUE(validity_of(spec, *result).valid());
}

TEST_P(IngressIo, DeadPortIsAClearErrorInBoundedTime) {
  std::uint16_t port = testing::dead_port();
  LoadSpec spec = io_spec_for(fmt::format("http://127.0.0.1:{}/", port));
  spec.duration = std::chrono::seconds(30);
  auto before = std::chrono::steady_clock::now();
  Result<LoadResult> result = run(spec);
  auto took = std::chrono::steady_clock::now() - before;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::network);
  EXPECT_EQ(result.error().message,
            fmt::format("cannot connect to http://127.0.0.1:{}/: connect: Connection refused", port));
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST_P(IngressIo, CancellationStopsARunPromptly) {
  // The server itself cancels once it has served 200 requests: the run is provably under way, no timing
  // guess.
  engine::CancellationToken cancel;
  std::atomic<int> served{0};
  TestServer server([&](const std::string&) {
    if (++served == 200) {
      cancel.request();
    }
    return Reply{testing::ok_response(), false};
  });
  LoadSpec spec = io_spec_for(server.url("/"));
  spec.duration = std::chrono::minutes(10);
  auto before = std::chrono::steady_clock::now();
  Result<LoadResult> result = run_load(spec, real_clock(), cancel);
  auto took = std::chrono::steady_clock::now() - before;
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_GE(result->responses, 199u);
  EXPECT_EQ(result->failures(), 0u);  // responses in flight were drained, not dropped
  EXPECT_LT(took, std::chrono::seconds(3));
}

// Runs the ingress driver of `plan` (its last phase) through validate, prepare, run and teardown.
struct DriverRun {
  Result<engine::PhaseRun> run = fail(ErrorKind::internal, "not run");
  std::vector<std::string> messages;
};

DriverRun run_driver(const config::Plan& plan, Clock& clock,
                     const std::function<void()>& after_prepare = {}) {
  struct Collect : engine::ProgressSink {
    void message(Phase, std::string_view text) override { lines.emplace_back(text); }
    std::vector<std::string> lines;
  } sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases.back(), clock, cancel, sink};
  DriverRun out;
  auto driver = make_driver(plan, "/nonexistent-lab-dir");
  Result<void> valid = driver->validate(context);
  if (!valid) {
    out.run = std::unexpected(valid.error());
    return out;
  }
  Result<void> prepared = driver->prepare(context);
  if (!prepared) {
    out.run = std::unexpected(prepared.error());
    driver->teardown(context);
    return out;
  }
  if (after_prepare) {
    after_prepare();
  }
  out.run = driver->run(context);
  driver->teardown(context);
  out.messages = std::move(sink.lines);
  return out;
}

// Stress to the breaking point against a server that can do about 330 req/s (2 connections, 6 ms each):
// the ramp 200..400 req/s (100..200 % of capacity.ingress_rps) must break at or below 400, bisect below the
// first step that broke, and never run a step above it.
TEST(Ingress, DriverStressFindsTheBreakingPointAndNeverLoadsAboveABrokenStep) {
  TestServer server([](const std::string&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(6));  // the server's service time, by design
    return Reply{testing::ok_response(), false};
  });
  Result<config::Plan> plan = config::parse_plan(fmt::format(R"(name: it
type: stress
capacity:
  ingress_rps: 200
phases:
  - phase: ingress
    duration: 10m
    load: 150%
    settings:
      url: {}
      connections: 2
      threads: 1
      timeout: 2s
      connection_rate: off
)",
                                                             server.url("/")),
                                                 "it.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(config::apply_duration_scale(*plan, 1.0 / 150));  // 4 s: 8 steps of 0.5 s
  DriverRun ran = run_driver(*plan, real_clock());
  ASSERT_TRUE(ran.run) << ran.run.error().message;
  ASSERT_EQ(ran.run->stress.size(), 1u);
  const load::StressResult& stress = ran.run->stress.front();
  EXPECT_EQ(stress.metric, "ingress.breaking_rps");
  ASSERT_TRUE(stress.breaking_level) << stress.note;
  EXPECT_LE(*stress.breaking_level, 400.0) << stress.note;
  ASSERT_GE(stress.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(stress.steps.front().level, 200.0);
  // Each step after the first break runs below every step that broke before it.
  std::optional<double> lowest_broken;
  for (const load::StepRecord& step : stress.steps) {
    if (lowest_broken) {
      EXPECT_LT(step.level, *lowest_broken) << "a step at or above one that broke ran";
      EXPECT_TRUE(step.bisection);
    }
    if (!step.held()) {
      lowest_broken = std::min(step.level, lowest_broken.value_or(step.level));
    }
  }
  const bool broke = lowest_broken.has_value();
  EXPECT_EQ(lowest_broken, stress.breaking_level);
  EXPECT_TRUE(broke);
  std::map<std::string, const Measurement*> measured;
  for (const Measurement& m : ran.run->measurements) {
    measured[m.metric] = &m;
  }
  ASSERT_TRUE(measured.contains("ingress.breaking_rps"));
  EXPECT_DOUBLE_EQ(measured["ingress.breaking_rps"]->value, *stress.breaking_level);
  EXPECT_EQ(measured["ingress.breaking_rps"]->note, stress.note);
  EXPECT_TRUE(measured.contains("ingress.rps"));
  EXPECT_FALSE(measured.contains("ingress.breaking_connection_rate"));  // connection_rate: off
  EXPECT_FALSE(ran.run->notes.empty());
}

// The clock breaks on a worker thread once the timed run starts: the driver returns a phase error.
TEST(Ingress, AWorkerExceptionIsAPhaseErrorNotACrash) {
  TestServer server([](const std::string&) { return Reply{testing::ok_response(), false}; });
  class ArmedClock final : public Clock {
   public:
    TimePoint now() const override {
      if (armed_.load() && std::this_thread::get_id() != owner_ && !broken_.exchange(true)) {
        throw std::runtime_error("the clock broke");
      }
      return real_clock().now();
    }
    WallTime wall_now() const override { return real_clock().wall_now(); }
    void sleep_until(TimePoint deadline) override { real_clock().sleep_until(deadline); }
    void arm() { armed_.store(true); }

   private:
    std::thread::id owner_ = std::this_thread::get_id();
    std::atomic<bool> armed_{false};
    mutable std::atomic<bool> broken_{false};
  } clock;
  Result<config::Plan> plan = config::parse_plan(fmt::format(R"(name: it
type: smoke
capacity:
  ingress_rps: 100
  ingress_connection_rate: 50
phases:
  - phase: ingress
    duration: 1m
    load: 10%
    settings:
      url: {}
      connections: 2
      threads: 2
)",
                                                             server.url("/")),
                                                 "it.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(config::apply_duration_scale(*plan, 1.0 / 60));
  DriverRun ran = run_driver(*plan, clock, [&] { clock.arm(); });
  ASSERT_FALSE(ran.run);
  EXPECT_EQ(ran.run.error().kind, ErrorKind::internal);
  EXPECT_NE(ran.run.error().message.find("failed: the clock broke"), std::string::npos)
      << ran.run.error().message;
}

}  // namespace
}  // namespace kp::drivers::ingress
