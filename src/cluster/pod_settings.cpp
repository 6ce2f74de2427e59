// `<phase>.settings.pods`: what every agent pod of a phase shares, read with file:line errors.

#include <charconv>
#include <regex>

#include <fmt/format.h>

#include "cluster/agent_pod.hpp"

namespace kp::cluster {
namespace {

// A Kubernetes resource quantity: a decimal number with an optional binary (Ki..Ei), decimal (k, M..E), milli
// (m) or exponent suffix, as resource.Quantity parses it.
const std::regex& quantity_pattern() {
  static const std::regex pattern(
      R"(^[+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[KMGTPE]i|[mkMGTPE]|[eE][+-]?[0-9]+)?$)");
  return pattern;
}

// A label key or value as the API validates them (qualified name with an optional DNS prefix; value up to
// 63 characters).
const std::regex& label_key_pattern() {
  static const std::regex pattern(
      R"(^(?:[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$)");
  return pattern;
}
const std::regex& label_value_pattern() {
  static const std::regex pattern(R"(^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$)");
  return pattern;
}

Result<std::map<std::string, std::string>> read_node_selector(const config::YamlField& field) {
  Result<config::YamlMap> map = config::YamlMap::open_any(field);
  if (!map) {
    return std::unexpected(map.error());
  }
  std::map<std::string, std::string> selector;
  for (const auto& [key, value] : map->entries()) {
    if (!std::regex_match(key, label_key_pattern())) {
      return value.fail(fmt::format("is not a label key, got \"{}\"", key));
    }
    if (!value.is_scalar() || !std::regex_match(value.text(), label_value_pattern())) {
      return value.fail_got("must be a label value (at most 63 letters, digits, '-', '_', '.')");
    }
    selector[key] = value.text();
  }
  return selector;
}

Result<json> read_tolerations(const config::YamlField& field) {
  Result<std::vector<config::YamlField>> items = field.items();
  if (!items) {
    return std::unexpected(items.error());
  }
  json tolerations = json::array();
  for (const config::YamlField& item : *items) {
    Result<config::YamlMap> map =
        config::YamlMap::open(item, {"key", "operator", "value", "effect", "tolerationSeconds"});
    if (!map) {
      return std::unexpected(map.error());
    }
    json toleration = json::object();
    std::string op = "Equal";
    if (std::optional<config::YamlField> value = map->get("operator")) {
      Result<std::string> chosen = config::read_choice(*value, {"Exists", "Equal"});
      if (!chosen) {
        return std::unexpected(chosen.error());
      }
      op = *chosen;
      toleration["operator"] = op;
    }
    if (std::optional<config::YamlField> key = map->get("key")) {
      if (!key->is_scalar() || !std::regex_match(key->text(), label_key_pattern())) {
        return key->fail_got("must be a taint key");
      }
      toleration["key"] = key->text();
    } else if (op != "Exists") {
      return item.fail(
          "a toleration without a key must have operator: Exists (it then tolerates every taint)");
    }
    if (std::optional<config::YamlField> value = map->get("value")) {
      if (op == "Exists") {
        return value->fail_got("must be absent with operator: Exists");
      }
      if (!value->is_scalar() || !std::regex_match(value->text(), label_value_pattern())) {
        return value->fail_got("must be a taint value");
      }
      toleration["value"] = value->text();
    }
    if (std::optional<config::YamlField> effect = map->get("effect")) {
      Result<std::string> chosen =
          config::read_choice(*effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"});
      if (!chosen) {
        return std::unexpected(chosen.error());
      }
      toleration["effect"] = *chosen;
    }
    if (std::optional<config::YamlField> seconds = map->get("tolerationSeconds")) {
      long long value = 0;
      const std::string text = seconds->text();
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (!seconds->is_scalar() || text.empty() || error != std::errc{} || end != text.data() + text.size() ||
          value < 0) {
        return seconds->fail_got("must be a whole number of seconds >= 0");
      }
      toleration["tolerationSeconds"] = value;
    }
    tolerations.push_back(std::move(toleration));
  }
  return tolerations;
}

Result<json> read_resource_list(const config::YamlField& field) {
  Result<config::YamlMap> map = config::YamlMap::open(field, {"cpu", "memory", "ephemeral-storage"});
  if (!map) {
    return std::unexpected(map.error());
  }
  json list = json::object();
  for (const auto& [key, value] : map->entries()) {
    if (!value.is_scalar() || !std::regex_match(value.text(), quantity_pattern())) {
      return value.fail_got("must be a Kubernetes quantity such as 500m, 2, 256Mi");
    }
    list[key] = value.text();
  }
  return list;
}

Result<json> read_resources(const config::YamlField& field) {
  Result<config::YamlMap> map = config::YamlMap::open(field, {"requests", "limits"});
  if (!map) {
    return std::unexpected(map.error());
  }
  json resources = json::object();
  for (const auto& [key, value] : map->entries()) {
    Result<json> list = read_resource_list(value);
    if (!list) {
      return std::unexpected(list.error());
    }
    resources[key] = std::move(*list);
  }
  return resources;
}

// A YAML node built from JSON (no marks: errors then name the file and field without a line).
YAML::Node yaml_of(const json& value) {
  if (value.is_object()) {
    YAML::Node map(YAML::NodeType::Map);
    for (const auto& [key, item] : value.items()) {
      map[key] = yaml_of(item);
    }
    return map;
  }
  if (value.is_array()) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (const json& item : value) {
      list.push_back(yaml_of(item));
    }
    return list;
  }
  if (value.is_null()) {
    return YAML::Node(YAML::NodeType::Null);
  }
  return YAML::Node(value.is_string() ? value.get<std::string>() : value.dump());
}

}  // namespace

Result<PodSettings> read_pod_settings(const json& settings, std::string_view file, std::string_view path) {
  return read_pod_settings(config::YamlField(yaml_of(settings), std::string(file), std::string(path)));
}

Result<PodSettings> read_pod_settings(const config::YamlField& pods) {
  PodSettings settings;
  if (pods.is_null()) {
    return settings;
  }
  Result<config::YamlMap> map =
      config::YamlMap::open(pods, {"node_selector", "tolerations", "resources", "priority_class",
                                   "agent_start_timeout", "start_lead", "restricted"});
  if (!map) {
    return std::unexpected(map.error());
  }
  for (const auto& [key, value] : map->entries()) {
    if (key == "node_selector") {
      Result<std::map<std::string, std::string>> selector = read_node_selector(value);
      if (!selector) {
        return std::unexpected(selector.error());
      }
      settings.node_selector = std::move(*selector);
    } else if (key == "tolerations") {
      Result<json> tolerations = read_tolerations(value);
      if (!tolerations) {
        return std::unexpected(tolerations.error());
      }
      settings.tolerations = std::move(*tolerations);
    } else if (key == "resources") {
      Result<json> resources = read_resources(value);
      if (!resources) {
        return std::unexpected(resources.error());
      }
      settings.resources = std::move(*resources);
    } else if (key == "priority_class") {
      static const std::regex name(
          R"(^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$)");
      if (!value.is_scalar() || value.text().size() > 253 || !std::regex_match(value.text(), name)) {
        return value.fail_got("must be a PriorityClass name (a DNS subdomain)");
      }
      settings.priority_class = value.text();
    } else if (key == "agent_start_timeout") {
      Result<Duration> timeout = config::read_duration(value);
      if (!timeout) {
        return std::unexpected(timeout.error());
      }
      if (*timeout < std::chrono::seconds(1)) {
        return value.fail_got("must be at least 1s");
      }
      settings.start_timeout = *timeout;
    } else if (key == "start_lead") {
      Result<Duration> lead = config::read_duration(value);
      if (!lead) {
        return std::unexpected(lead.error());
      }
      if (*lead < std::chrono::milliseconds(500) || *lead > std::chrono::minutes(5)) {
        return value.fail_got("must be within 500ms..5m");
      }
      settings.start_lead = *lead;
    } else if (key == "restricted") {
      Result<bool> restricted = config::read_bool(value);
      if (!restricted) {
        return std::unexpected(restricted.error());
      }
      settings.restricted = *restricted;
    }
  }
  return settings;
}

}  // namespace kp::cluster
