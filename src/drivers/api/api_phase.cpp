#include "drivers/api/api_phase.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include <fmt/format.h>

#include "drivers/api/pod_startup.hpp"
#include "drivers/api/server_sli.hpp"
#include "drivers/api/templates.hpp"
#include "kube/watch.hpp"
#include "prom/prometheus_text.hpp"

namespace kp::drivers::api {
namespace {

using kube::json;

// Requests one iteration of the built-in workload makes besides its creates: a GET per object, a LIST per
// kind, a PATCH per configmap/secret, and the namespace's DELETE.
int requests_per_iteration(const Settings& s) {
  int objects = s.configmaps + s.secrets + s.services + s.deployments + s.pods;
  return 1 + objects + objects + 5 + s.configmaps + s.secrets + 1;
}

double seconds_of(std::int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

std::string ms(double seconds) {
  return fmt::format("{:.1f}ms", seconds * 1e3);
}

Measurement percentile_measurement(std::string metric, const Histogram& histogram) {
  Measurement m;
  m.metric = std::move(metric);
  m.value = seconds_of(histogram.value_at_percentile(99.0));
  m.histogram = histogram;
  return m;
}

struct Object {
  kube::Resource resource;
  std::string ns;
  std::string name;
};

}  // namespace

struct ApiPhase::Created {
  std::mutex mutex;
  std::vector<Object> objects;
  std::vector<std::string> namespaces;
};

Shape shape_run(const Settings& settings, const config::Capacity& capacity, double load, Duration duration) {
  Shape shape;
  if (settings.qps) {
    shape.qps = *settings.qps;
  } else if (capacity.api_qps) {
    shape.qps = std::max(1.0, capacity.api_qps->per_second * load);
  } else {
    shape.qps = std::max(1.0, kAssumedCapacity * load);
    shape.notes.push_back(
        fmt::format("the plan states no capacity.api_qps; assumed {:g}/s", kAssumedCapacity));
  }
  shape.burst = settings.burst.value_or(std::max(1, static_cast<int>(std::lround(shape.qps))));
  if (settings.iterations) {
    shape.iterations = *settings.iterations;
  } else {
    double seconds = std::chrono::duration<double>(duration).count();
    double per_iteration = std::max(1, requests_per_iteration(settings));
    shape.iterations = std::clamp(static_cast<int>(shape.qps * seconds / 3.0 / per_iteration), 1, 1000);
  }
  return shape;
}

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
    objects.push_back(ObjectSpec{"builtin deployment",
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
      containers: [{{name: pause, image: "{}", resources: {{requests: {{cpu: 1m, memory: 4Mi}}}}}}]
)",
                                             labels, kRunLabel, s.pod_image),
                                 s.deployments});
  }
  if (s.pods > 0) {
    objects.push_back(ObjectSpec{"builtin pod",
                                 fmt::format(R"(apiVersion: v1
kind: Pod
metadata: {{name: "kp-pod-{{{{.Replica}}}}", labels: {}}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{{name: pause, image: "{}", resources: {{requests: {{cpu: 1m, memory: 4Mi}}}}}}]
)",
                                             labels, s.pod_image),
                                 s.pods});
  }
  return objects;
}

std::string new_run_id() {
  std::random_device device;
  return fmt::format("kp-{:08x}", device());
}

ApiPhase::ApiPhase(Settings settings, Shape shape, Duration duration, Clock& clock, Progress progress,
                   std::string run_id)
    : settings_(std::move(settings)),
      shape_(std::move(shape)),
      duration_(duration),
      clock_(clock),
      progress_(std::move(progress)),
      run_id_(std::move(run_id)) {}

ApiPhase::~ApiPhase() = default;

std::vector<std::string> ApiPhase::describe(const kube::RestConfig& config) const {
  std::vector<std::string> lines;
  lines.push_back(
      fmt::format("context \"{}\", server {} ({})", config.context, config.server, config.source));
  if (settings_.jobs.empty()) {
    lines.push_back(fmt::format(
        "{} namespaces {}-0..{}, each with {} configmaps, {} secrets, {} services, {} deployments and {} "
        "pods "
        "({}), labelled {}={}",
        shape_.iterations, run_id_, shape_.iterations - 1, settings_.configmaps, settings_.secrets,
        settings_.services, settings_.deployments, settings_.pods, settings_.pod_image, kRunLabel, run_id_));
  } else {
    for (const JobSpec& job : settings_.jobs) {
      lines.push_back(fmt::format("job {} ({}): {} iterations of {} templates", job.name, to_string(job.type),
                                  job.iterations, job.objects.size()));
    }
  }
  lines.push_back(fmt::format("at {:g} requests/s (burst {}), for about {}; everything deleted at the end",
                              shape_.qps, shape_.burst, format_duration(duration_)));
  return lines;
}

