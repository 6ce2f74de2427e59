#include "drivers/api/templates.hpp"

#include <limits>

#include <gtest/gtest.h>

#include "drivers/api/api_phase.hpp"
#include "drivers/api/settings.hpp"

namespace kp::drivers::api {
namespace {

TEST(Templates, ExpandsKubeBurnerPlaceholders) {
  TemplateValues values{3, 7, "density", "kp-1234", "kp-1234-3"};
  Result<std::string> text = expand(
      "name: cm-{{.Iteration}}-{{ .Replica }} job={{.JobName}} run={{.UUID}}/{{.RunID}} ns={{.Namespace}}",
      values, "t.yaml");
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(*text, "name: cm-3-7 job=density run=kp-1234/kp-1234 ns=kp-1234-3");
  Result<std::string> unknown = expand("x: {{.Foo | upper}}", values, "t.yaml");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "t.yaml: unknown placeholder \"{{.Foo | upper}}\" (known: .Iteration, .Replica, .JobName, .UUID, "
            ".RunID, .Namespace)");
  Result<std::string> open = expand("x: {{.Iteration", values, "t.yaml");
  ASSERT_FALSE(open);
  EXPECT_EQ(open.error().message, "t.yaml: unterminated placeholder \"{{.Iteration\"");
}

TEST(Templates, ParsesMultiDocumentYamlWithTypes) {
  Result<std::vector<nlohmann::json>> objects = parse_objects(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {count: "5", plain: 5}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {replicas: 2, paused: false}
)",
                                                              "t.yaml");
  ASSERT_TRUE(objects) << objects.error().message;
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_TRUE((*objects)[0]["data"]["count"].is_string());
  EXPECT_TRUE((*objects)[0]["data"]["plain"].is_number_integer());
  EXPECT_EQ((*objects)[1]["spec"]["replicas"], 2);
  EXPECT_EQ((*objects)[1]["spec"]["paused"], false);
  Result<std::vector<nlohmann::json>> bad = parse_objects("apiVersion: v1\nmetadata: {name: a}\n", "t.yaml");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "t.yaml: document 1: missing kind");
}

TEST(Templates, BuiltinObjectsExpandAndParse) {
  Settings settings;
  for (const ObjectSpec& spec : builtin_objects(settings)) {
    Result<std::string> text = expand(spec.text, TemplateValues{1, 2, "j", "kp-x", "kp-x-1"}, spec.name);
    ASSERT_TRUE(text) << text.error().message;
    Result<std::vector<nlohmann::json>> objects = parse_objects(*text, spec.name);
    ASSERT_TRUE(objects) << spec.name << ": " << objects.error().message << "\n" << *text;
    EXPECT_EQ((*objects)[0]["metadata"]["labels"]["kubeproof.io/run"], "kp-x") << spec.name;
  }
}

// Pod Security admission's restricted level, field by field, on the built-in Pod and the Deployment's
// template: pods the api phase creates are admitted in namespaces that enforce it.
TEST(Templates, BuiltinPodsMeetTheRestrictedPodSecurityLevel) {
  Settings settings;
  int checked = 0;
  for (const ObjectSpec& spec : builtin_objects(settings)) {
    Result<std::string> text = expand(spec.text, TemplateValues{1, 2, "j", "kp-x", "kp-x-1"}, spec.name);
    ASSERT_TRUE(text) << text.error().message;
    Result<std::vector<nlohmann::json>> objects = parse_objects(*text, spec.name);
    ASSERT_TRUE(objects) << spec.name << ": " << objects.error().message;
    const nlohmann::json& object = (*objects)[0];
    const std::string kind = object.value("kind", "");
    if (kind != "Pod" && kind != "Deployment") {
      continue;
    }
    const nlohmann::json& pod = kind == "Pod" ? object["spec"] : object["spec"]["template"]["spec"];
    EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true) << spec.name;
    EXPECT_NE(pod["securityContext"]["runAsUser"], 0) << spec.name;
    EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault") << spec.name;
    ASSERT_EQ(pod["containers"].size(), 1U) << spec.name;
    const nlohmann::json& container = pod["containers"][0]["securityContext"];
    EXPECT_EQ(container["allowPrivilegeEscalation"], false) << spec.name;
    EXPECT_EQ(container["capabilities"]["drop"], nlohmann::json::array({"ALL"})) << spec.name;
    ++checked;
  }
  EXPECT_EQ(checked, 2) << "the built-in Pod and Deployment";
}

TEST(Settings, StrictWithFileLineAndPath) {
  auto error = [](const std::string& yaml) {
    Result<Settings> settings = parse_settings(YAML::Load(yaml), "plans/x.yaml", "phases[1].settings");
    return settings ? std::string("parsed") : settings.error().message;
  };
  EXPECT_EQ(
      error("qps: fast"),
      "plans/x.yaml:1: phases[1].settings.qps: not a rate > 0 (or \"max\", \"capacity\"), got \"fast\"");
  EXPECT_EQ(error("pods: -1"), "plans/x.yaml:1: phases[1].settings.pods: must be within 0..1000, got \"-1\"");
  EXPECT_EQ(error("churn_percent: 150"),
            "plans/x.yaml:1: phases[1].settings.churn_percent: must be within 0..100, got \"150\"");
  EXPECT_EQ(error("jobs: [{name: j, type: create}]"),
            "plans/x.yaml:1: phases[1].settings.jobs[0]: a create job needs objects");
  EXPECT_NE(error("bogus: 1").find("phases[1].settings: unknown key \"bogus\""), std::string::npos)
      << error("bogus: 1");
  Result<Settings> ok =
      parse_settings(YAML::Load("qps: 50\nburst: 10\npod_startup_timeout: 30s\njobs:\n- name: j\n  objects: "
                                "[{template: 'apiVersion: v1', replicas: 2}]\n"),
                     "plans/x.yaml", "phases[1].settings");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->rate, load::RateSetting::fixed_at(Rate{50}));
  EXPECT_EQ(ok->jobs.front().objects.front().replicas, 2);
}

