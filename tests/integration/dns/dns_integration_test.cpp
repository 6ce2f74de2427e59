// The DNS phase against real servers: the lab's authoritative and caching unbound (started here into a temp
// state dir on free ports, stopped at the end), and in-process fake servers that stay silent or misbehave.
// Nothing here sleeps to synchronise: waits poll a condition with a deadline.

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "config/criteria.hpp"
#include "config/plan.hpp"
#include "dns_test_support.hpp"
#include "drivers/dns/agent.hpp"
#include "drivers/dns/dns_phase.hpp"
#include "drivers/dns/driver.hpp"
#include "engine/orchestrator.hpp"
#include "eval/evaluation.hpp"
#include "lab/cluster_zone.hpp"
#include "prom/prometheus_text.hpp"
#include "report/live_metrics.hpp"

namespace kp::drivers::dns {
namespace {

DriverOptions lab_options(const std::filesystem::path& lab_dir) {
  DriverOptions options;
  options.lab_dir = lab_dir;
  return options;
}

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::DnsLab;
using testing::FakeServer;

class CollectingSink final : public engine::ProgressSink {
 public:
  void message(Phase /*phase*/, std::string_view text) override {
    std::lock_guard lock(mutex_);
    lines.emplace_back(text);
  }
  std::mutex mutex_;
  std::vector<std::string> lines;
};

const Measurement* find(const engine::PhaseRun& run, std::string_view metric) {
  for (const Measurement& m : run.measurements) {
    if (m.metric == metric) {
      return &m;
    }
  }
  return nullptr;
}

std::vector<config::CriteriaRow> default_rows() {
  Result<config::Criteria> criteria = config::load_criteria(config::default_criteria_path());
  EXPECT_TRUE(criteria) << (criteria ? "" : criteria.error().message);
  return *criteria->active_rows(config::TierSelection{});
}

eval::PhaseEvaluation evaluate(const engine::PhaseRun& run) {
  eval::PhaseInput input{.phase = Phase::dns,
                         .status = eval::PhaseStatus::completed,
                         .reason = {},
                         .measurements = run.measurements,
                         .invalid_reasons = run.invalid_reasons,
                         .stress = run.stress,
                         .notes = run.notes,
                         .lateness = run.lateness,
                         .ran_after_failure = {}};
  return eval::evaluate_phase(input, default_rows());
}

// The phase against `server` with settings tweaked by the test, through the same DnsPhase the driver uses.
struct PhaseOutcome {
  Result<engine::PhaseRun> run;
  std::optional<LoadResult> load;
  std::optional<CacheDelta> cache;
  std::string cache_problem;
};

PhaseOutcome run_phase(Settings settings, Duration duration, const std::string& server,
                       const std::string& control = {}) {
  Result<RunShape> shape = shape_run(settings, config::Capacity{}, 1.0, duration);
  if (!shape) {
    return PhaseOutcome{std::unexpected(shape.error()), {}, {}, {}};
  }
  DnsPhase phase(settings, *shape, real_clock(), {}, judging_from(load::CriteriaView({})));
  std::unique_ptr<CacheStatsSource> stats;
  if (!control.empty()) {
    stats = unbound_stats_source(*parse_server(control), seconds(5), real_clock());
  }
  Result<void> prepared = phase.prepare(*parse_server(server), std::move(stats));
  if (!prepared) {
    return PhaseOutcome{std::unexpected(prepared.error()), {}, {}, {}};
  }
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  return PhaseOutcome{std::move(run), phase.load(), phase.cache(), phase.cache_problem()};
}

double unbound_ratio_delta(const std::string& before, const std::string& after, double* hits,
                           double* misses) {
  auto counters = [](const std::string& text) { return *unbound_cache_counters(*parse_unbound_stats(text)); };
  CacheCounters b = counters(before);
  CacheCounters a = counters(after);
  *hits = a.hits - b.hits;
  *misses = a.misses - b.misses;
  return *hits / (*hits + *misses);
}

class DnsLabIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::unbound_installed()) {
      return;
    }
    lab_ = new DnsLab("suite");
  }
  static void TearDownTestSuite() {
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    if (lab_ == nullptr) {
      GTEST_SKIP() << "unbound is not installed (Debian package unbound)";
    }
    ASSERT_TRUE(lab_->ok()) << lab_->error();
  }
  // The plan's DNS phase through the orchestrator, against the suite's lab, as `run --only dns` does.
  static Result<engine::RunResult> run_dns_only(const config::Plan& plan, engine::ProgressSink& sink) {
    engine::Orchestrator orchestrator(
        {{Phase::dns, driver_factory(lab_options(lab_->dir()))}}, default_rows(),
        engine::OrchestratorOptions{.continue_on_fail = false, .only = {Phase::dns}}, real_clock(), sink);
    engine::CancellationToken cancel;
    return orchestrator.run(plan, cancel);
  }
  static DnsLab* lab_;
};
DnsLab* DnsLabIntegration::lab_ = nullptr;

