#include "cluster/yaml_json.hpp"

#include <charconv>
#include <string>

namespace kp::cluster {
namespace {

nlohmann::json scalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  // A quoted scalar is a string whatever it reads like (YAML's "!" tag for quoted plain text).
  if (node.Tag() == "!") {
    return text;
  }
  if (text == "true" || text == "false") {
    return text == "true";
  }
  if (text == "null" || text == "~") {
    return nullptr;
  }
  long long whole = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), whole);
      ec == std::errc{} && end == text.data() + text.size() && !text.empty()) {
    return whole;
  }
  double number = 0;
  if (auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
      ec == std::errc{} && end == text.data() + text.size() && !text.empty()) {
    return number;
  }
  return text;
}

}  // namespace

nlohmann::json yaml_to_json(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) {
    return nullptr;
  }
  if (node.IsScalar()) {
    return scalar(node);
  }
  if (node.IsSequence()) {
    nlohmann::json out = nlohmann::json::array();
    for (const YAML::Node& item : node) {
      out.push_back(yaml_to_json(item));
    }
    return out;
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& entry : node) {
    out[entry.first.Scalar()] = yaml_to_json(entry.second);
  }
  return out;
}

}  // namespace kp::cluster
