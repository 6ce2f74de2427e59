#include "core/json_read.hpp"

#include <fmt/format.h>

namespace kp {
namespace {

using nlohmann::json;

constexpr std::size_t kExcerpt = 60;

// The member, or nullptr when absent or null; an error when `object` is neither an object nor null.
Result<const json*> member(const json& object, std::string_view key, std::string_view where) {
  if (object.is_null()) {
    return nullptr;
  }
  const std::string_view last = key.substr(key.rfind('.') == std::string_view::npos ? 0 : key.rfind('.') + 1);
  if (!object.is_object()) {
    const std::string_view parent =
        key.size() > last.size() ? key.substr(0, key.size() - last.size() - 1) : std::string_view();
    return fail(ErrorKind::protocol, fmt::format("{}: {}must be an object, got {}", where,
                                                 parent.empty() ? std::string() : fmt::format("{}: ", parent),
                                                 json_excerpt(object)));
  }
  auto found = object.find(std::string(last));
  if (found == object.end() || found->is_null()) {
    return nullptr;
  }
  return &*found;
}

std::unexpected<Error> wrong_type(std::string_view where, std::string_view key, std::string_view type,
                                  const json& value) {
  return fail(ErrorKind::protocol,
              fmt::format("{}: {}: must be {}, got {}", where, key, type, json_excerpt(value)));
}

}  // namespace

std::string json_excerpt(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kExcerpt) {
    text = text.substr(0, kExcerpt) + "...";
  }
  return text;
}

Result<json> json_object(const json& object, std::string_view key, std::string_view where) {
  Result<const json*> found = member(object, key, where);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found == nullptr) {
    return json::object();
  }
  if (!(*found)->is_object()) {
    return wrong_type(where, key, "an object", **found);
  }
  return **found;
}

Result<json> json_array(const json& object, std::string_view key, std::string_view where) {
  Result<const json*> found = member(object, key, where);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found == nullptr) {
    return json::array();
  }
  if (!(*found)->is_array()) {
    return wrong_type(where, key, "an array", **found);
  }
  return **found;
}

Result<std::string> json_string(const json& object, std::string_view key, std::string_view where,
                                std::string fallback) {
  Result<const json*> found = member(object, key, where);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found == nullptr) {
    return fallback;
  }
  if (!(*found)->is_string()) {
    return wrong_type(where, key, "a string", **found);
  }
  return (*found)->get<std::string>();
}

Result<bool> json_bool(const json& object, std::string_view key, std::string_view where, bool fallback) {
  Result<const json*> found = member(object, key, where);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found == nullptr) {
    return fallback;
  }
  if (!(*found)->is_boolean()) {
    return wrong_type(where, key, "a boolean", **found);
  }
  return (*found)->get<bool>();
}

Result<std::int64_t> json_int(const json& object, std::string_view key, std::string_view where,
                              std::int64_t fallback) {
  Result<const json*> found = member(object, key, where);
  if (!found) {
    return std::unexpected(found.error());
  }
  if (*found == nullptr) {
    return fallback;
  }
  if (!(*found)->is_number_integer()) {
    return wrong_type(where, key, "an integer", **found);
  }
  return (*found)->get<std::int64_t>();
}

Result<std::vector<std::string>> json_strings(const json& object, std::string_view key,
                                              std::string_view where) {
  Result<json> array = json_array(object, key, where);
  if (!array) {
    return std::unexpected(array.error());
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const json& item = (*array)[i];
    if (!item.is_string()) {
      return wrong_type(where, fmt::format("{}[{}]", key, i), "a string", item);
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

const json& json_member_or_null(const json& object, std::string_view key) {
  static const json null;
  if (!object.is_object()) {
    return null;
  }
  auto found = object.find(std::string(key));
  return found == object.end() ? null : *found;
}

std::string json_text_or(const json& object, std::string_view key, std::string fallback) {
  const json& value = json_member_or_null(object, key);
  return value.is_string() ? value.get<std::string>() : fallback;
}

}  // namespace kp