TEST_F(DnsLabIntegration, AnswersMatchTheZone) {
  ServerAddress cache = *parse_server(lab_->dns());
  std::vector<lab::ZoneRecord> records = lab::cluster_zone_records(lab::ClusterShape{});
  int checked = 0;
  for (std::size_t i = 2; i < records.size(); i += 37) {
    const lab::ZoneRecord& record = records[i];
    PreparedQuery query = *prepare_query(record.owner, *parse_type(record.type));
    Protocol protocol = checked % 5 == 0 ? Protocol::tcp : Protocol::udp;
    Result<Message> answer = query_once(cache, query, protocol, seconds(2), real_clock());
    ASSERT_TRUE(answer) << record.text() << ": " << answer.error().message;
    EXPECT_EQ(answer->header.rcode, rcode::noerror) << record.text();
    ASSERT_EQ(answer->answers.size(), 1u) << record.text();
    EXPECT_EQ(answer->answers[0].name, record.owner);
    EXPECT_EQ(type_name(answer->answers[0].type), record.type);
    EXPECT_EQ(answer->answers[0].data, record.data) << record.text();
    EXPECT_LE(answer->answers[0].ttl, record.ttl);
    ++checked;
  }
  EXPECT_GT(checked, 100);

  // Names outside the zone: NXDOMAIN with the zone's SOA (so the cache may keep the denial); a name with
  // another type: NODATA.
  Result<Message> missing = query_once(cache, *prepare_query("nope.default.svc.cluster.local", type::a),
                                       Protocol::udp, seconds(2), real_clock());
  ASSERT_TRUE(missing) << missing.error().message;
  EXPECT_EQ(missing->header.rcode, rcode::nxdomain);
  ASSERT_EQ(missing->authority.size(), 1u);
  EXPECT_EQ(missing->authority[0].type, type::soa);
  EXPECT_EQ(missing->authority[0].name, "cluster.local.");
  Result<Message> nodata =
      query_once(cache, *prepare_query("kubernetes.default.svc.cluster.local", type::aaaa), Protocol::udp,
                 seconds(2), real_clock());
  ASSERT_TRUE(nodata);
  EXPECT_EQ(nodata->header.rcode, rcode::noerror);
  EXPECT_TRUE(nodata->answers.empty());
  Result<Message> internet =
      query_once(cache, *prepare_query("www.kernel.org", type::a), Protocol::udp, seconds(2), real_clock());
  ASSERT_TRUE(internet);
  EXPECT_EQ(internet->header.rcode, rcode::nxdomain) << "the lab never leaves the host";
}