TEST(Shape, LoadMeansCapacityTimesLoad) {
  // The same `load:` as every phase: capacity.api_qps x load, through the kernel's resolver.
  Settings settings;
  config::Capacity capacity;
  capacity.api_qps = Rate{1000};
  Result<Shape> shape = shape_run(settings, capacity, 0.7, std::chrono::minutes(30), config::TestType::load);
  ASSERT_TRUE(shape) << shape.error().message;
  EXPECT_DOUBLE_EQ(shape->qps, 700);
  EXPECT_EQ(shape->burst, 1) << "a constant rate unless the plan sets a burst";
  EXPECT_EQ(shape->iterations, 1000) << "capped";
  ASSERT_EQ(shape->notes.size(), 1u);
  EXPECT_EQ(shape->notes.front(), "rate 700 QPS = capacity.api_qps 1000 QPS x 70%");
}

TEST(Shape, ExplicitRateAndMax) {
  Settings settings;
  settings.rate = load::RateSetting::fixed_at(Rate{50});
  Result<Shape> fixed = shape_run(settings, {}, 0.1, std::chrono::minutes(2));
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_DOUBLE_EQ(fixed->qps, 50) << "an explicit rate needs no capacity and ignores load";
  settings.rate = load::RateSetting::maximum();
  Result<Shape> max = shape_run(settings, {}, 0.1, std::chrono::minutes(2));
  ASSERT_TRUE(max) << max.error().message;
  EXPECT_EQ(max->qps, 0) << "closed loop";
}

TEST(Shape, IterationsOfAnExtremeRateAreClampedBeforeTheCast) {
  // qps x seconds beyond an int was cast unchecked (undefined behaviour) before the clamp.
  Settings settings;
  EXPECT_EQ(shape_at(settings, 1e20, std::chrono::minutes(2)).iterations, 1000);
  EXPECT_EQ(shape_at(settings, std::numeric_limits<double>::infinity(), Duration{0}).iterations, 1);
  EXPECT_EQ(shape_at(settings, 0.001, std::chrono::minutes(2)).iterations, 1);
  EXPECT_EQ(shape_at(settings, 10, std::chrono::minutes(2)).iterations, 11);  // within the range: as before
}

TEST(Shape, MissingOrZeroCapacityIsAnInputError) {
  Settings settings;
  Result<Shape> missing =
      shape_run(settings, {}, 1.0, std::chrono::minutes(30), config::TestType::load, "plans/load.yaml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::input);
  EXPECT_EQ(missing.error().message,
            "plans/load.yaml: capacity.api_qps: is required for the api phase's rate (capacity x load), got "
            "nothing");
  config::Capacity zero;
  zero.api_qps = Rate{0};
  Result<Shape> none =
      shape_run(settings, zero, 1.0, std::chrono::minutes(30), config::TestType::load, "plans/load.yaml");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "plans/load.yaml: capacity.api_qps: must be > 0, got \"0 QPS\"");
}

TEST(Shape, StressRampsFromCapacity) {
  Settings settings;
  config::Capacity capacity;
  capacity.api_qps = Rate{1000};
  Result<Shape> shape =
      shape_run(settings, capacity, 1.5, std::chrono::minutes(16), config::TestType::stress);
  ASSERT_TRUE(shape) << shape.error().message;
  ASSERT_TRUE(shape->schedule.stress());
  std::vector<double> rates;
  for (const load::Step& step : shape->schedule.steps) {
    rates.push_back(step.rate->per_second);
  }
  EXPECT_EQ(rates, (std::vector<double>{1000, 1250, 1500, 1750, 2000}));
  EXPECT_EQ(shape->schedule.bisect, 3);
  EXPECT_DOUBLE_EQ(shape->qps, 1000) << "the first step";
}

TEST(Settings, RateAndStressKeys) {
  auto parse = [](const char* text) {
    return parse_settings(YAML::Load(text), "plans/x.yaml", "phases[1].settings");
  };
  Result<Settings> max = parse("qps: max");
  ASSERT_TRUE(max) << max.error().message;
  EXPECT_TRUE(max->rate.is_max());
  Result<Settings> capacity = parse("rate: capacity\nstress: {steps: [100%, 150%], bisect: 2}");
  ASSERT_TRUE(capacity) << capacity.error().message;
  EXPECT_TRUE(capacity->rate.from_capacity_load());
  EXPECT_EQ(capacity->stress.steps, (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(capacity->stress.bisect, 2);
  Result<Settings> bad = parse("stress: {steps: [150%, 125%]}");
  ASSERT_FALSE(bad);
  EXPECT_NE(
      bad.error().message.find("plans/x.yaml:1: phases[1].settings.stress.steps[1]: must be above the step "
                               "before it (150%), got \"125%\""),
      std::string::npos)
      << bad.error().message;
  Result<Settings> fast = parse("qps: fast");
  ASSERT_FALSE(fast);
  EXPECT_NE(fast.error().message.find("phases[1].settings.qps"), std::string::npos) << fast.error().message;
}

}  // namespace
}  // namespace kp::drivers::api
