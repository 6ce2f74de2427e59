// Against a real etcd started through src/lab (temp state dir, free ports), stopped at the end.
// Nothing here sleeps to synchronise: waits poll a condition with a deadline.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "config/metric_catalog.hpp"
#include "drivers/etcd/agent.hpp"
#include "drivers/etcd/driver.hpp"
#include "drivers/etcd/etcd_phase.hpp"
#include "drivers/etcd/server_metrics.hpp"
#include "lab/lab.hpp"
#include "lab/ports.hpp"
#include "lab/process.hpp"
#include "prom/prometheus_text.hpp"
#include "report/live_metrics.hpp"

namespace kp::drivers::etcd {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A lab of its own, in a temp dir, for one test suite (or one test).
class ScopedLab {
 public:
  explicit ScopedLab(std::string name) {
    dir_ = fs::temp_directory_path() / fmt::format("kp-etcd-it-{}-{}", getpid(), name);
    fs::remove_all(dir_);
    lab::LabOptions options;
    options.state_dir = dir_;
    Result<std::vector<lab::ServiceRecord>> started = lab::up(options, real_clock());
    if (started) {
      record_ = started->front();
    } else {
      error_ = started.error();
    }
  }
  ~ScopedLab() {
    (void)lab::down(dir_, real_clock());
    fs::remove_all(dir_);
  }
  bool ok() const { return record_.has_value(); }
  const Error& error() const { return error_; }
  const lab::ServiceRecord& record() const { return *record_; }
  const fs::path& dir() const { return dir_; }
  std::string client() const { return record_->endpoints.at("client"); }
  std::string metrics() const { return record_->endpoints.at("metrics"); }

 private:
  fs::path dir_;
  std::optional<lab::ServiceRecord> record_;
  Error error_;
};

class CollectingSink final : public engine::ProgressSink {
 public:
  void message(Phase /*phase*/, std::string_view text) override {
    std::lock_guard lock(mutex_);
    lines.emplace_back(text);
  }
  std::mutex mutex_;
  std::vector<std::string> lines;
};

bool etcd_installed() {
  return lab::find_executable("etcd").has_value();
}

class EtcdIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (etcd_installed()) {
      lab_ = new ScopedLab("shared");
    }
  }
  static void TearDownTestSuite() {
    delete lab_;
    lab_ = nullptr;
  }
  void SetUp() override {
    if (!etcd_installed()) {
      GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
    }
    ASSERT_TRUE(lab_->ok()) << lab_->error().message;
  }
  static ScopedLab* lab_;
};
ScopedLab* EtcdIntegration::lab_ = nullptr;

Settings small_settings(std::string prefix) {
  Settings settings;
  settings.key_prefix = std::move(prefix);
  settings.key_size = 64;
  settings.value_size = 256;
  settings.key_space = 1000;
  settings.connections = 2;
  settings.clients = 8;
  settings.request_timeout = seconds(2);
  settings.failure_window = seconds(1);
  return settings;
}

TEST_F(EtcdIntegration, LabStatusShowsAHealthyEtcdAndRefusesASecondUp) {
  std::vector<lab::ServiceStatus> statuses = lab::status(lab_->dir(), seconds(2));
  auto etcd = std::find_if(statuses.begin(), statuses.end(), [](const auto& s) { return s.name == "etcd"; });
  ASSERT_NE(etcd, statuses.end());
  EXPECT_TRUE(etcd->running);
  EXPECT_TRUE(etcd->healthy) << etcd->detail;
  EXPECT_EQ(etcd->record->pid, lab_->record().pid);
  EXPECT_TRUE(lab::is_same_service(lab_->record(), lab_->record().pid));

  lab::LabOptions again;
  again.state_dir = lab_->dir();
  Result<std::vector<lab::ServiceRecord>> second = lab::up(again, real_clock());
  ASSERT_FALSE(second);
  EXPECT_EQ(
      second.error().message,
      fmt::format("lab: etcd is already running (pid {}, state dir \"{}\"); run `kubeproof lab down` first",
                  lab_->record().pid, lab_->dir().string()));

  // Another lab asking for the running etcd's client port is refused before it starts anything.
  fs::path other = fs::temp_directory_path() / fmt::format("kp-etcd-it-{}-other", getpid());
  lab::LabOptions clash;
  clash.state_dir = other;
  clash.ports = {{"etcd.client", lab_->record().ports.at("client")}};
  Result<std::vector<lab::ServiceRecord>> refused = lab::up(clash, real_clock());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::usage);
  EXPECT_FALSE(fs::exists(other / "etcd"));
}