TEST_F(DnsLabIntegration, CacheHitRatioEqualsUnboundsOwnStatistics) {
  const std::vector<std::string> control = {"unbound-control", "-c", lab_->cache_config().string(),
                                            "stats_noreset"};
  Result<std::string> before = testing::run_capture(control);
  ASSERT_TRUE(before) << before.error().message;

  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{4000});
  settings.clients = 4;
  settings.threads = 1;
  settings.total = 8000;
  PhaseOutcome outcome = run_phase(settings, seconds(10), lab_->dns(), lab_->control());
  ASSERT_TRUE(outcome.run) << outcome.run.error().message;

  Result<std::string> after = testing::run_capture(control);
  ASSERT_TRUE(after) << after.error().message;
  double hits = 0;
  double misses = 0;
  const double expected = unbound_ratio_delta(*before, *after, &hits, &misses);

  const Measurement* ratio = find(*outcome.run, "dns.cache_hit_ratio");
  ASSERT_NE(ratio, nullptr) << outcome.cache_problem;
  EXPECT_DOUBLE_EQ(ratio->value, expected);
  EXPECT_EQ(outcome.cache->hits, hits);
  EXPECT_EQ(outcome.cache->misses, misses);
  // A few hundred names asked, first time each in this lab (30 s TTLs): both hits and misses happen.
  EXPECT_GT(hits, 0);
  EXPECT_GT(misses, 0);

  const LoadResult& load = *outcome.load;
  EXPECT_EQ(load.counters.lost, 0u);
  EXPECT_EQ(load.counters.sent, 8000u);
  EXPECT_EQ(load.counters.responses, 8000u);
  // The mix's share of NXDOMAIN (search misses) and NODATA (AAAA): about 10 % each of a prefix of the mix.
  EXPECT_NEAR(double(load.counters.rcodes[rcode::nxdomain]), 800, 80);
  EXPECT_NEAR(double(load.counters.nodata), 800, 80);
  EXPECT_EQ(load.counters.rcodes[rcode::nxdomain] + load.counters.rcodes[rcode::noerror], 8000u);
  // Open loop: the answered rate is the offered one (a shared, busy machine may make sends late, which the
  // phase reports as INVALID, but not fewer).
  const Measurement* qps = find(*outcome.run, "dns.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_NEAR(qps->value, 4000, 400);
}

TEST_F(DnsLabIntegration, PodResolverWalksTheSearchList) {
  Settings settings;
  settings.pod_resolver = true;
  settings.rate = load::RateSetting::fixed_at(Rate{1000});
  settings.clients = 2;
  settings.threads = 1;
  PhaseOutcome outcome = run_phase(settings, seconds(1), lab_->dns());
  ASSERT_TRUE(outcome.run) << outcome.run.error().message;
  const Counters& c = outcome.load->counters;
  EXPECT_EQ(c.lookups_started, 1000u);
  // Every application name exists at some step of its walk.
  EXPECT_EQ(c.lookups_answered, c.lookups_started);
  EXPECT_GT(c.walk_nxdomain, 0u);
  const double per_lookup = double(c.sent) / double(c.lookups_started);
  EXPECT_GT(per_lookup, 1.5);
  EXPECT_LT(per_lookup, 4.0);
  EXPECT_EQ(outcome.load->lookup_latency.count(), 1000u);
  // The whole lookup through the search list is a catalog metric of its own.
  const Measurement* lookup = find(*outcome.run, "dns.lookup.p99");
  ASSERT_NE(lookup, nullptr);
  EXPECT_GT(lookup->value, 0);
}

TEST_F(DnsLabIntegration, TcpAndMaxModes) {
  Settings tcp;
  tcp.protocol = Protocol::tcp;
  tcp.rate = load::RateSetting::maximum();
  tcp.outstanding = 50;
  tcp.clients = 2;
  tcp.threads = 1;
  tcp.total = 3000;
  PhaseOutcome over_tcp = run_phase(tcp, seconds(20), lab_->dns());
  ASSERT_TRUE(over_tcp.run) << over_tcp.run.error().message;
  EXPECT_EQ(over_tcp.load->counters.lookups_started, 3000u);
  EXPECT_EQ(over_tcp.load->counters.responses, 3000u);
  EXPECT_EQ(over_tcp.load->counters.connection_lost, 0u);

  Settings udp = tcp;
  udp.protocol = Protocol::udp;
  udp.outstanding = 100;
  udp.clients = 4;
  udp.total = 20000;
  PhaseOutcome max = run_phase(udp, seconds(20), lab_->dns());
  ASSERT_TRUE(max.run) << max.run.error().message;
  EXPECT_EQ(max.load->counters.responses, 20000u);
  EXPECT_EQ(max.load->counters.lost, 0u);
  EXPECT_TRUE(max.run->invalid_reasons.empty());
}

