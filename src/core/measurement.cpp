#include "core/measurement.hpp"

#include <nlohmann/json.hpp>

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

}  // namespace kp
