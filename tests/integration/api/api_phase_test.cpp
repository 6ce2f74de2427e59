// The API phase end to end against the API server fixture: the built-in workload's requests counted by the
// fixture, pod startup stages against the fixture's configured delays, server-side SLIs from its /metrics,
// pods that never start counted, and nothing left behind.

#include <gtest/gtest.h>

#include "drivers/api/api_phase.hpp"
#include "fake_apiserver.hpp"
#include "prom/prometheus_text.hpp"
#include "report/live_metrics.hpp"

namespace kp::drivers::api {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Measurement* find(const engine::PhaseRun& run, std::string_view metric) {
  for (const Measurement& m : run.measurements) {
    if (m.metric == metric) {
      return &m;
    }
  }
  return nullptr;
}

std::vector<std::string> messages;
ApiPhase::Progress progress() {
  return [](std::string_view text) { messages.emplace_back(text); };
}

TEST(ApiPhase, BuiltinWorkloadAgainstTheFixture) {
  testing::FakeApiserver server(
      "phase", json{{"pod_delays_ms",
                     {{"scheduled", 200}, {"initialized", 100}, {"containers_ready", 300}, {"ready", 100}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.iterations = 3;
  settings.qps = 100;
  settings.burst = 20;
  settings.configmaps = 2;
  settings.secrets = 1;
  settings.services = 1;
  settings.deployments = 1;
  settings.pods = 2;
  settings.pod_startup_timeout = seconds(20);
  settings.cleanup_timeout = seconds(20);
  Shape shape = shape_run(settings, {}, 1.0, seconds(1));
  ApiPhase phase(settings, shape, seconds(1), real_clock(), progress(), "kp-test1");
  report::LiveMetrics live({"kp-test1", "it", "smoke", "local"});
  phase.set_live_sink(&live);
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();

  json counters = server.counters();
  // 3 namespaces + 3 x (2 cm + 1 secret + 1 svc + 1 deploy + 2 pods) = 24 creates; 3 x 3 patches; 3 deletes.
  EXPECT_EQ(counters["by_verb"].value("create", 0), 24);
  EXPECT_EQ(counters["by_verb"].value("patch", 0), 9);
  EXPECT_GE(counters["by_verb"].value("get", 0), 21);
  EXPECT_EQ(counters["by_verb_ok"].value("delete", 0), 3);
  EXPECT_EQ(counters["objects"], 0) << "teardown must leave nothing behind";
  {
    // Every request of the workload was counted live by verb class, none failed.
    Result<prom::Exposition> page = prom::parse_text(live.render());
    ASSERT_TRUE(page) << page.error().message;
    auto live_count = [&](const char* series, const char* outcome) {
      return prom::scalar(*page, "kubeproof_live_completions_total",
                          {{"phase", "api"}, {"series", series}, {"outcome", outcome}})
          .value_or(-1);
    };
    // The fixture's own counts: every create, patch, delete and get came from the workload; some lists come
    // from the pod watch and the cleanup instead.
    const json& verbs = counters["by_verb_ok"];
    EXPECT_EQ(live_count("mutating", "ok"),
              verbs.value("create", 0) + verbs.value("patch", 0) + verbs.value("delete", 0));
    EXPECT_EQ(live_count("readonly", "ok"), verbs.value("get", 0));
    EXPECT_GT(live_count("list", "ok"), 0);
    EXPECT_LE(live_count("list", "ok"), verbs.value("list", 0));
    EXPECT_EQ(live_count("mutating", "error"), 0);
    EXPECT_EQ(live_count("readonly", "error"), 0);
  }

  for (const char* metric : {"api.mutating.p99", "api.readonly.p99", "api.list.p99"}) {
    const Measurement* m = find(*run, metric);
    ASSERT_NE(m, nullptr) << metric;
    EXPECT_EQ(m->source, "server /metrics") << metric << ": " << m->note;
    EXPECT_GT(m->value, 0) << metric;
    EXPECT_LT(m->value, 1.0) << metric;
  }
  const Measurement* errors = find(*run, "api.error_rate");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->value, 0) << errors->note;
  const Measurement* qps = find(*run, "api.qps");
  ASSERT_NE(qps, nullptr);
  EXPECT_GT(qps->value, 0);

  // The fixture's pods are Ready 700 ms after creation (200 + 100 + 300 + 100); its timers and our watch add
  // a little.
  const Measurement* startup = find(*run, "api.pod_startup.p99");
  ASSERT_NE(startup, nullptr);
  EXPECT_GE(startup->value, 0.65) << startup->note;
  EXPECT_LE(startup->value, 1.5) << startup->note;
  EXPECT_NE(startup->note.find("6 pods, 6 Ready, 0 never started"), std::string::npos) << startup->note;
  EXPECT_NE(startup->note.find("scheduled P50"), std::string::npos) << startup->note;
  EXPECT_TRUE(run->invalid_reasons.empty());
}

TEST(ApiPhase, PodsThatNeverStartAreCountedNotDropped) {
  testing::FakeApiserver server("stuck");
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.qps = 50;
  settings.pod_startup_timeout = seconds(1);
  settings.cleanup_timeout = seconds(20);
  JobSpec create;
  create.name = "stuck";
  create.iterations = 1;
  create.objects = {ObjectSpec{"stuck.yaml", R"(apiVersion: v1
kind: Pod
metadata:
  name: stuck-{{.Replica}}
  labels: {fixture.kubeproof.io/stuck: "true", job: "{{.JobName}}"}
spec: {containers: [{name: c, image: pause}]}
---
apiVersion: v1
kind: Pod
metadata: {name: "ok-{{.Replica}}"}
spec: {containers: [{name: c, image: pause}]}
)",
                               2}};
  JobSpec remove;
  remove.name = "cleanup";
  remove.type = JobType::remove;
  settings.jobs = {create, remove};
  ApiPhase phase(settings, shape_run(settings, {}, 1.0, seconds(1)), seconds(1), real_clock(), progress(),
                 "kp-test2");
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();
  const Measurement* startup = find(*run, "api.pod_startup.p99");
  ASSERT_NE(startup, nullptr);
  EXPECT_NE(startup->note.find("4 pods, 2 Ready, 2 never started within 1.00s"), std::string::npos)
      << startup->note;
  EXPECT_NE(startup->note.find("2 never scheduled"), std::string::npos) << startup->note;
  EXPECT_GE(startup->value, 1.0) << "unstarted pods enter the P99 at the timeout";
  EXPECT_EQ(server.counters()["objects"], 0);
}

TEST(ApiPhase, UnreachableServerIsUnavailable) {
  kube::RestConfig config;
  config.server = "https://127.0.0.1:1";
  config.context = "dead";
  config.insecure_skip_tls_verify = true;
  Settings settings;
  settings.request_timeout = seconds(2);
  ApiPhase phase(settings, shape_run(settings, {}, 1.0, seconds(1)), seconds(1), real_clock(), progress(),
                 "kp-test3");
  Result<void> prepared = phase.prepare(config);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);
  EXPECT_TRUE(prepared.error().message.starts_with("API server https://127.0.0.1:1 (context \"dead\"): GET "))
      << prepared.error().message;
}

}  // namespace
}  // namespace kp::drivers::api
