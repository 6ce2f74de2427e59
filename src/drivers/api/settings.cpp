#include "drivers/api/settings.hpp"

#include <charconv>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/yaml_fields.hpp"

namespace kp::drivers::api {
namespace {

using config::YamlField;
using config::YamlMap;

Result<int> read_int(const YamlField& field, int minimum, int maximum) {
  std::string text = field.text();
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (!field.is_scalar() || ec != std::errc{} || end != text.data() + text.size()) {
    return field.fail_got("not a whole number");
  }
  if (value < minimum || value > maximum) {
    return field.fail_got(fmt::format("must be within {}..{}", minimum, maximum));
  }
  return value;
}

Result<double> read_qps(const YamlField& field) {
  Result<Rate> rate = config::read_rate(field);
  if (!rate) {
    return std::unexpected(rate.error());
  }
  if (rate->per_second <= 0) {
    return field.fail_got("must be > 0");
  }
  return rate->per_second;
}

Result<std::vector<ObjectSpec>> parse_objects(const YamlField& field, const std::filesystem::path& base) {
  Result<std::vector<YamlField>> items = field.items();
  if (!items) {
    return std::unexpected(items.error());
  }
  std::vector<ObjectSpec> objects;
  for (const YamlField& item : *items) {
    Result<YamlMap> map = YamlMap::open(item, {"file", "template", "replicas"});
    if (!map) {
      return std::unexpected(map.error());
    }
    ObjectSpec spec;
    std::optional<YamlField> file = map->get("file");
    std::optional<YamlField> inline_text = map->get("template");
    if (file.has_value() == inline_text.has_value()) {
      return item.fail("needs exactly one of file or template");
    }
    if (file) {
      Result<std::string> name = config::read_string(*file);
      if (!name) {
        return std::unexpected(name.error());
      }
      std::filesystem::path path =
          std::filesystem::path(*name).is_absolute() ? std::filesystem::path(*name) : base / *name;
      Result<std::string> text = config::read_text_file(path.string());
      if (!text) {
        return file->fail(text.error().message);
      }
      spec.name = path.string();
      spec.text = std::move(*text);
    } else {
      Result<std::string> text = config::read_string(*inline_text);
      if (!text) {
        return std::unexpected(text.error());
      }
      spec.name = inline_text->path();
      spec.text = std::move(*text);
    }
    if (std::optional<YamlField> replicas = map->get("replicas")) {
      Result<int> value = read_int(*replicas, 1, 100000);
      if (!value) {
        return std::unexpected(value.error());
      }
      spec.replicas = *value;
    }
    objects.push_back(std::move(spec));
  }
  return objects;
}

Result<JobSpec> parse_job(const YamlField& field, const std::filesystem::path& base) {
  Result<YamlMap> map =
      YamlMap::open(field, {"name", "type", "iterations", "qps", "burst", "objects", "patch"});
  if (!map) {
    return std::unexpected(map.error());
  }
  JobSpec job;
  Result<YamlField> name = map->require("name");
  if (!name) {
    return std::unexpected(name.error());
  }
  Result<std::string> name_text = config::read_string(*name);
  if (!name_text) {
    return std::unexpected(name_text.error());
  }
  job.name = *name_text;
  if (std::optional<YamlField> type = map->get("type")) {
    Result<std::string> choice = config::read_choice(*type, {"create", "read", "patch", "delete"});
    if (!choice) {
      return std::unexpected(choice.error());
    }
    job.type = *choice == "create"  ? JobType::create
               : *choice == "read"  ? JobType::read
               : *choice == "patch" ? JobType::patch
                                    : JobType::remove;
  }
  if (std::optional<YamlField> iterations = map->get("iterations")) {
    Result<int> value = read_int(*iterations, 1, 100000);
    if (!value) {
      return std::unexpected(value.error());
    }
    job.iterations = *value;
  }
  if (std::optional<YamlField> qps = map->get("qps")) {
    Result<double> value = read_qps(*qps);
    if (!value) {
      return std::unexpected(value.error());
    }
    job.qps = *value;
  }
  if (std::optional<YamlField> burst = map->get("burst")) {
    Result<int> value = read_int(*burst, 1, 100000);
    if (!value) {
      return std::unexpected(value.error());
    }
    job.burst = *value;
  }
  if (std::optional<YamlField> objects = map->get("objects")) {
    Result<std::vector<ObjectSpec>> parsed = parse_objects(*objects, base);
    if (!parsed) {
      return std::unexpected(parsed.error());
    }
    job.objects = std::move(*parsed);
  }
  if (std::optional<YamlField> patch = map->get("patch")) {
    Result<std::string> text = config::read_string(*patch);
    if (!text) {
      return std::unexpected(text.error());
    }
    if (nlohmann::json::parse(*text, nullptr, false).is_discarded()) {
      return patch->fail_got("not a JSON merge patch");
    }
    job.patch = *text;
  }
  if (job.type == JobType::create && job.objects.empty()) {
    return map->field().fail("a create job needs objects");
  }
  return job;
}

}  // namespace

std::string_view to_string(JobType type) {
  switch (type) {
    case JobType::create:
      return "create";
    case JobType::read:
      return "read";
    case JobType::patch:
      return "patch";
    case JobType::remove:
      return "delete";
  }
  return "?";
}

Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path) {
  Settings settings;
  if (!node.IsDefined() || node.IsNull()) {
    return settings;
  }
  YamlField root(node, std::string(file), std::string(path));
  Result<YamlMap> map = YamlMap::open(root, {"kubeconfig",
                                             "context",
                                             "qps",
                                             "rate",
                                             "stress",
                                             "burst",
                                             "iterations",
                                             "configmaps",
                                             "secrets",
                                             "services",
                                             "deployments",
                                             "pods",
                                             "pod_image",
                                             "pod_startup_timeout",
                                             "churn_percent",
                                             "churn_cycles",
                                             "request_timeout",
                                             "cleanup_timeout",
                                             "serviceaccount_timeout",
                                             "server_metrics",
                                             "jobs"});
  if (!map) {
    return std::unexpected(map.error());
  }
  for (const auto& [key, field] : map->entries()) {
    Result<void> ok;
    auto set_string = [&](std::optional<std::string>& target) -> Result<void> {
      Result<std::string> text = config::read_string(field);
      if (!text) {
        return std::unexpected(text.error());
      }
      target = *text;
      return {};
    };
    auto set_int = [&](int& target, int minimum, int maximum) -> Result<void> {
      Result<int> value = read_int(field, minimum, maximum);
      if (!value) {
        return std::unexpected(value.error());
      }
      target = *value;
      return {};
    };
    auto set_duration = [&](Duration& target) -> Result<void> {
      Result<Duration> value = config::read_duration(field);
      if (!value) {
        return std::unexpected(value.error());
      }
      if (value->count() <= 0) {
        return field.fail_got("must be > 0");
      }
      target = *value;
      return {};
    };
    if (key == "kubeconfig") {
      ok = set_string(settings.kubeconfig);
    } else if (key == "context") {
      ok = set_string(settings.context);
    } else if (key == "qps" || key == "rate") {
      if (map->get("qps") && map->get("rate")) {
        return field.fail_got("give the rate as qps or as rate, not both");
      }
      Result<load::RateSetting> value = load::read_rate_setting(field);
      ok = value ? Result<void>{} : std::unexpected(value.error());
      if (value) {
        settings.rate = *value;
      }
    } else if (key == "stress") {
      Result<load::StressSettings> value = load::read_stress_settings(field);
      ok = value ? Result<void>{} : std::unexpected(value.error());
      if (value) {
        settings.stress = *value;
      }
    } else if (key == "serviceaccount_timeout") {
      ok = set_duration(settings.serviceaccount_timeout);
    } else if (key == "burst") {
      int burst = 0;
      ok = set_int(burst, 1, 100000);
      settings.burst = burst;
    } else if (key == "iterations") {
      int iterations = 0;
      ok = set_int(iterations, 1, 100000);
      settings.iterations = iterations;
    } else if (key == "configmaps") {
      ok = set_int(settings.configmaps, 0, 10000);
    } else if (key == "secrets") {
      ok = set_int(settings.secrets, 0, 10000);
    } else if (key == "services") {
      ok = set_int(settings.services, 0, 1000);
    } else if (key == "deployments") {
      ok = set_int(settings.deployments, 0, 1000);
    } else if (key == "pods") {
      ok = set_int(settings.pods, 0, 1000);
    } else if (key == "pod_image") {
      std::optional<std::string> image;
      ok = set_string(image);
      settings.pod_image = image.value_or(settings.pod_image);
    } else if (key == "pod_startup_timeout") {
      ok = set_duration(settings.pod_startup_timeout);
    } else if (key == "churn_percent") {
      ok = set_int(settings.churn_percent, 0, 100);
    } else if (key == "churn_cycles") {
      ok = set_int(settings.churn_cycles, 0, 1000);
    } else if (key == "request_timeout") {
      ok = set_duration(settings.request_timeout);
    } else if (key == "cleanup_timeout") {
      ok = set_duration(settings.cleanup_timeout);
    } else if (key == "server_metrics") {
      Result<bool> value = config::read_bool(field);
      ok = value ? Result<void>{} : std::unexpected(value.error());
      if (value) {
        settings.server_metrics = *value;
      }
    } else if (key == "jobs") {
      Result<std::vector<YamlField>> items = field.items();
      if (!items) {
        return std::unexpected(items.error());
      }
      std::filesystem::path base = std::filesystem::path(file).parent_path();
      for (const YamlField& item : *items) {
        Result<JobSpec> job = parse_job(item, base);
        if (!job) {
          return std::unexpected(job.error());
        }
        settings.jobs.push_back(std::move(*job));
      }
    }
    if (!ok) {
      return std::unexpected(ok.error());
    }
  }
  return settings;
}

}  // namespace kp::drivers::api
