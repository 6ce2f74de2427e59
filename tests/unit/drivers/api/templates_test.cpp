#include "drivers/api/templates.hpp"

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

TEST(Settings, StrictWithFileLineAndPath) {
  auto error = [](const std::string& yaml) {
    Result<Settings> settings = parse_settings(YAML::Load(yaml), "plans/x.yaml", "phases[1].settings");
    return settings ? std::string("parsed") : settings.error().message;
  };
  EXPECT_EQ(error("qps: fast"),
            "plans/x.yaml:1: phases[1].settings.qps: not a rate, got \"fast\" (use e.g. 10k, 1500/s, 2.5M, "
            "100/m, 20 QPS)");
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
  EXPECT_EQ(*ok->qps, 50);
  EXPECT_EQ(ok->jobs.front().objects.front().replicas, 2);
}

TEST(Shape, ScalesFromCapacity) {
  Settings settings;
  config::Capacity capacity;
  capacity.api_qps = Rate{1000};
  Shape shape = shape_run(settings, capacity, 0.7, std::chrono::minutes(30));
  EXPECT_DOUBLE_EQ(shape.qps, 700);
  EXPECT_EQ(shape.burst, 700);
  EXPECT_EQ(shape.iterations, 1000) << "capped";
  Shape assumed = shape_run(settings, {}, 0.1, std::chrono::minutes(2));
  EXPECT_DOUBLE_EQ(assumed.qps, 10);
  EXPECT_EQ(assumed.notes.size(), 1u);
}

}  // namespace
}  // namespace kp::drivers::api