Result<void> ApiPhase::prepare(const kube::RestConfig& config) {
  kube::ClientOptions options;
  options.qps = 0;  // jobs pace themselves (per-job qps/burst)
  options.request_timeout = settings_.request_timeout;
  options.connect_timeout = std::min<Duration>(settings_.request_timeout, std::chrono::seconds(10));
  Progress progress = progress_;
  options.warn = [progress](std::string_view text) { progress(text); };
  Result<std::unique_ptr<kube::Transport>> transport = kube::Transport::create(config, options, clock_);
  if (!transport) {
    return std::unexpected(transport.error());
  }
  transport_ = std::move(*transport);
  server_ = config.server;
  kube::Api api(*transport_);
  // Reachable and authenticated: list namespaces (what the run needs anyway) with limit 1.
  kube::ListOptions probe;
  probe.limit = 1;
  kube::Request request = kube::list_request(kube::namespaces_resource(), "", probe);
  request.rate_limited = false;
  std::string path = request.path;
  kube::ApiResult<json> answer = kube::json_result("GET", path, transport_->call(std::move(request)));
  if (!answer) {
    Error error = answer.error().error;
    if (answer.error().code == 0) {
      error.kind = ErrorKind::unavailable;  // nothing answers there: the phase is SKIPPED with the reason
    }
    return std::unexpected(
        with_context(error, fmt::format("API server {} (context \"{}\"): ", config.server, config.context)));
  }
  return {};
}