TEST_F(EtcdIntegration, PutAndRangeCountsMatchWhatEtcdReports) {
  Settings settings = small_settings("kp-it-counts/");
  settings.workload = Workload::write_then_read;
  settings.total = 2000;
  settings.rate = load::RateSetting::maximum();
  settings.sequential_keys = true;
  Result<RunPlan> plan = plan_run(settings, PlanInput{.type = config::TestType::load,
                                                      .capacity = std::nullopt,
                                                      .load = 1.0,
                                                      .duration = seconds(60),
                                                      .where = ""});
  ASSERT_TRUE(plan) << plan.error().message;
  EtcdPhase phase(settings, *plan, real_clock(), nullptr);
  ASSERT_TRUE(phase.prepare(Endpoint{
      .endpoints = {lab_->client()}, .metrics_url = lab_->metrics(), .tls = {}, .member_metrics_urls = {}}));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_EQ(phase.stages().size(), 2u);
  const StageResult& write = phase.stages()[0];
  const StageResult& read = phase.stages()[1];
  EXPECT_EQ(write.put.ok, 2000u);
  EXPECT_EQ(write.put.errors, 0u);
  EXPECT_EQ(read.range.ok, 2000u);
  ASSERT_TRUE(phase.server().has_value());
  // etcd's own counters, after minus before: every request we counted, and no other (the lab is ours alone).
  EXPECT_EQ(phase.server()->puts_ok, 2000.0);
  EXPECT_EQ(phase.server()->ranges_ok, 2000.0);
  // Sequential keys over a key space of 1000: exactly 1000 distinct keys exist.
  Result<Connections> connections = open_connections({lab_->client()}, {}, 1);
  ASSERT_TRUE(connections);
  EXPECT_EQ(*count_prefix(connections->channels[0], "kp-it-counts/", seconds(2)), 1000);
  phase.teardown();
  EXPECT_EQ(*count_prefix(connections->channels[0], "kp-it-counts/", seconds(2)), 0);
}

