#pragma once

// A plan's YAML settings node as JSON, for the parts of a phase's settings that are Kubernetes objects as
// the API takes them (pods.tolerations, pods.resources, pods.node_selector): read_pod_settings reads JSON.
// Scalars become booleans (true/false), integers and numbers when they read as such, otherwise strings
// (a quoted "true" stays a string); null and an absent node become null.

#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>

namespace kp::cluster {

nlohmann::json yaml_to_json(const YAML::Node& node);

}  // namespace kp::cluster