Result<engine::PhaseRun> ApiPhase::run(engine::CancellationToken& cancel) {
  if (!transport_) {
    return fail(ErrorKind::internal, "api phase: run() before a successful prepare()");
  }
  kube::Transport& transport = *transport_;
  kube::Api api(transport);
  LoadRunner runner(transport, clock_, cancel);
  runner.set_live_sink(live_);
  // One limiter for every job that uses the phase's pace, as client-go has one per client: a sequence of
  // short jobs (read rounds, churn cycles) must not start each with a full burst, which made a 100/s phase
  // send 5x that. A job with its own qps or burst gets its own bucket, as kube-burner gives each job its own
  // client.
  kube::TokenBucket phase_pace(shape_.qps, shape_.burst, clock_.now());
  auto run_paced = [&](std::vector<Operation> operations, const JobSpec* job) {
    if (job != nullptr && (job->qps || job->burst)) {
      return runner.run(std::move(operations), job->qps.value_or(shape_.qps),
                        job->burst.value_or(shape_.burst));
    }
    return runner.run(std::move(operations), phase_pace);
  };
  auto created = std::make_shared<Created>();
  LoadStats total;
  std::vector<std::string> notes = shape_.notes;
  TimePoint phase_start = clock_.now();
  TimePoint phase_end = phase_start + duration_;

  // Pod startup: a watch on the run's pods from before the first create.
  PodStartupTracker tracker(clock_);
  kube::Reflector pods(transport, clock_, kube::pods_resource(), "", fmt::format("{}={}", kRunLabel, run_id_),
                       [&tracker](const kube::WatchEvent& event) { tracker.observe(event); });
  pods.start();
  pods.wait_synced(clock_.now() + settings_.request_timeout);

  std::optional<prom::Exposition> metrics_before;
  if (settings_.server_metrics) {
    kube::ApiResult<std::string> page = api.get_text("/metrics", settings_.request_timeout);
    if (page) {
      Result<prom::Exposition> parsed = prom::parse_text(*page);
      if (parsed) {
        metrics_before = std::move(*parsed);
      } else {
        notes.push_back("server /metrics unreadable: " + parsed.error().message);
      }
    } else {
      notes.push_back("server /metrics unreadable: " + page.error().error.message);
    }
  }

  // The jobs: the plan's, or the built-in workload as create -> read -> patch -> (churn) -> delete.
  std::vector<JobSpec> jobs = settings_.jobs;
  if (jobs.empty()) {
    JobSpec create{.name = "api-density",
                   .type = JobType::create,
                   .iterations = shape_.iterations,
                   .qps = {},
                   .burst = {},
                   .objects = builtin_objects(settings_),
                   .patch = {}};
    JobSpec read{.name = "api-read",
                 .type = JobType::read,
                 .iterations = 1,
                 .qps = {},
                 .burst = {},
                 .objects = {},
                 .patch = {}};
    JobSpec patch{.name = "api-patch",
                  .type = JobType::patch,
                  .iterations = 1,
                  .qps = {},
                  .burst = {},
                  .objects = {},
                  .patch = R"({"metadata":{"labels":{"kubeproof.io/patched":"true"}}})"};
    JobSpec remove{.name = "api-delete",
                   .type = JobType::remove,
                   .iterations = 1,
                   .qps = {},
                   .burst = {},
                   .objects = {},
                   .patch = {}};
    jobs = {create, read, patch, remove};
  }
  json run_label = {{std::string(kRunLabel), run_id_}};
  auto namespace_of = [&](int iteration) { return fmt::format("{}-{}", run_id_, iteration); };

  auto create_namespaces = [&](const std::vector<int>& iterations) {
    std::vector<Operation> operations;
    for (int iteration : iterations) {
      std::string ns = namespace_of(iteration);
      json object = {
          {"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}, {"labels", run_label}}}};
      Operation op;
      op.verb_class = VerbClass::mutating;
      op.request = kube::create_request(kube::namespaces_resource(), "", object);
      op.on_success = [created, ns](const kube::Response&) {
        std::lock_guard lock(created->mutex);
        created->namespaces.push_back(ns);
      };
      operations.push_back(std::move(op));
    }
    return run_paced(std::move(operations), nullptr);
  };

  auto create_objects = [&](const JobSpec& job, const std::vector<int>& iterations) -> Result<LoadStats> {
    std::vector<Operation> operations;
    for (int iteration : iterations) {
      std::string ns = namespace_of(iteration);
      for (const ObjectSpec& spec : job.objects) {
        for (int replica = 0; replica < spec.replicas; ++replica) {
          TemplateValues values{iteration, replica, job.name, run_id_, ns};
          Result<std::string> text = expand(spec.text, values, spec.name);
          if (!text) {
            return std::unexpected(text.error());
          }
          Result<std::vector<json>> objects = parse_objects(*text, spec.name);
          if (!objects) {
            return std::unexpected(objects.error());
          }
          for (json& object : *objects) {
            std::string api_version = object["apiVersion"].get<std::string>();
            std::string kind = object["kind"].get<std::string>();
            std::optional<kube::Resource> resource = kube::builtin_resource(api_version, kind);
            if (!resource) {
              return fail(ErrorKind::input, fmt::format("{}: {} {} is not a built-in type kubeproof knows",
                                                        spec.name, api_version, kind));
            }
            object["metadata"]["labels"][std::string(kRunLabel)] = run_id_;
            std::string name = object["metadata"].value("name", "");
            Operation op;
            op.verb_class = VerbClass::mutating;
            op.request = kube::create_request(*resource, resource->namespaced ? ns : "", object);
            PodStartupTracker* pod_tracker = &tracker;
            bool is_pod = resource->name == "pods" && resource->group.empty();
            op.on_success = [created, resource = *resource, ns, name, is_pod,
                             pod_tracker](const kube::Response& response) {
              if (is_pod) {
                pod_tracker->created(ns, name, response.finished);
              }
              std::lock_guard lock(created->mutex);
              created->objects.push_back(Object{resource, resource.namespaced ? ns : "", name});
            };
            operations.push_back(std::move(op));
          }
        }
      }
    }
    return run_paced(std::move(operations), &job);
  };

  auto snapshot = [&] {
    std::lock_guard lock(created->mutex);
    return std::pair{created->objects, created->namespaces};
  };

  auto delete_namespaces = [&](const std::vector<std::string>& names) {
    std::vector<Operation> operations;
    for (const std::string& ns : names) {
      Operation op;
      op.verb_class = VerbClass::mutating;
      op.request = kube::delete_request(kube::namespaces_resource(), "", ns, kube::Propagation::background);
      op.accepted_statuses = {404};
      operations.push_back(std::move(op));
    }
    return run_paced(std::move(operations), nullptr);
  };

  auto wait_namespaces_gone = [&](const std::vector<std::string>& names, TimePoint deadline) {
    std::set<std::string> waiting(names.begin(), names.end());
    while (!waiting.empty() && clock_.now() < deadline && !cancel.requested()) {
      for (auto it = waiting.begin(); it != waiting.end();) {
        kube::ApiResult<json> got = api.get(kube::namespaces_resource(), "", *it);
        it = (!got && got.error().code == 404) ? waiting.erase(it) : std::next(it);
      }
      if (!waiting.empty()) {
        cancel.wait_until(clock_, clock_.now() + std::chrono::milliseconds(200));
      }
    }
    return waiting.size();
  };

  std::vector<int> all_iterations;
  for (const JobSpec& job : jobs) {
    if (cancel.requested()) {
      break;
    }
    progress_(fmt::format("job {} ({})", job.name, to_string(job.type)));
    if (job.type == JobType::create) {
      std::vector<int> iterations;
      int first = static_cast<int>(all_iterations.size());
      for (int i = 0; i < job.iterations; ++i) {
        iterations.push_back(first + i);
        all_iterations.push_back(first + i);
      }
      total.merge(create_namespaces(iterations));
      Result<LoadStats> stats = create_objects(job, iterations);
      if (!stats) {
        return std::unexpected(stats.error());
      }
      total.merge(*stats);
    } else if (job.type == JobType::read) {
      // Rounds of GET every object + LIST every kind per namespace, until the phase's time is two-thirds
      // spent (at least one round), so a load test holds its rate for its duration.
      TimePoint read_until = phase_start + (phase_end - phase_start) * 2 / 3;
      int rounds = 0;
      do {
        auto [objects, namespaces] = snapshot();
        std::vector<Operation> operations;
        std::set<std::pair<std::string, std::string>> lists;  // (path of the collection)
        for (const Object& object : objects) {
          Operation op;
          op.verb_class = VerbClass::readonly;
          op.request = kube::get_request(object.resource, object.ns, object.name);
          operations.push_back(std::move(op));
          lists.emplace(object.ns, kube::resource_path(object.resource, object.ns));
        }
        for (const auto& [ns, path] : lists) {
          Operation op;
          op.verb_class = VerbClass::list;
          op.request.path = path + "?limit=500";
          operations.push_back(std::move(op));
        }
        if (operations.empty()) {
          break;
        }
        total.merge(run_paced(std::move(operations), &job));
        ++rounds;
      } while (settings_.jobs.empty() && clock_.now() < read_until && !cancel.requested());
      progress_(fmt::format("job {}: {} read rounds", job.name, rounds));
    } else if (job.type == JobType::patch) {
      json patch = json::parse(job.patch);
      auto [objects, namespaces] = snapshot();
      std::vector<Operation> operations;
      for (const Object& object : objects) {
        if (settings_.jobs.empty() && object.resource.name != "configmaps" &&
            object.resource.name != "secrets") {
          continue;
        }
        Operation op;
        op.verb_class = VerbClass::mutating;
        op.request = kube::patch_request(object.resource, object.ns, object.name, patch);
        operations.push_back(std::move(op));
      }
      total.merge(run_paced(std::move(operations), &job));
    } else {
      // Churn first (built-in workload): delete and recreate a share of the namespaces, in cycles.
      for (int cycle = 0;
           cycle < settings_.churn_cycles && settings_.churn_percent > 0 && !cancel.requested(); ++cycle) {
        int count = std::max(1, static_cast<int>(all_iterations.size()) * settings_.churn_percent / 100);
        std::vector<int> churned(
            all_iterations.begin(),
            all_iterations.begin() + std::min<std::size_t>(count, all_iterations.size()));
        std::vector<std::string> names;
        for (int iteration : churned) {
          names.push_back(namespace_of(iteration));
        }
        total.merge(delete_namespaces(names));
        wait_namespaces_gone(names, clock_.now() + settings_.cleanup_timeout);
        {
          std::lock_guard lock(created->mutex);
          std::erase_if(created->objects, [&](const Object& o) {
            return std::find(names.begin(), names.end(), o.ns) != names.end();
          });
          std::erase_if(created->namespaces, [&](const std::string& n) {
            return std::find(names.begin(), names.end(), n) != names.end();
          });
        }
        total.merge(create_namespaces(churned));
        JobSpec churn_job = jobs.front();
        Result<LoadStats> stats = create_objects(churn_job, churned);
        if (!stats) {
          return std::unexpected(stats.error());
        }
        total.merge(*stats);
        progress_(fmt::format("churn cycle {}: {} namespaces recreated", cycle + 1, names.size()));
      }
      // Pods must have had their chance to start before their namespaces go.
      if (std::optional<TimePoint> last = tracker.last_created()) {
        TimePoint deadline = *last + settings_.pod_startup_timeout;
        while (tracker.ready() < tracker.pods() && clock_.now() < deadline && !cancel.requested()) {
          cancel.wait_until(clock_, std::min(deadline, clock_.now() + std::chrono::milliseconds(100)));
        }
      }
      auto [objects, namespaces] = snapshot();
      total.merge(delete_namespaces(namespaces));
    }
  }
  // Pods of a custom job without a delete job: still wait for them.
  if (std::optional<TimePoint> last = tracker.last_created()) {
    TimePoint deadline = *last + settings_.pod_startup_timeout;
    while (tracker.ready() < tracker.pods() && clock_.now() < deadline && !cancel.requested()) {
      cancel.wait_until(clock_, std::min(deadline, clock_.now() + std::chrono::milliseconds(100)));
    }
  }
  pods.stop();

  std::optional<ServerSlis> server;
  if (metrics_before) {
    kube::ApiResult<std::string> page = api.get_text("/metrics", settings_.request_timeout);
    Result<prom::Exposition> after =
        page ? prom::parse_text(*page)
             : Result<prom::Exposition>(fail(ErrorKind::protocol, page.error().error.message));
    if (after) {
      Result<ServerSlis> slis = compute_server_slis(*metrics_before, *after);
      if (slis) {
        server = std::move(*slis);
        for (const std::string& problem : server->problems) {
          notes.push_back("server /metrics: " + problem);
        }
      } else {
        notes.push_back("server /metrics: " + slis.error().message);
      }
    } else {
      notes.push_back("server /metrics unreadable after the run: " + after.error().message);
    }
  }

  engine::PhaseRun result;
  std::string common = notes.empty() ? std::string() : "; " + fmt::format("{}", fmt::join(notes, "; "));
  auto latency = [&](std::string metric, const Histogram& client, const ClassSli* server_sli,
                     std::string what) {
    if (client.count() == 0 && (server_sli == nullptr || !server_sli->p99)) {
      return;
    }
    Measurement m = percentile_measurement(std::move(metric), client);
    double client_p99 = m.value;
    if (server_sli != nullptr && server_sli->p99) {
      m.value = *server_sli->p99;
      m.source = "server /metrics";
      m.note = fmt::format(
          "apiserver_request_duration_seconds P99 of the worst series, {} ({:g} requests); "
          "client-side P99 {} over {} {} from the intended send time{}",
          server_sli->worst, server_sli->count, ms(client_p99), client.count(), what, common);
    } else {
      m.source = "client";
      m.note = fmt::format("{} {}, from the intended send time (server /metrics not used){}", client.count(),
                           what, common);
    }
    result.measurements.push_back(std::move(m));
  };
  latency("api.mutating.p99", total.mutating, server ? &server->mutating : nullptr,
          "creates/patches/deletes");
  latency("api.readonly.p99", total.readonly, server ? &server->readonly : nullptr, "GETs");
  latency("api.list.p99", total.list, server ? &server->list : nullptr, "LISTs");

  double busy = std::chrono::duration<double>(total.busy).count();
  if (total.requests() > 0 && busy > 0) {
    Measurement qps;
    qps.metric = "api.qps";
    qps.value = static_cast<double>(total.ok) / busy;
    // Open loop: the value can only show the rate we asked for (eval must not read a light run as the API
    // server's capacity).
    qps.offered = total.offered_rate();
    qps.source = "client";
    qps.note = fmt::format("{} successful requests in {:.1f}s of job time, paced at {:g}/s (burst {})",
                           total.ok, busy, shape_.qps, shape_.burst);
    result.measurements.push_back(std::move(qps));
    if (qps.value < 0.9 * shape_.qps && total.requests() > 2 * static_cast<std::uint64_t>(shape_.burst)) {
      result.invalid_reasons.push_back(
          fmt::format("achieved {:.1f} requests/s, below 90% of the intended {:g}/s",
                      static_cast<double>(total.ok) / busy, shape_.qps));
    }
    Measurement errors;
    errors.metric = "api.error_rate";
    errors.value = static_cast<double>(total.failed) / static_cast<double>(total.requests());
    errors.source = "client";
    std::string breakdown;
    for (const auto& [key, count] : total.failures) {
      breakdown += fmt::format("{}{}: {}", breakdown.empty() ? "" : ", ", key, count);
    }
    errors.note = total.failed == 0 ? fmt::format("0 of {} requests failed", total.requests())
                                    : fmt::format("{} of {} requests failed ({}); first: {}", total.failed,
                                                  total.requests(), breakdown, total.first_errors.front());
    result.measurements.push_back(std::move(errors));
  }

  PodStartupResult startup = tracker.result(settings_.pod_startup_timeout);
  if (startup.pods > 0) {
    Measurement m = percentile_measurement("api.pod_startup.p99", startup.startup);
    m.source = "client watch";
    std::string stages;
    for (std::size_t i = 0; i < 4; ++i) {
      const Histogram& h = startup.stages[i];
      if (h.count() > 0) {
        stages +=
            fmt::format("{}{} P50 {} P90 {} P99 {}", stages.empty() ? "" : "; ", kPodStageNames[i],
                        ms(seconds_of(h.value_at_percentile(50))), ms(seconds_of(h.value_at_percentile(90))),
                        ms(seconds_of(h.value_at_percentile(99))));
      }
    }
    m.note = fmt::format(
        "{} pods, {} Ready, {} never started within {} (counted at the timeout{}); created -> {}; "
        "condition timestamps disagree by > 2 s for {}",
        startup.pods, startup.started, startup.never_started, format_duration(settings_.pod_startup_timeout),
        startup.unscheduled > 0
            ? fmt::format(", {} never scheduled: no scheduler or nodes?", startup.unscheduled)
            : "",
        stages.empty() ? "no stage observed" : stages, startup.condition_mismatches);
    if (startup.started == 0) {
      result.invalid_reasons.push_back(fmt::format(
          "none of {} pods became Ready within {}{}", startup.pods,
          format_duration(settings_.pod_startup_timeout),
          startup.unscheduled == startup.pods ? " (none was scheduled: no scheduler or nodes?)" : ""));
    }
    result.measurements.push_back(std::move(m));
  }
  return result;
}

void ApiPhase::teardown() noexcept {
  if (!transport_) {
    return;
  }
  try {
    Result<std::vector<std::string>> removed =
        cleanup(*transport_, run_id_, settings_.cleanup_timeout, clock_);
    if (!removed) {
      progress_(fmt::format("cleanup of run {}: {}", run_id_, removed.error().message));
    } else if (!removed->empty()) {
      progress_(fmt::format("cleanup of run {}: {} namespaces deleted", run_id_, removed->size()));
    }
  } catch (...) {
    progress_(fmt::format("cleanup of run {} failed; `kubeproof cleanup --run {}` removes what is left",
                          run_id_, run_id_));
  }
  transport_.reset();
}

Result<std::vector<std::string>> cleanup(kube::Transport& transport, const std::string& run_id,
                                         Duration timeout, Clock& clock) {
  kube::Api api(transport);
  kube::ListOptions options;
  options.label_selector = run_id.empty() ? std::string(kRunLabel) : fmt::format("{}={}", kRunLabel, run_id);
  kube::ApiResult<kube::ListResult> listed = api.list(kube::namespaces_resource(), "", options);
  if (!listed) {
    return std::unexpected(listed.error().error);
  }
  std::vector<std::string> names;
  for (const json& item : listed->items) {
    std::string name = item["metadata"].value("name", "");
    names.push_back(name);
    if (!item["metadata"].contains("deletionTimestamp")) {
      kube::ApiResult<json> removed =
          api.remove(kube::namespaces_resource(), "", name, kube::Propagation::background);
      if (!removed && removed.error().code != 404) {
        return std::unexpected(removed.error().error);
      }
    }
  }
  TimePoint deadline = clock.now() + timeout;
  while (true) {
    kube::ApiResult<kube::ListResult> left = api.list(kube::namespaces_resource(), "", options);
    if (left && left->items.empty()) {
      return names;
    }
    if (clock.now() >= deadline) {
      std::size_t count = left ? left->items.size() : 0;
      return fail(ErrorKind::timeout, fmt::format("{} namespaces labelled {} still terminating after {}",
                                                  count, options.label_selector, format_duration(timeout)));
    }
    clock.sleep_until(
        std::min(deadline, clock.now() + std::chrono::milliseconds(200)));  // polling the server
  }
}

}  // namespace kp::drivers::api
