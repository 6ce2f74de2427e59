#pragma once

// The API phase's settings (the `settings:` node of the api phase in a plan), parsed strictly: unknown keys
// are errors naming the key, bad values echo the value, with file:line (config/yaml_fields.hpp).
//
//   kubeconfig: ~/.kube/config   context: prod        # default: kubectl's rules; --kubeconfig/--context win
//   qps: 50   burst: 1         # client-side limit (kube-burner's meaning): a rate, `max` (closed loop) or
//                              # `capacity` (the default): capacity.api_qps x load (load/rate_setting.hpp);
//                              # `rate:` is the same key under the kernel's name. burst: default 1, a
//                              constant # rate; a burst's sends are due at once, and the later ones count as
//                              late
//   stress: {steps: [100%, 125%, 150%, 175%, 200%], bisect: 3}   # the QPS ramp of a stress test
//   serviceaccount_timeout: 60s  # how long to wait for a new namespace's default ServiceAccount
//   iterations: 20             # namespaces of the built-in workload; default sized from qps and duration
//   configmaps: 5  secrets: 2  services: 1  deployments: 1  pods: 1     # per iteration (built-in workload)
//   pod_image: registry.k8s.io/pause:3.9   # assumed cached on the nodes, as the 5 s SLO requires
//   pod_startup_timeout: 60s   # pods not Ready by then are counted as not started
//   churn_percent: 0  churn_cycles: 0      # delete and recreate this share of namespaces, this many times
//   request_timeout: 30s   cleanup_timeout: 2m   server_metrics: true
//   jobs:                      # instead of the built-in workload: kube-burner-like jobs, run in order
//     - name: density  type: create  iterations: 10  qps: 20  burst: 20
//       objects: [{file: templates/cm.yaml, replicas: 5}, {template: "<inline YAML>", replicas: 1}]
//     - name: reads    type: read    # get every object created so far and list each kind per namespace
//     - name: patches  type: patch   patch: '{"metadata":{"labels":{"patched":"true"}}}'
//     - name: cleanup  type: delete  # delete the run's namespaces

#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/error.hpp"
#include "core/units.hpp"
#include "load/rate_setting.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::api {

enum class JobType { create, read, patch, remove };
std::string_view to_string(JobType type);

struct ObjectSpec {
  std::string name;  // the file, or "jobs[0].objects[1].template", for messages
  std::string text;  // the template text
  int replicas = 1;
};

struct JobSpec {
  std::string name;
  JobType type = JobType::create;
  int iterations = 1;
  std::optional<double> qps;
  std::optional<int> burst;
  std::vector<ObjectSpec> objects;
  std::string patch = R"({"metadata":{"labels":{"kubeproof.io/patched":"true"}}})";
};

struct Settings {
  std::optional<std::string> kubeconfig;
  std::optional<std::string> context;
  load::RateSetting rate;  // `qps:` (or `rate:`); default capacity x load
  load::StressSettings stress;
  std::optional<int> burst;
  std::optional<int> iterations;
  int configmaps = 5;
  int secrets = 2;
  int services = 1;
  int deployments = 1;
  int pods = 1;
  std::string pod_image = "registry.k8s.io/pause:3.9";
  Duration pod_startup_timeout = std::chrono::seconds(60);
  int churn_percent = 0;
  int churn_cycles = 0;
  Duration request_timeout = std::chrono::seconds(30);
  Duration cleanup_timeout = std::chrono::minutes(2);
  // Pods are created in a new namespace only once its default ServiceAccount exists (the ServiceAccount
  // admission plugin rejects them with 403 until the controller-manager made it); bounded by this.
  Duration serviceaccount_timeout = std::chrono::seconds(60);
  bool server_metrics = true;
  std::vector<JobSpec> jobs;  // empty: the built-in workload
};

// Parses the settings node (null -> defaults). `file` is the plan, `path` e.g. "phases[1].settings"; template
// files named by jobs are read relative to the plan's folder.
Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path);

}  // namespace kp::drivers::api
