#include "drivers/api/templates.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace kp::drivers::api {
namespace {

using nlohmann::json;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

json plain_scalar(const std::string& text) {
  if (text == "null" || text == "Null" || text == "NULL" || text == "~" || text.empty()) {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  std::int64_t integer = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), integer);
  if (ec == std::errc{} && end == text.data() + text.size()) {
    return integer;
  }
  double real = 0;
  auto [real_end, real_ec] = std::from_chars(text.data(), text.data() + text.size(), real);
  if (real_ec == std::errc{} && real_end == text.data() + text.size() && std::isfinite(real)) {
    return real;
  }
  return text;
}

json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) {
        object[entry.first.Scalar()] = to_json(entry.second);
      }
      return object;
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) {
        array.push_back(to_json(item));
      }
      return array;
    }
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted (non-plain) scalars "!": those are strings whatever they look like.
      return node.Tag() == "!" ? json(node.Scalar()) : plain_scalar(node.Scalar());
    default:
      return nullptr;
  }
}

}  // namespace

Result<std::string> expand(std::string_view text, const TemplateValues& values,
                           std::string_view name_for_errors) {
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  while (true) {
    std::size_t open = text.find("{{", at);
    if (open == std::string_view::npos) {
      out.append(text.substr(at));
      return out;
    }
    std::size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return fail(ErrorKind::input,
                  fmt::format("{}: unterminated placeholder \"{}\"", name_for_errors,
                              text.substr(open, std::min<std::size_t>(30, text.size() - open))));
    }
    out.append(text.substr(at, open - at));
    std::string_view field = trim(text.substr(open + 2, close - open - 2));
    if (field == ".Iteration") {
      out += std::to_string(values.iteration);
    } else if (field == ".Replica") {
      out += std::to_string(values.replica);
    } else if (field == ".JobName") {
      out += values.job_name;
    } else if (field == ".UUID" || field == ".RunID") {
      out += values.run_id;
    } else if (field == ".Namespace") {
      out += values.ns;
    } else {
      return fail(
          ErrorKind::input,
          fmt::format("{}: unknown placeholder \"{{{{{}}}}}\" (known: .Iteration, .Replica, .JobName, .UUID, "
                      ".RunID, .Namespace)",
                      name_for_errors, field));
    }
    at = close + 2;
  }
}

Result<std::vector<json>> parse_objects(std::string_view yaml, std::string_view name_for_errors) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml));
  } catch (const YAML::Exception& error) {
    return fail(ErrorKind::input, fmt::format("{}:{}: {}", name_for_errors, error.mark.line + 1, error.msg));
  }
  std::vector<json> objects;
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].IsNull()) {
      continue;
    }
    json object = to_json(documents[i]);
    std::string where = fmt::format("{}: document {}", name_for_errors, i + 1);
    if (!object.is_object()) {
      return fail(ErrorKind::input, fmt::format("{}: not a mapping", where));
    }
    for (const char* key : {"apiVersion", "kind"}) {
      if (!object.contains(key) || !object[key].is_string() || object[key].get<std::string>().empty()) {
        return fail(ErrorKind::input, fmt::format("{}: missing {}", where, key));
      }
    }
    const json& metadata = object.value("metadata", json::object());
    if (!metadata.is_object() || (!metadata.contains("name") && !metadata.contains("generateName"))) {
      return fail(ErrorKind::input, fmt::format("{}: missing metadata.name", where));
    }
    objects.push_back(std::move(object));
  }
  return objects;
}

}  // namespace kp::drivers::api