TEST_F(EtcdIntegration, DriverPhaseResultHasEveryEtcdMetric) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  plan.type = config::TestType::smoke;
  plan.target = config::Target::local;
  plan.capacity.etcd_ops = Rate{1500};
  config::PhasePlan phase_plan;
  phase_plan.phase = Phase::etcd;
  phase_plan.duration = seconds(4);
  phase_plan.load = 0.1;
  phase_plan.path = "phases[0]";
  phase_plan.settings = YAML::Load("key_prefix: kp-it-driver/\nclients: 20\n");
  plan.phases.push_back(phase_plan);
  CollectingSink people;
  // Live metrics on, as `run --metrics-listen` has them: the live counts must be the measured ones.
  report::LiveMetrics live({"it", "it", "smoke", "local"});
  report::LiveProgress sink(people, live);
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases[0], real_clock(), cancel, sink};
  std::unique_ptr<engine::Driver> driver = make_driver(plan, lab_->dir());
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> run = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(run) << run.error().message;
  // Whether the generator kept its schedule depends on how busy the machine is (a timing goal: bench/); any
  // other reason to call the run INVALID is a failure here.
  for (const std::string& reason : run->invalid_reasons) {
    EXPECT_TRUE(reason.starts_with("the load generator's own send lateness P99 ")) << reason;
  }
  // The generator's statement and where the rate came from, for every report.
  ASSERT_GE(run->notes.size(), 3u);
  EXPECT_TRUE(run->notes[0].starts_with("writes: offered 150/s")) << run->notes[0];
  EXPECT_TRUE(run->notes[1].starts_with("reads: offered 150/s")) << run->notes[1];
  EXPECT_EQ(run->notes[2], "rate 150/s = capacity.etcd_ops 1500/s x 10%");
  std::set<std::string> measured;
  for (const Measurement& m : run->measurements) {
    measured.insert(m.metric);
  }
  for (const config::MetricInfo& info : config::metric_catalog()) {
    // The breaking rates are found only by a stress run's searches; this is a smoke run.
    if (info.phase == Phase::etcd && !info.id.ends_with(".breaking_rate")) {
      EXPECT_TRUE(measured.contains(std::string(info.id))) << info.id;
    }
  }
  for (const Measurement& m : run->measurements) {
    if (m.metric == "etcd.write.throughput") {
      EXPECT_NEAR(m.value, 150.0, 15.0);  // smoke: capacity.etcd_ops 1500/s x 10 %
    }
    if (m.metric == "etcd.leader_changes") {
      EXPECT_EQ(m.value, 0.0);
    }
  }
  Result<prom::Exposition> page = prom::parse_text(live.render());
  ASSERT_TRUE(page) << page.error().message;
  for (const auto& [metric, series] :
       {std::pair{"etcd.write.p99", "put"}, std::pair{"etcd.read.p99", "range"}}) {
    const auto it = std::find_if(run->measurements.begin(), run->measurements.end(),
                                 [&](const Measurement& m) { return m.metric == metric; });
    ASSERT_NE(it, run->measurements.end()) << metric;
    ASSERT_TRUE(it->histogram.has_value()) << metric;
    Result<double> live_ok = prom::scalar(*page, "kubeproof_live_completions_total",
                                          {{"phase", "etcd"}, {"series", series}, {"outcome", "ok"}});
    ASSERT_TRUE(live_ok) << live_ok.error().message;
    EXPECT_EQ(*live_ok, static_cast<double>(it->histogram->count())) << metric;
  }
  Result<Connections> connections = open_connections({lab_->client()}, {}, 1);
  EXPECT_EQ(*count_prefix(connections->channels[0], "kp-it-driver/", seconds(2)), 0);  // teardown cleaned up
}

// A short stress run against the real etcd: a search for writes and one for reads, each on the kernel's ramp
// from capacity, every step reported; a breaking rate is a measurement only where a step broke.
TEST_F(EtcdIntegration, StressSearchesWritesAndReads) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  plan.type = config::TestType::stress;
  plan.target = config::Target::local;
  plan.capacity.etcd_ops = Rate{200};
  config::PhasePlan phase_plan;
  phase_plan.phase = Phase::etcd;
  phase_plan.duration = seconds(8);
  phase_plan.load = 1.5;
  phase_plan.path = "phases[0]";
  phase_plan.settings =
      YAML::Load("key_prefix: kp-it-stress/\nclients: 20\nstress: {steps: [100%, 200%], bisect: 0}\n");
  plan.phases.push_back(phase_plan);
  CollectingSink sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases[0], real_clock(), cancel, sink};
  std::unique_ptr<engine::Driver> driver = make_driver(plan, lab_->dir());
  Result<void> valid = driver->validate(context);
  ASSERT_TRUE(valid) << valid.error().message;
  Result<void> prepared = driver->prepare(context);
  ASSERT_TRUE(prepared) << prepared.error().message;
  Result<engine::PhaseRun> run = driver->run(context);
  driver->teardown(context);
  ASSERT_TRUE(run) << run.error().message;
  ASSERT_EQ(run->stress.size(), 2u);
  EXPECT_EQ(run->stress[0].metric, "etcd.write.breaking_rate");
  EXPECT_EQ(run->stress[1].metric, "etcd.read.breaking_rate");
  for (const load::StressResult& search : run->stress) {
    ASSERT_FALSE(search.steps.empty()) << search.metric;
    EXPECT_DOUBLE_EQ(search.steps[0].offered, 200.0) << search.metric;
    EXPECT_FALSE(search.note.empty());
    bool measured = false;
    for (const Measurement& m : run->measurements) {
      measured = measured || m.metric == search.metric;
    }
    EXPECT_EQ(measured, search.breaking_level.has_value()) << search.note;
  }
}

