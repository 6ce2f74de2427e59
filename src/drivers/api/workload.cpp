#include "drivers/api/workload.hpp"

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "drivers/api/templates.hpp"
#include "kube/rate_limiter.hpp"

namespace kp::drivers::api {
namespace {

using kube::json;

struct Object {
  kube::Resource resource;
  std::string ns;
  std::string name;
};

}  // namespace

struct Workload::Created {
  std::mutex mutex;
  std::vector<Object> objects;
  std::vector<std::string> namespaces;
};

Workload::Workload(WorkloadContext context) : context_(std::move(context)) {}

Workload::~Workload() = default;

std::vector<std::string> Workload::notes() const {
  return notes_;
}

Result<LoadStats> Workload::run(const Shape& shape, Duration duration) {
  Clock& clock = context_.clock;
  engine::CancellationToken& cancel = context_.cancel;
  const Settings& settings = context_.settings;
  const std::string& run_id = context_.run_id;
  PodStartupTracker& tracker = context_.tracker;
  LoadRunner runner(context_.transport, clock, cancel);
  runner.set_live_sink(context_.live);
  kube::Api api(context_.transport);
  // One limiter for every job that uses the phase's pace, as client-go has one per client: a sequence of
  // short jobs (read rounds, churn cycles) must not start each with a full burst, which made a 100/s phase
  // send 5x that. A job with its own qps or burst gets its own bucket, as kube-burner gives each job its own
  // client.
  kube::TokenBucket phase_pace(shape.qps, shape.burst, clock.now());
  LoadStats total;
  auto run_paced = [&](std::vector<Operation> operations, const JobSpec* job) -> Result<void> {
    Result<LoadStats> stats = job != nullptr && (job->qps || job->burst)
                                  ? runner.run(std::move(operations), job->qps.value_or(shape.qps),
                                               job->burst.value_or(shape.burst))
                                  : runner.run(std::move(operations), phase_pace);
    if (!stats) {
      return std::unexpected(stats.error());
    }
    total.merge(*stats);
    return {};
  };
  auto created = std::make_shared<Created>();
  const TimePoint pass_start = clock.now();

  // The jobs: the plan's, or the built-in workload as create -> read -> patch -> (churn) -> delete.
  std::vector<JobSpec> jobs = settings.jobs;
  if (jobs.empty()) {
    jobs.push_back(JobSpec{.name = "api-density",
                           .type = JobType::create,
                           .iterations = shape.iterations,
                           .qps = {},
                           .burst = {},
                           .objects = builtin_objects(settings),
                           .patch = {}});
    jobs.push_back(JobSpec{.name = "api-read",
                           .type = JobType::read,
                           .iterations = 1,
                           .qps = {},
                           .burst = {},
                           .objects = {},
                           .patch = {}});
    jobs.push_back(JobSpec{.name = "api-patch",
                           .type = JobType::patch,
                           .iterations = 1,
                           .qps = {},
                           .burst = {},
                           .objects = {},
                           .patch = R"({"metadata":{"labels":{"kubeproof.io/patched":"true"}}})"});
    jobs.push_back(JobSpec{.name = "api-delete",
                           .type = JobType::remove,
                           .iterations = 1,
                           .qps = {},
                           .burst = {},
                           .objects = {},
                           .patch = {}});
  }
  json run_label = {{std::string(kRunLabel), run_id}};
  auto namespace_of = [&](int iteration) { return fmt::format("{}-{}", run_id, iteration); };

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

  // Bounded: a cluster without the ServiceAccount controller never makes one; then waiting once is enough.
  auto wait_for_accounts = [&](const std::vector<std::string>& names) {
    if (accounts_absent_ || names.empty()) {
      return;
    }
    const TimePoint started = clock.now();
    std::vector<std::string> missing =
        context_.accounts.wait(names, started + settings.serviceaccount_timeout, cancel);
    if (!missing.empty() && !cancel.requested()) {
      accounts_absent_ = true;
      notes_.push_back(fmt::format(
          "{} of {} namespaces had no default ServiceAccount after {} (is the controller-manager running?); "
          "pods were created in them anyway",
          missing.size(), names.size(), format_duration(settings.serviceaccount_timeout)));
    }
    const Duration waited = clock.now() - started;
    if (waited > std::chrono::milliseconds(100)) {
      context_.progress(fmt::format("waited {} for the default ServiceAccount of {} namespaces",
                                    format_duration(waited), names.size()));
    }
  };

  auto create_objects = [&](const JobSpec& job, const std::vector<int>& iterations) -> Result<void> {
    std::vector<Operation> operations;
    std::vector<std::string> pod_namespaces;
    for (int iteration : iterations) {
      std::string ns = namespace_of(iteration);
      for (const ObjectSpec& spec : job.objects) {
        for (int replica = 0; replica < spec.replicas; ++replica) {
          TemplateValues values{iteration, replica, job.name, run_id, ns};
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
            object["metadata"]["labels"][std::string(kRunLabel)] = run_id;
            std::string name = object["metadata"].value("name", "");
            Operation op;
            op.verb_class = VerbClass::mutating;
            op.request = kube::create_request(*resource, resource->namespaced ? ns : "", object);
            PodStartupTracker* pod_tracker = &tracker;
            bool is_pod = resource->name == "pods" && resource->group.empty();
            if (is_pod && (pod_namespaces.empty() || pod_namespaces.back() != ns)) {
              pod_namespaces.push_back(ns);
            }
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
    wait_for_accounts(pod_namespaces);
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
      // 409: already Terminating (the transport retried a DELETE whose first attempt went through).
      op.accepted_statuses = {404, 409};
      operations.push_back(std::move(op));
    }
    return run_paced(std::move(operations), nullptr);
  };

  auto wait_namespaces_gone = [&](const std::vector<std::string>& names, TimePoint deadline) {
    std::set<std::string> waiting(names.begin(), names.end());
    while (!waiting.empty() && clock.now() < deadline && !cancel.requested()) {
      for (auto it = waiting.begin(); it != waiting.end();) {
        kube::ApiResult<json> got = api.get(kube::namespaces_resource(), "", *it);
        it = (!got && got.error().code == 404) ? waiting.erase(it) : std::next(it);
      }
      if (!waiting.empty()) {
        cancel.wait_until(clock, clock.now() + std::chrono::milliseconds(200));
      }
    }
    return waiting.size();
  };

  auto wait_pods_started = [&] {
    if (std::optional<TimePoint> last = tracker.last_created()) {
      TimePoint deadline = *last + settings.pod_startup_timeout;
      while (tracker.ready() < tracker.pods() && clock.now() < deadline && !cancel.requested()) {
        cancel.wait_until(clock, std::min(deadline, clock.now() + std::chrono::milliseconds(100)));
      }
    }
  };

  std::vector<int> all_iterations;
  for (const JobSpec& job : jobs) {
    if (cancel.requested()) {
      break;
    }
    context_.progress(fmt::format("job {} ({})", job.name, to_string(job.type)));
    if (job.type == JobType::create) {
      std::vector<int> iterations;
      for (int i = 0; i < job.iterations; ++i) {
        iterations.push_back(next_iteration_);
        all_iterations.push_back(next_iteration_);
        ++next_iteration_;
      }
      if (Result<void> done = create_namespaces(iterations); !done) {
        return std::unexpected(done.error());
      }
      if (Result<void> done = create_objects(job, iterations); !done) {
        return std::unexpected(done.error());
      }
    } else if (job.type == JobType::read) {
      // Rounds of GET every object + LIST every kind per namespace, until the pass's time is two-thirds
      // spent (at least one round), so a load test holds its rate for its duration.
      TimePoint read_until = pass_start + duration * 2 / 3;
      int rounds = 0;
      do {
        auto [objects, namespaces] = snapshot();
        std::vector<Operation> operations;
        std::set<std::pair<std::string, std::string>> lists;  // (namespace, path of the collection)
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
        if (Result<void> done = run_paced(std::move(operations), &job); !done) {
          return std::unexpected(done.error());
        }
        ++rounds;
      } while (settings.jobs.empty() && clock.now() < read_until && !cancel.requested());
      context_.progress(fmt::format("job {}: {} read rounds", job.name, rounds));
    } else if (job.type == JobType::patch) {
      json patch = json::parse(job.patch);
      auto [objects, namespaces] = snapshot();
      std::vector<Operation> operations;
      for (const Object& object : objects) {
        if (settings.jobs.empty() && object.resource.name != "configmaps" &&
            object.resource.name != "secrets") {
          continue;
        }
        Operation op;
        op.verb_class = VerbClass::mutating;
        op.request = kube::patch_request(object.resource, object.ns, object.name, patch);
        operations.push_back(std::move(op));
      }
      if (Result<void> done = run_paced(std::move(operations), &job); !done) {
        return std::unexpected(done.error());
      }
    } else {
      // Churn first (built-in workload): delete and recreate a share of the namespaces, in cycles.
      for (int cycle = 0; cycle < settings.churn_cycles && settings.churn_percent > 0 && !cancel.requested();
           ++cycle) {
        int count = std::max(1, static_cast<int>(all_iterations.size()) * settings.churn_percent / 100);
        std::vector<int> churned(
            all_iterations.begin(),
            all_iterations.begin() + std::min<std::size_t>(count, all_iterations.size()));
        std::vector<std::string> names;
        for (int iteration : churned) {
          names.push_back(namespace_of(iteration));
        }
        if (Result<void> done = delete_namespaces(names); !done) {
          return std::unexpected(done.error());
        }
        const std::size_t terminating = wait_namespaces_gone(names, clock.now() + settings.cleanup_timeout);
        {
          std::lock_guard lock(created->mutex);
          std::erase_if(created->objects, [&](const Object& o) {
            return std::find(names.begin(), names.end(), o.ns) != names.end();
          });
          std::erase_if(created->namespaces, [&](const std::string& n) {
            return std::find(names.begin(), names.end(), n) != names.end();
          });
        }
        if (cancel.requested()) {
          break;
        }
        if (terminating > 0) {
          // Recreating a namespace that is still Terminating gets 409 AlreadyExists, and creating in it 403:
          // the namespace controller's slowness, not request errors of the API server to count.
          notes_.push_back(fmt::format(
              "churn stopped in cycle {} of {}: {} of {} deleted namespaces still Terminating after {} "
              "(cleanup_timeout); the namespace controller is slow to empty them",
              cycle + 1, settings.churn_cycles, terminating, names.size(),
              format_duration(settings.cleanup_timeout)));
          break;
        }
        if (Result<void> done = create_namespaces(churned); !done) {
          return std::unexpected(done.error());
        }
        if (Result<void> done = create_objects(jobs.front(), churned); !done) {
          return std::unexpected(done.error());
        }
        context_.progress(fmt::format("churn cycle {}: {} namespaces recreated", cycle + 1, names.size()));
      }
      // Pods must have had their chance to start before their namespaces go.
      wait_pods_started();
      auto [objects, namespaces] = snapshot();
      if (Result<void> done = delete_namespaces(namespaces); !done) {
        return std::unexpected(done.error());
      }
    }
  }
  // Pods of a custom job without a delete job: still wait for them.
  wait_pods_started();
  return total;
}

}  // namespace kp::drivers::api
