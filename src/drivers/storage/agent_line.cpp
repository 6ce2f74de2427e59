#include "drivers/storage/agent_line.hpp"

#include <fmt/format.h>

#include <type_traits>

#include "core/histogram.hpp"
#include "core/measurement_json.hpp"

namespace kp::drivers::storage {
namespace {

// An optional member of the agent's line: absent or null gives the default; a member of another type is a
// protocol error naming it (nlohmann's value() would throw, and the line comes from a pod's log).
template <typename T>
Result<T> optional_member(const nlohmann::json& object, std::string_view where, const char* key, T fallback,
                          bool (nlohmann::json::*is_type)() const noexcept) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return fallback;
  }
  if (!((*it).*is_type)()) {
    return fail(ErrorKind::protocol,
                fmt::format("{}{}: must be a {}, got {}", where, key,
                            std::is_same_v<T, bool> ? "boolean" : "string", it->dump().substr(0, 60)));
  }
  return it->template get<T>();
}

Result<std::string> optional_string(const nlohmann::json& object, std::string_view where, const char* key) {
  return optional_member<std::string>(object, where, key, std::string(), &nlohmann::json::is_string);
}

}  // namespace

Result<AgentResult> parse_agent_line(const nlohmann::json& line) {
  if (!line.is_object() || !line.contains("kind") || line["kind"] != kAgentLineKind) {
    return fail(ErrorKind::protocol, fmt::format("not a {} line", kAgentLineKind));
  }
  AgentResult out;
  Result<std::string> fio_version = optional_string(line, "", "fio_version");
  if (!fio_version) {
    return std::unexpected(fio_version.error());
  }
  out.fio_version = std::move(*fio_version);
  if (!line.contains("measurements") || !line["measurements"].is_array()) {
    // An agent that failed early prints its error in the same kind of line.
    Result<std::string> error = optional_string(line, "", "error");
    if (!error) {
      return std::unexpected(error.error());
    }
    return fail(ErrorKind::protocol, error->empty() ? std::string("no \"measurements\"") : *error);
  }
  for (const nlohmann::json& item : line["measurements"]) {
    Result<Measurement> m = measurement_from_json(item);
    if (!m) {
      return std::unexpected(m.error());
    }
    out.measurements.push_back(std::move(*m));
  }
  auto strings = [&](std::string_view key, std::vector<std::string>& into) {
    if (line.contains(key) && line[key].is_array()) {
      for (const nlohmann::json& item : line[key]) {
        if (item.is_string()) {
          into.push_back(item.get<std::string>());
        }
      }
    }
  };
  strings("warnings", out.warnings);
  strings("invalid_reasons", out.invalid_reasons);
  strings("notes", out.notes);
  if (line.contains("comparison") && line["comparison"].is_array()) {
    out.comparison = line["comparison"];
  }
  Result<bool> cancelled = optional_member<bool>(line, "", "cancelled", false, &nlohmann::json::is_boolean);
  if (!cancelled) {
    return std::unexpected(cancelled.error());
  }
  out.cancelled = *cancelled;
  return out;
}

}  // namespace kp::drivers::storage