TEST_F(DnsLabIntegration, DriverRunsThePhaseWithTheDnsRowsOfTheReport) {
  // The lab's endpoints are found through its state dir, as `run --target local` does.
  const char* yaml = R"(
name: it
type: smoke
target: local
capacity:
  dns_qps: 3k
phases:
  - phase: dns
    duration: 1m
    load: 100%
    settings:
      clients: 4
      threads: 1
)";
  Result<config::Plan> plan = config::parse_plan(yaml, "it.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(config::apply_duration_scale(*plan, 0.04));  // 2.4 s
  CollectingSink sink;
  // Live metrics on, as `run --metrics-listen` has them.
  report::LiveMetrics live({"it", "it", "smoke", "local"});
  report::LiveProgress live_sink(sink, live);
  Result<engine::RunResult> result = run_dns_only(*plan, live_sink);
  ASSERT_TRUE(result) << result.error().message;
  const eval::PhaseEvaluation& dns = result->evaluation.phases.at(static_cast<std::size_t>(Phase::dns));
  EXPECT_EQ(dns.status, eval::PhaseStatus::completed) << dns.reason;
  {
    // Every query the report's P99 covers (answers, and lost queries at their timeout) was counted live, and
    // the live page carries the phase's verdict once the orchestrator judged it.
    Result<prom::Exposition> page = prom::parse_text(live.render());
    ASSERT_TRUE(page) << page.error().message;
    Result<double> live_all =
        prom::scalar(*page, "kubeproof_live_completions_total", {{"phase", "dns"}, {"series", "query"}});
    ASSERT_TRUE(live_all) << live_all.error().message;
    const eval::PhaseInput& input = result->inputs.at(static_cast<std::size_t>(Phase::dns));
    const auto p99 = std::find_if(input.measurements.begin(), input.measurements.end(),
                                  [](const Measurement& m) { return m.metric == "dns.p99"; });
    ASSERT_NE(p99, input.measurements.end());
    ASSERT_TRUE(p99->histogram.has_value());
    EXPECT_EQ(*live_all, static_cast<double>(p99->histogram->count()));
    EXPECT_EQ(*prom::scalar(*page, "kubeproof_live_phase_running", {{"phase", "dns"}}), 0.0);
    EXPECT_EQ(*prom::scalar(*page, "kubeproof_phase_verdict",
                            {{"phase", "dns"}, {"verdict", std::string(eval::to_string(dns.verdict))}}),
              1.0);
  }
  std::set<std::string> measured;
  for (const eval::RowResult& row : dns.rows) {
    EXPECT_TRUE(row.measured) << row.row.metric;
    if (row.measured) {
      measured.insert(row.row.metric);
    }
  }
  EXPECT_EQ(measured, (std::set<std::string>{"dns.qps", "dns.p99", "dns.cache_hit_ratio"}));
  for (const eval::RowResult& row : dns.rows) {
    if (row.row.metric == "dns.cache_hit_ratio") {
      // The suite's earlier tests asked the same few hundred names less than 30 s ago, so every one may
      // still be cached (the test on unbound's statistics checks that misses happen on a cold cache).
      EXPECT_GT(*row.measured, 0.9);
      EXPECT_LE(*row.measured, 1.0);
    }
    if (row.row.metric == "dns.p99") {
      EXPECT_GT(*row.measured, 0.0);
      EXPECT_LT(*row.measured, 1.0);  // loopback; generous because the test machine may be busy
    }
  }
  EXPECT_FALSE(sink.lines.empty());
}

