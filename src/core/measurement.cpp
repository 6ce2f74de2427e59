#include "core/measurement.hpp"
#include "core/measurement_json.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <utility>

namespace kp {

nlohmann::json to_json(const Measurement& measurement) {
  nlohmann::json json{{"metric", measurement.metric},
                      {"value", measurement.value},
                      {"source", measurement.source},
                      {"note", measurement.note}};
  if (measurement.offered) {
    json["offered"] = *measurement.offered;
  }
  if (measurement.histogram) {
    json["histogram"] = measurement.histogram->to_json();
  }
  return json;
}

Result<Measurement> measurement_from_json(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("metric") || !json["metric"].is_string() ||
      !json.contains("value") || !json["value"].is_number()) {
    return fail(ErrorKind::protocol, "measurement: needs a string \"metric\" and a number \"value\"");
  }
  Measurement m;
  m.metric = json["metric"].get<std::string>();
  m.value = json["value"].get<double>();
  if (json.contains("offered") && json["offered"].is_number()) {
    m.offered = json["offered"].get<double>();
  }
  // Absent or null reads as empty; another type is an error naming the field (the line comes from a pod's log
  // or another process, and a silently dropped note would hide what it said).
  for (auto [key, field] : {std::pair{"source", &m.source}, std::pair{"note", &m.note}}) {
    auto it = json.find(key);
    if (it == json.end() || it->is_null()) {
      continue;
    }
    if (!it->is_string()) {
      return fail(ErrorKind::protocol, fmt::format("measurement {}: {}: must be a string, got {}", m.metric,
                                                   key, it->dump().substr(0, 60)));
    }
    *field = it->get<std::string>();
  }
  if (json.contains("histogram") && !json["histogram"].is_null()) {
    Result<Histogram> histogram = Histogram::from_json(json["histogram"]);
    if (!histogram) {
      return fail(ErrorKind::protocol,
                  fmt::format("measurement {}: histogram: {}", m.metric, histogram.error().message));
    }
    m.histogram = std::move(*histogram);
  }
  return m;
}

}  // namespace kp
