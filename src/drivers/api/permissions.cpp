#include "drivers/api/permissions.hpp"

#include <fmt/format.h>

#include "drivers/api/shape.hpp"
#include "drivers/api/templates.hpp"
#include "kube/api.hpp"

namespace kp::drivers::api {

Result<std::vector<kube::Permission>> required_permissions(const Settings& settings) {
  std::vector<kube::Permission> needed;
  for (const char* verb : {"create", "get", "list", "delete"}) {
    needed.push_back({verb, "", "namespaces", "", "the run's namespaces"});
  }
  needed.push_back({"list", "", "pods", "", "pod startup, from a watch"});
  needed.push_back({"watch", "", "pods", "", "pod startup, from a watch"});
  needed.push_back(
      {"list", "", "serviceaccounts", "", "waiting for each namespace's default ServiceAccount"});
  needed.push_back(
      {"watch", "", "serviceaccounts", "", "waiting for each namespace's default ServiceAccount"});

  std::vector<JobSpec> jobs = settings.jobs;
  if (jobs.empty()) {
    jobs.push_back(JobSpec{.name = "api-density",
                           .type = JobType::create,
                           .iterations = 1,
                           .qps = {},
                           .burst = {},
                           .objects = builtin_objects(settings),
                           .patch = {}});
  }
  bool patches = settings.jobs.empty();
  for (const JobSpec& job : jobs) {
    patches = patches || job.type == JobType::patch;
  }
  for (const JobSpec& job : jobs) {
    for (const ObjectSpec& spec : job.objects) {
      TemplateValues sample{0, 0, job.name, "kp-preflight", "kp-preflight-0"};
      Result<std::string> text = expand(spec.text, sample, spec.name);
      if (!text) {
        return std::unexpected(text.error());
      }
      Result<std::vector<nlohmann::json>> objects = parse_objects(*text, spec.name);
      if (!objects) {
        return std::unexpected(objects.error());
      }
      for (const nlohmann::json& object : *objects) {
        std::optional<kube::Resource> resource = kube::builtin_resource(
            object["apiVersion"].get<std::string>(), object["kind"].get<std::string>());
        if (!resource) {
          continue;  // the run reports it as an input error
        }
        const std::string why = fmt::format("job {}", job.name);
        for (const char* verb : {"create", "get", "list"}) {
          needed.push_back({verb, resource->group, resource->name, "", why});
        }
        // The built-in workload patches only configmaps and secrets; a plan's patch job, every object.
        const bool patched =
            settings.jobs.empty() ? resource->name == "configmaps" || resource->name == "secrets" : patches;
        if (patched) {
          needed.push_back({"patch", resource->group, resource->name, "", "the patch job"});
        }
      }
    }
  }
  return kube::unique_permissions(std::move(needed));
}

}  // namespace kp::drivers::api