TEST_F(DnsLabIntegration, StressRampHoldsEveryStepAtALowCapacity) {
  // The real unbound holds 1000/s on loopback with room to spare: every step of the ramp (500/s to 1000/s)
  // holds, so the breaking point is reported as not reached and no dns.breaking_rate is invented.
  const char* yaml = R"(
name: it
type: stress
target: local
capacity:
  dns_qps: 500
phases:
  - phase: dns
    duration: 10m
    load: 150%
    settings:
      clients: 4
      threads: 1
)";
  Result<config::Plan> plan = config::parse_plan(yaml, "it.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  ASSERT_TRUE(config::apply_duration_scale(*plan, 0.005));  // 3 s: five steps of 0.6 s
  CollectingSink sink;
  Result<engine::RunResult> result = run_dns_only(*plan, sink);
  ASSERT_TRUE(result) << result.error().message;
  const eval::PhaseEvaluation& dns = result->evaluation.phases.at(static_cast<std::size_t>(Phase::dns));
  EXPECT_EQ(dns.status, eval::PhaseStatus::completed) << dns.reason;
  std::string notes;
  for (const eval::PhaseInput& input : result->inputs) {
    for (const std::string& note : input.notes) {
      notes += note + "\n";
    }
    for (const Measurement& m : input.measurements) {
      EXPECT_NE(m.metric, "dns.breaking_rate") << m.note;
      notes += m.note + "\n";
      if (m.metric == "dns.qps") {
        EXPECT_NEAR(m.value, 1000, 100);  // judged on the last step held: x2 of 500/s
        EXPECT_EQ(m.offered, 1000);
      }
    }
  }
  EXPECT_NE(notes.find("breaking point not reached: every step held, up to 1000 QPS (x2)"), std::string::npos)
      << notes;
  for (const char* step :
       {"x1 at 500/s", "x1.25 at 625/s", "x1.5 at 750/s", "x1.75 at 875/s", "x2 at 1000/s"}) {
    EXPECT_NE(notes.find(fmt::format("stress step {}: answered", step)), std::string::npos) << step << "\n"
                                                                                            << notes;
  }
}

TEST_F(DnsLabIntegration, LabWithoutUnboundSkipsThePhase) {
  const fs::path empty = fs::temp_directory_path() / fmt::format("kp-dns-it-{}-empty", getpid());
  Result<config::Plan> plan = config::parse_plan(
      "name: x\ntype: smoke\ncapacity:\n  dns_qps: 1k\nphases:\n  - phase: dns\n", "x.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  std::unique_ptr<engine::Driver> driver = make_driver(*plan, lab_options(empty));
  CollectingSink sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{*plan, plan->phases.front(), real_clock(), cancel, sink};
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);
  EXPECT_NE(prepared.error().message.find("no unbound"), std::string::npos) << prepared.error().message;
  driver->teardown(context);
}

// --- servers that do not behave -------------------------------------------------------------------------

TEST(DnsFaults, SilentServerLosesQueriesWithAFailVerdictInBoundedTime) {
  FakeServer silent([](const std::vector<std::uint8_t>&, std::uint64_t) {
    return std::vector<std::vector<std::uint8_t>>{};
  });
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{500});
  settings.clients = 2;
  settings.threads = 1;
  settings.timeout = milliseconds(200);
  settings.failure_window = seconds(1);
  const TimePoint start = real_clock().now();
  PhaseOutcome outcome = run_phase(settings, seconds(30), silent.address());
  const Duration took = real_clock().now() - start;
  ASSERT_TRUE(outcome.run) << outcome.run.error().message;
  // The probe (200 ms) + the failure window (1 s) + draining the last timeouts (200 ms), not 30 s.
  EXPECT_LT(took, seconds(5));
  const LoadResult& load = *outcome.load;
  EXPECT_GT(load.counters.lost, 100u);
  EXPECT_EQ(load.counters.responses, 0u);
  EXPECT_NE(load.stopped_early.find("no response from " + silent.address()), std::string::npos)
      << load.stopped_early;
  EXPECT_TRUE(outcome.run->invalid_reasons.empty());
  eval::PhaseEvaluation verdict = evaluate(*outcome.run);
  EXPECT_EQ(verdict.verdict, eval::Verdict::fail) << verdict.reason;
}

