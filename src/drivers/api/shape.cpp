#include "drivers/api/shape.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace kp::drivers::api {
namespace {

// Requests one iteration of the built-in workload makes besides its creates: a GET per object, a LIST per
// kind, a PATCH per configmap/secret, and the namespace's DELETE.
int requests_per_iteration(const Settings& s) {
  int objects = s.configmaps + s.secrets + s.services + s.deployments + s.pods;
  return 1 + objects + objects + 5 + s.configmaps + s.secrets + 1;
}

// A closed-loop run has no rate to size the workload from.
constexpr int kClosedLoopIterations = 10;

}  // namespace

Shape shape_at(const Settings& settings, double qps, Duration duration) {
  Shape shape;
  shape.qps = std::max(0.0, qps);
  // Burst 1 unless the plan asks for one: every send then has its own intended time, 1/qps apart (wrk2's
  // constant rate), so its lateness is the generator's alone. A burst makes its sends due at the same
  // instant.
  shape.burst = settings.burst.value_or(1);
  if (settings.iterations) {
    shape.iterations = *settings.iterations;
  } else if (shape.qps <= 0) {
    shape.iterations = kClosedLoopIterations;
  } else {
    double seconds = std::chrono::duration<double>(duration).count();
    double per_iteration = std::max(1, requests_per_iteration(settings));
    // Clamped as a double: a rate like 1e20 gives more iterations than an int holds (the cast would be
    // undefined), and an infinite rate over no time gives NaN (read as 1).
    const double wanted = shape.qps * seconds / 3.0 / per_iteration;
    shape.iterations = wanted >= 1000 ? 1000 : wanted >= 1 ? static_cast<int>(wanted) : 1;
  }
  return shape;
}

Result<Shape> shape_run(const Settings& settings, const config::Capacity& capacity, double load,
                        Duration duration, config::TestType type, const std::string& where) {
  load::ScheduleInput input{
      .rate = settings.rate,
      .capacity = load::capacity_ref(std::string(kCapacityField), capacity.api_qps, "QPS"),
      .load = load,
      .type = type,
      .duration = duration,
      .stress = settings.stress,
      .where = where,
      .owner = "the api phase",
  };
  Result<load::Schedule> schedule = load::resolve_schedule(input);
  if (!schedule) {
    return std::unexpected(schedule.error());
  }
  const load::Step& first = schedule->steps.front();
  Shape shape = shape_at(settings, first.rate ? first.rate->per_second : 0.0, first.duration);
  shape.notes = schedule->notes;
  shape.schedule = std::move(*schedule);
  return shape;
}

// The restricted Pod Security profile, so the built-in pods are admitted in namespaces that enforce it (the
// run's namespaces inherit a cluster-wide default level). The pause image runs as 65535 by its own USER;
// stating the UID keeps runAsNonRoot satisfiable for a pod_image whose USER is root or a name.
constexpr std::string_view kPodSecurity =
    "{runAsNonRoot: true, runAsUser: 65535, runAsGroup: 65535, seccompProfile: {type: RuntimeDefault}}";
constexpr std::string_view kContainerSecurity =
    "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}";

std::vector<ObjectSpec> builtin_objects(const Settings& s) {
  const std::string labels = fmt::format("{{{}: \"{{{{.RunID}}}}\", app: kp-{{{{.Replica}}}}}}", kRunLabel);
  std::vector<ObjectSpec> objects;
  if (s.configmaps > 0) {
    objects.push_back(ObjectSpec{"builtin configmap",
                                 fmt::format(R"(apiVersion: v1
kind: ConfigMap
metadata: {{name: "kp-cm-{{{{.Replica}}}}", labels: {}}}
data: {{iteration: "{{{{.Iteration}}}}", payload: "{}"}}
)",
                                             labels, std::string(256, 'x')),
                                 s.configmaps});
  }
  if (s.secrets > 0) {
    objects.push_back(ObjectSpec{"builtin secret",
                                 fmt::format(R"(apiVersion: v1
kind: Secret
metadata: {{name: "kp-secret-{{{{.Replica}}}}", labels: {}}}
type: Opaque
data: {{token: "a3ViZXByb29mLXRlc3QtZGF0YQ=="}}
)",
                                             labels),
                                 s.secrets});
  }
  if (s.services > 0) {
    objects.push_back(ObjectSpec{"builtin service",
                                 fmt::format(R"(apiVersion: v1
kind: Service
metadata: {{name: "kp-svc-{{{{.Replica}}}}", labels: {}}}
spec: {{selector: {{app: kp-{{{{.Replica}}}}}}, ports: [{{port: 80, targetPort: 8080, protocol: TCP}}]}}
)",
                                             labels),
                                 s.services});
  }
  if (s.deployments > 0) {
    objects.push_back(
        ObjectSpec{"builtin deployment",
                   fmt::format(R"(apiVersion: apps/v1
kind: Deployment
metadata: {{name: "kp-deploy-{{{{.Replica}}}}", labels: {}}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: kp-deploy-{{{{.Replica}}}}}}}}
  template:
    metadata: {{labels: {{{}: "{{{{.RunID}}}}", app: kp-deploy-{{{{.Replica}}}}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      securityContext: {}
      containers: [{{name: pause, image: "{}", resources: {{requests: {{cpu: 1m, memory: 4Mi}}}},
                    securityContext: {}}}]
)",
                               labels, kRunLabel, kPodSecurity, s.pod_image, kContainerSecurity),
                   s.deployments});
  }
  if (s.pods > 0) {
    objects.push_back(ObjectSpec{"builtin pod",
                                 fmt::format(R"(apiVersion: v1
kind: Pod
metadata: {{name: "kp-pod-{{{{.Replica}}}}", labels: {}}}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {}
  containers: [{{name: pause, image: "{}", resources: {{requests: {{cpu: 1m, memory: 4Mi}}}},
                securityContext: {}}}]
)",
                                             labels, kPodSecurity, s.pod_image, kContainerSecurity),
                                 s.pods});
  }
  return objects;
}

}  // namespace kp::drivers::api