TEST_F(EtcdIntegration, WrongEndpointIsAOneLineNetworkError) {
  Result<std::vector<std::uint16_t>> port = lab::choose_free_ports(1);
  ASSERT_TRUE(port);
  std::string endpoint = fmt::format("127.0.0.1:{}", port->front());
  Settings settings = small_settings("kp-it-wrong/");
  EtcdPhase phase(settings, RunPlan{}, real_clock(), nullptr);
  Result<void> prepared = phase.prepare(
      Endpoint{.endpoints = {endpoint}, .metrics_url = {}, .tls = {}, .member_metrics_urls = {}});
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::network);
  EXPECT_TRUE(prepared.error().message.starts_with(fmt::format("etcd {}: Status: UNAVAILABLE: ", endpoint)))
      << prepared.error().message;
  EXPECT_EQ(prepared.error().message.find('\n'), std::string::npos);
}

TEST_F(EtcdIntegration, WrongCertificatePathIsAOneLineInputError) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  config::PhasePlan phase_plan;
  phase_plan.phase = Phase::etcd;
  phase_plan.path = "phases[0]";
  phase_plan.settings =
      YAML::Load(fmt::format("endpoints: [\"https://{}\"]\ncacert: /nonexistent/ca.crt\n", lab_->client()));
  plan.phases.push_back(phase_plan);
  CollectingSink sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases[0], real_clock(), cancel, sink};
  Result<void> valid = make_driver(plan, lab_->dir())->validate(context);
  ASSERT_FALSE(valid);
  EXPECT_EQ(valid.error().message,
            "plans/it.yaml: phases[0].settings.cacert: no such file, got \"/nonexistent/ca.crt\"");
  // The agent reads the files when it connects: the same mistake, one line naming the flag.
  Result<Connections> connections =
      open_connections({"https://" + lab_->client()},
                       TlsFiles{.ca_file = "/nonexistent/ca.crt", .cert_file = {}, .key_file = {}}, 1);
  ASSERT_FALSE(connections);
  EXPECT_EQ(connections.error().message, "etcd cacert: cannot read \"/nonexistent/ca.crt\"");
}

TEST_F(EtcdIntegration, AgentJsonLine) {
  AgentOptions options;
  options.endpoints = {lab_->client()};
  options.workload = "put";
  options.total = 500;
  options.clients = 10;
  options.key_size = "32";
  options.val_size = "256";
  options.key_prefix = "kp-it-agent/";
  engine::CancellationToken cancel;
  Result<AgentResult> result = run_agent(options, real_clock(), cancel, nullptr);
  ASSERT_TRUE(result) << result.error().message;
  nlohmann::json line = nlohmann::json::parse(agent_json_line(*result));
  EXPECT_EQ(line["kind"], "kubeproof.agent.etcd");
  EXPECT_EQ(line["stages"][0]["put"]["ok"], 500);
  bool has_histogram = false;
  for (const auto& m : line["measurements"]) {
    has_histogram = has_histogram || (m["metric"] == "etcd.write.p99" && m.contains("histogram"));
  }
  EXPECT_TRUE(has_histogram);
  options.rate = "fast";
  EXPECT_EQ(run_agent(options, real_clock(), cancel, nullptr).error().message,
            "--rate: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  options.rate = "capacity";
  EXPECT_EQ(
      run_agent(options, real_clock(), cancel, nullptr).error().message,
      "--rate: an agent has no plan, so no capacity to scale: give a rate > 0 or max, got \"capacity\"");
}

TEST(EtcdIntegrationAlone, LocalTargetWithoutALabIsUnavailable) {
  config::Plan plan;
  plan.source = "plans/it.yaml";
  plan.target = config::Target::local;
  plan.capacity.etcd_ops = Rate{1000};
  config::PhasePlan phase_plan;
  phase_plan.phase = Phase::etcd;
  phase_plan.path = "phases[0]";
  plan.phases.push_back(phase_plan);
  CollectingSink sink;
  engine::CancellationToken cancel;
  engine::PhaseContext context{plan, plan.phases[0], real_clock(), cancel, sink};
  fs::path nowhere = fs::temp_directory_path() / fmt::format("kp-etcd-it-{}-nolab", getpid());
  std::unique_ptr<engine::Driver> driver = make_driver(plan, nowhere);
  ASSERT_TRUE(driver->validate(context));
  Result<void> prepared = driver->prepare(context);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);  // -> the phase is SKIPPED with this reason
  driver->teardown(context);
}