TEST(DnsFaults, UnreachableServerIsCountedAndStops) {
  const std::string address = fmt::format("127.0.0.1:{}", testing::closed_udp_port());
  for (Protocol protocol : {Protocol::udp, Protocol::tcp}) {
    Settings settings;
    settings.protocol = protocol;
    settings.rate = load::RateSetting::fixed_at(Rate{500});
    settings.clients = 1;
    settings.threads = 1;
    settings.timeout = milliseconds(200);
    settings.failure_window = milliseconds(500);
    const TimePoint start = real_clock().now();
    PhaseOutcome outcome = run_phase(settings, seconds(30), address);
    ASSERT_TRUE(outcome.run) << outcome.run.error().message;
    EXPECT_LT(real_clock().now() - start, seconds(5)) << to_string(protocol);
    const Counters& c = outcome.load->counters;
    EXPECT_EQ(c.responses, 0u);
    EXPECT_GT(c.lost + c.send_errors + c.connection_lost, 0u) << to_string(protocol);
    if (protocol == Protocol::udp) {
      EXPECT_GT(c.refused_icmp, 0u);
    }
    EXPECT_FALSE(outcome.load->stopped_early.empty());
    EXPECT_EQ(evaluate(*outcome.run).verdict, eval::Verdict::fail) << to_string(protocol);
  }
}

TEST(DnsFaults, GarbageIsCountedNeverCrashes) {
  using Packet = std::vector<std::uint8_t>;
  // Per query, by arrival order (one socket, one thread, so arrivals follow sends):
  //   0: a 5-byte stub, a wrong ID, another question, a query (QR clear), an oversized datagram, then the
  //   answer 1: only a truncated header: the query is lost 2: the answer with TC set: asked again over TCP,
  //   answered there 3: the answer twice: the second is late (its ID is no longer in flight)
  FakeServer garbage(
      [](const Packet& query, std::uint64_t index) {
        std::vector<Packet> replies;
        Packet good = testing::answer_to(query);
        switch (index % 4) {
          case 0: {
            replies.push_back(Packet(good.begin(), good.begin() + 5));
            Packet wrong_id = good;
            wrong_id[0] ^= 0x80;
            replies.push_back(wrong_id);
            Packet other = testing::answer_to(prepare_query("other.example", type::a)->wire);
            other[0] = query[0];
            other[1] = query[1];
            replies.push_back(other);
            Packet not_response = query;
            replies.push_back(not_response);
            Packet huge = good;
            huge.resize(5000, 0);
            replies.push_back(huge);
            replies.push_back(good);
            break;
          }
          case 1:
            replies.push_back(Packet(good.begin(), good.begin() + 11));
            break;
          case 2:
            replies.push_back(testing::answer_to(query, 1, 0, true));
            break;
          default:
            replies.push_back(good);
            replies.push_back(good);
            break;
        }
        return replies;
      },
      [](const Packet& query) { return testing::answer_to(query, 2); });
  Settings settings;
  settings.queries = "kubernetes";
  settings.rate = load::RateSetting::fixed_at(Rate{2000});
  settings.clients = 1;
  settings.threads = 1;
  settings.total = 400;
  // Long enough that a busy machine's scheduling stall cannot turn an answered query into a lost one (the
  // exact counts below assume only the 11-byte headers are lost); the run still ends about 2 s after its
  // last query.
  settings.timeout = seconds(2);
  PhaseOutcome outcome = run_phase(settings, seconds(10), garbage.address());
  ASSERT_TRUE(outcome.run) << outcome.run.error().message;
  const Counters& c = outcome.load->counters;
  // The probe before the run was the server's query 0 (it took the oversized datagram, whose question
  // matched); the run's 400 queries are its 1..400, 100 of each kind.
  EXPECT_EQ(c.sent, 400u + 100u);  // + the TCP retries
  EXPECT_EQ(c.tcp_retries, 100u);
  EXPECT_EQ(c.truncated, 100u);
  EXPECT_EQ(c.lost, 100u);
  EXPECT_EQ(c.responses, 300u);
  EXPECT_EQ(c.malformed, 300u);      // 5-byte stubs, oversized datagrams, 11-byte headers
  EXPECT_EQ(c.mismatched, 200u);     // another question, QR clear
  EXPECT_EQ(c.unexpected_id, 200u);  // wrong IDs, duplicate answers
  EXPECT_EQ(garbage.tcp_queries(), 100u);
  EXPECT_NE(find(*outcome.run, "dns.qps")->note.find("ignored datagrams"), std::string::npos);
}

