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

// The cluster enforces the restricted Pod Security level by default (its admission configuration): the
// built-in pods must meet it, or their creates are 403s counted as errors. (The fixture runs no Deployment
// controller; the template's context is checked in the unit tests.)
TEST(ApiPhase, BuiltinWorkloadAgainstTheFixture) {
  testing::FakeApiserver server(
      "phase", json{{"pod_delays_ms",
                     {{"scheduled", 200}, {"initialized", 100}, {"containers_ready", 300}, {"ready", 100}}},
                    {"pod_security_default", "restricted"}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.iterations = 3;
  settings.rate = load::RateSetting::fixed_at(Rate{100});
  settings.burst = 20;
  settings.configmaps = 2;
  settings.secrets = 1;
  settings.services = 1;
  settings.deployments = 1;
  settings.pods = 2;
  settings.pod_startup_timeout = seconds(20);
  settings.cleanup_timeout = seconds(20);
  Shape shape = *shape_run(settings, {}, 1.0, seconds(1));
  ApiPhase phase(settings, shape, seconds(1), real_clock(), progress(), "kp-test1");
  report::LiveMetrics live({"kp-test1", "it", "smoke", "local"});
  phase.set_live_sink(&live);
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();

  json counters = server.counters();
  // The permission preflight's SelfSubjectAccessReviews are creates too (as the real server counts them).
  const int reviews = counters["by_resource"].value("create selfsubjectaccessreviews", 0);
  EXPECT_EQ(reviews, 24);
  // 3 namespaces + 3 x (2 cm + 1 secret + 1 svc + 1 deploy + 2 pods) = 24 creates; 3 x 3 patches; 3 deletes.
  EXPECT_EQ(counters["by_verb"].value("create", 0) - reviews, 24);
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
              verbs.value("create", 0) - reviews + verbs.value("patch", 0) + verbs.value("delete", 0));
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
  EXPECT_TRUE(run->invalid_reasons.empty()) << run->invalid_reasons.front();
}

TEST(ApiPhase, PodsThatNeverStartAreCountedNotDropped) {
  testing::FakeApiserver server("stuck");
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{50});
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
  ApiPhase phase(settings, *shape_run(settings, {}, 1.0, seconds(1)), seconds(1), real_clock(), progress(),
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

// Churn recreates namespaces only once they are gone: one still Terminating after cleanup_timeout (a slow
// namespace controller; the fixture's takes 3 s) stops the churn with a note, instead of recreating it into
// the API's 409 AlreadyExists and counting that as the server's errors.
TEST(ApiPhase, ChurnStopsWhenDeletedNamespacesOutlastTheCleanupTimeout) {
  testing::FakeApiserver server("churn", json{{"namespace_delete_delay_ms", 3000}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.iterations = 2;
  settings.rate = load::RateSetting::fixed_at(Rate{100});
  settings.burst = 20;
  settings.configmaps = 1;
  settings.secrets = 0;
  settings.services = 0;
  settings.deployments = 0;
  settings.pods = 0;
  settings.churn_percent = 50;
  settings.churn_cycles = 2;
  settings.cleanup_timeout = milliseconds(500);
  ApiPhase phase(settings, *shape_run(settings, {}, 1.0, seconds(1)), seconds(1), real_clock(), progress(),
                 "kp-churn1");
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();
  // The workload's notes go with the latency rows.
  const Measurement* mutating = find(*run, "api.mutating.p99");
  ASSERT_NE(mutating, nullptr);
  EXPECT_NE(mutating->note.find("churn stopped in cycle 1 of 2: 1 of 1 deleted namespaces still Terminating "
                                "after 500.00ms"),
            std::string::npos)
      << mutating->note;
  const Measurement* errors = find(*run, "api.error_rate");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->value, 0) << errors->note;
  json counters = server.counters();
  EXPECT_EQ(counters["by_verb"].value("create", 0) -
                counters["by_resource"].value("create selfsubjectaccessreviews", 0),
            4)
      << "2 namespaces and their 2 configmaps, nothing recreated";
}

TEST(ApiPhase, UnreachableServerIsUnavailable) {
  kube::RestConfig config;
  config.server = "https://127.0.0.1:1";
  config.context = "dead";
  config.insecure_skip_tls_verify = true;
  Settings settings;
  settings.request_timeout = seconds(2);
  settings.rate = load::RateSetting::fixed_at(Rate{10});
  ApiPhase phase(settings, *shape_run(settings, {}, 1.0, seconds(1)), seconds(1), real_clock(), progress(),
                 "kp-test3");
  Result<void> prepared = phase.prepare(config);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::unavailable);
  EXPECT_TRUE(prepared.error().message.starts_with("API server https://127.0.0.1:1 (context \"dead\"): GET "))
      << prepared.error().message;
}

// Issue 14: a new namespace's default ServiceAccount comes a moment after the namespace; pods created before
// it are refused with 403 by the ServiceAccount admission plugin. The phase waits for it: no 403 at 1000 QPS.
TEST(ApiPhase, WaitsForTheDefaultServiceAccountBeforeCreatingPods) {
  testing::FakeApiserver server("sa-delay", json{{"serviceaccount_delay_ms", 400}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{1000});
  settings.iterations = 8;
  settings.pods = 3;
  settings.pod_startup_timeout = seconds(20);
  settings.cleanup_timeout = seconds(20);
  ApiPhase phase(settings, *shape_run(settings, {}, 1.0, seconds(2)), seconds(2), real_clock(), progress(),
                 "kp-test4");
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();
  json counters = server.counters();
  EXPECT_EQ(counters["by_status"].value("403", 0), 0) << counters.dump();
  EXPECT_EQ(counters["by_resource"].value("create pods", 0), 24) << "every pod created once, none refused";
  const Measurement* errors = find(*run, "api.error_rate");
  ASSERT_NE(errors, nullptr);
  EXPECT_EQ(errors->value, 0) << errors->note;
  EXPECT_EQ(counters["objects"], 0);
}

// Issue 14: an overloaded API server (latency grows with the rate, 429 + Retry-After from APF) is the
// server's FAIL with the reason, never INVALID; its 429s are counted apart with the flow schema.
TEST(ApiPhase, AnOverloadedServerFailsAndIsNotInvalid) {
  testing::FakeApiserver server(
      "overload",
      json{{"overload", {{"capacity_qps", 60}, {"base_ms", 40}, {"max_in_flight", 6}, {"retry_after", 1}}},
           {"pod_delays_ms",
            {{"scheduled", 10}, {"initialized", 10}, {"containers_ready", 10}, {"ready", 10}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{400});
  settings.iterations = 6;
  settings.deployments = 0;
  settings.pods = 0;
  settings.pod_startup_timeout = seconds(5);
  settings.cleanup_timeout = seconds(30);
  settings.server_metrics = false;
  ApiPhase phase(settings, *shape_run(settings, {}, 1.0, seconds(2)), seconds(2), real_clock(), progress(),
                 "kp-test5");
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();
  EXPECT_TRUE(run->invalid_reasons.empty()) << run->invalid_reasons.front();
  const Measurement* qps = find(*run, "api.qps");
  ASSERT_NE(qps, nullptr);
  ASSERT_TRUE(qps->offered);
  EXPECT_LT(qps->value, 0.99 * *qps->offered);
  EXPECT_TRUE(qps->note.starts_with("the API server sustained ")) << qps->note;
  EXPECT_NE(qps->note.find(" QPS; mutating P99 "), std::string::npos) << qps->note;
  const Measurement* errors = find(*run, "api.error_rate");
  ASSERT_NE(errors, nullptr);
  EXPECT_NE(errors->note.find("429 answers (API Priority and Fairness)"), std::string::npos) << errors->note;
  EXPECT_NE(errors->note.find("priority level 7b1f2c0e-0000-4000-8000-000000000004"), std::string::npos)
      << errors->note;
  EXPECT_GT(server.counters()["by_status"].value("429", 0), 0);
  std::string notes;
  for (const std::string& note : run->notes) {
    notes += note + "\n";
  }
  EXPECT_NE(notes.find("own send lateness"), std::string::npos) << notes;
  std::cerr << qps->note << "\n" << errors->note << "\n" << notes;
}

// Issue 14: before anything is created, every permission the run lacks is named in one message.
TEST(ApiPhase, PreflightNamesEveryMissingPermissionBeforeCreatingAnything) {
  testing::FakeApiserver server("preflight",
                                json{{"denied", json::array({json{{"verb", "*"}, {"resource", "*"}}})}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{10});
  ApiPhase phase(settings, *shape_run(settings, {}, 1.0, seconds(1)), seconds(1), real_clock(), progress(),
                 "kp-test6");
  // The probe list is refused too: allow just that one to reach the preflight.
  server.control(
      "POST", "/fixture/config",
      json{{"denied", json::array({json{{"verb", "create"}}, json{{"verb", "get"}}, json{{"verb", "delete"}},
                                   json{{"verb", "watch"}}, json{{"verb", "patch"}},
                                   json{{"verb", "list"}, {"resource", "pods"}},
                                   json{{"verb", "list"}, {"resource", "serviceaccounts"}},
                                   json{{"verb", "list"}, {"resource", "configmaps"}},
                                   json{{"verb", "list"}, {"resource", "secrets"}},
                                   json{{"verb", "list"}, {"resource", "services"}},
                                   json{{"verb", "list"}, {"resource", "deployments"}}})}});
  Result<void> prepared = phase.prepare(*config);
  ASSERT_FALSE(prepared);
  EXPECT_EQ(prepared.error().kind, ErrorKind::input);
  const std::string& message = prepared.error().message;
  EXPECT_NE(message.find(
                "lacks 23 of the 24 permissions kubeproof needs: create namespaces (the run's namespaces)"),
            std::string::npos)
      << message;
  for (const char* needed :
       {"delete namespaces", "watch pods in all namespaces", "list serviceaccounts in all namespaces",
        "create deployments.apps in all namespaces", "patch secrets in all namespaces"}) {
    EXPECT_NE(message.find(needed), std::string::npos) << needed << ": " << message;
  }
  EXPECT_EQ(message.find("list namespaces"), std::string::npos) << "granted: " << message;
  EXPECT_EQ(server.counters()["by_resource"].value("create namespaces", 0), 0) << "nothing created";
  EXPECT_EQ(server.counters()["objects"], 0) << "nothing created";
}

// Issue 13: stress ramps the QPS from capacity, each step a pass of the workload, bisects after the first
// break, never runs a step above one that broke, and reports the breaking point with every step.
TEST(ApiPhase, StressFindsTheBreakingPointWithoutLoadingAboveABrokenStep) {
  testing::FakeApiserver server(
      "stress",
      json{{"overload", {{"capacity_qps", 30}, {"base_ms", 40}, {"max_in_flight", 4}, {"retry_after", 1}}}});
  ASSERT_TRUE(server.ok()) << server.error();
  Result<kube::RestConfig> config = server.rest_config();
  ASSERT_TRUE(config);
  Settings settings;  // rate: capacity x load
  settings.stress = load::StressSettings{.steps = {1.0, 4.0}, .bisect = 1};
  settings.iterations = 2;
  settings.deployments = 0;
  settings.pods = 0;
  settings.cleanup_timeout = seconds(30);
  settings.server_metrics = false;
  config::Capacity capacity;
  capacity.api_qps = Rate{20};
  Result<Shape> shape = shape_run(settings, capacity, 1.5, seconds(6), config::TestType::stress);
  ASSERT_TRUE(shape) << shape.error().message;
  ApiPhase phase(settings, *shape, seconds(6), real_clock(), progress(), "kp-test7");
  ASSERT_TRUE(phase.prepare(*config));
  engine::CancellationToken cancel;
  Result<engine::PhaseRun> run = phase.run(cancel);
  ASSERT_TRUE(run) << run.error().message;
  phase.teardown();
  ASSERT_EQ(run->stress.size(), 1u);
  const load::StressResult& stress = run->stress.front();
  EXPECT_EQ(stress.metric, "api.breaking_qps");
  ASSERT_GE(stress.steps.size(), 2u) << stress.note;
  EXPECT_DOUBLE_EQ(stress.steps.front().level, 20);
  std::optional<double> broken;
  for (const load::StepRecord& step : stress.steps) {
    if (broken) {
      EXPECT_LT(step.level, *broken) << "a step above one that broke: " << stress.note;
    }
    if (!step.held() && !broken) {
      broken = step.level;
    }
  }
  ASSERT_TRUE(broken) << "80 QPS against a server that takes 30: " << stress.note;
  ASSERT_TRUE(stress.breaking_level);
  const Measurement* breaking = find(*run, "api.breaking_qps");
  ASSERT_NE(breaking, nullptr);
  EXPECT_DOUBLE_EQ(breaking->value, *stress.breaking_level);
  EXPECT_TRUE(breaking->note.starts_with("broke at ")) << breaking->note;
  EXPECT_TRUE(run->invalid_reasons.empty()) << run->invalid_reasons.front();
  EXPECT_EQ(server.counters()["objects"], 0);
  std::cerr << breaking->note << "\n";
}

}  // namespace
}  // namespace kp::drivers::api