// etcd SIGKILLed under load: the stage ends within failure_window + request_timeout, the errors are counted,
// the run is INVALID with the reason, and the server metrics are reported as not measured.
TEST(EtcdIntegrationAlone, EtcdKilledMidRunGivesCountedErrorsInBoundedTime) {
  if (!etcd_installed()) {
    GTEST_SKIP() << "etcd is not installed (Debian package etcd-server)";
  }
  ScopedLab lab("killed");
  ASSERT_TRUE(lab.ok()) << lab.error().message;
  Settings settings = small_settings("kp-it-kill/");
  settings.workload = Workload::write;
  settings.rate = load::RateSetting::fixed_at(Rate{500});
  Result<RunPlan> plan = plan_run(settings, PlanInput{.type = config::TestType::load,
                                                      .capacity = std::nullopt,
                                                      .load = 1.0,
                                                      .duration = seconds(60),
                                                      .where = ""});
  ASSERT_TRUE(plan) << plan.error().message;
  EtcdPhase phase(settings, *plan, real_clock(), nullptr);
  ASSERT_TRUE(phase.prepare(Endpoint{
      .endpoints = {lab.client()}, .metrics_url = lab.metrics(), .tls = {}, .member_metrics_urls = {}}));
  engine::CancellationToken cancel;
  std::future<Result<engine::PhaseRun>> running =
      std::async(std::launch::async, [&] { return phase.run(cancel); });

  // Wait (polling etcd, bounded) until the load is really flowing, then kill etcd.
  Result<Connections> probe = open_connections({lab.client()}, {}, 1);
  ASSERT_TRUE(probe);
  TimePoint deadline = real_clock().now() + seconds(20);
  while (real_clock().now() < deadline) {
    Result<std::int64_t> keys = count_prefix(probe->channels[0], "kp-it-kill/", seconds(1));
    if (keys && *keys >= 100) {
      break;
    }
  }
  TimePoint killed_at = real_clock().now();
  ASSERT_EQ(kill(lab.record().pid, SIGKILL), 0);

  // failure_window (1s) + request_timeout (2s) + drain margin (1s), with room for a loaded machine.
  ASSERT_EQ(running.wait_for(seconds(15)), std::future_status::ready)
      << "the run did not stop after etcd died";
  Result<engine::PhaseRun> ran = running.get();
  ASSERT_TRUE(ran) << ran.error().message;
  engine::PhaseRun& run = *ran;
  Duration took = real_clock().now() - killed_at;
  EXPECT_LT(took, seconds(10));
  ASSERT_EQ(phase.stages().size(), 1u);
  const StageResult& stage = phase.stages()[0];
  EXPECT_GT(stage.put.ok, 0u);
  EXPECT_GT(stage.put.errors, 0u);
  EXPECT_FALSE(stage.stopped_early.empty());
  EXPECT_NE(stage.first_error.find("UNAVAILABLE"), std::string::npos) << stage.first_error;
  ASSERT_FALSE(run.invalid_reasons.empty());
  EXPECT_TRUE(run.invalid_reasons[0].starts_with("write stage stopped after ")) << run.invalid_reasons[0];
  bool fsync_measured = false;
  for (const Measurement& m : run.measurements) {
    fsync_measured = fsync_measured || m.metric == "etcd.fsync.p99";
  }
  EXPECT_FALSE(fsync_measured);  // the after-scrape failed: not measured, never invented
  phase.teardown();              // etcd is gone: must return (bounded by its deadline), not hang
}

}  // namespace
}  // namespace kp::drivers::etcd