TEST(DnsFaults, BadQueryFileLineNamesFileAndLine) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("kp-dns-it-{}-plan", getpid());
  fs::create_directories(dir);
  {
    std::ofstream(dir / "queries.txt") << "; k8s names\nkubernetes.default.svc.cluster.local A\n"
                                       << "kube-dns.kube-system.svc.cluster.local AAA\n";
  }
  std::ofstream(dir / "plan.yaml") << "name: x\ntype: smoke\nphases:\n  - phase: dns\n    settings:\n"
                                      "      queries: queries.txt\n";
  Result<config::Plan> plan = config::load_plan(dir / "plan.yaml");
  ASSERT_TRUE(plan) << plan.error().message;
  std::unique_ptr<engine::Driver> driver = make_driver(*plan, lab_options(dir));
  CollectingSink sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{*plan, plan->phases.front(), real_clock(), cancel, sink};
  Result<void> valid = driver->validate(context);
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().kind, ErrorKind::input);
  EXPECT_EQ(valid.error().message,
            (dir / "queries.txt").string() +
                ":3: unknown query type \"AAA\" (A, AAAA, SRV, PTR, TXT, ... or TYPE<n>)");

  AgentOptions options;
  options.queries = (dir / "queries.txt").string();
  Result<AgentPlan> agent = to_agent_plan(options);
  ASSERT_FALSE(agent);
  EXPECT_EQ(agent.error().message, valid.error().message);
  fs::remove_all(dir);
}

TEST(DnsFaults, CancellationStopsPromptlyKeepingWhatWasMeasured) {
  engine::CancellationToken cancel;
  FakeServer server([&cancel](const std::vector<std::uint8_t>& query, std::uint64_t index) {
    if (index == 300) {
      cancel.request();
    }
    return std::vector<std::vector<std::uint8_t>>{testing::answer_to(query)};
  });
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{2000});
  settings.clients = 2;
  settings.threads = 2;
  Result<RunShape> shape = shape_run(settings, config::Capacity{}, 1.0, seconds(60));
  ASSERT_TRUE(shape) << shape.error().message;
  DnsPhase phase(settings, *shape, real_clock(), {}, judging_from(load::CriteriaView({})));
  ASSERT_TRUE(phase.prepare(*parse_server(server.address()), nullptr));
  const TimePoint start = real_clock().now();
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_LT(real_clock().now() - start, seconds(5));
  EXPECT_TRUE(phase.load()->cancelled);
  EXPECT_GE(phase.load()->counters.responses, 250u);
  EXPECT_NE(find(*run, "dns.qps"), nullptr);
  EXPECT_TRUE(run->invalid_reasons.empty());
}

}  // namespace
}  // namespace kp::drivers::dns
