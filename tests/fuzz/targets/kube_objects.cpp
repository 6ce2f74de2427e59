// Kubernetes objects as the API server returns them and the agent runner reads them: a Pod's status
// (start_state, container_end), an EventList's items (last_event_message), an EndpointSlice
// (has_ready_endpoint) and a PersistentVolumeClaim (claim_phase). The input is one JSON document, given to
// each.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/pod_status.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace cluster = kp::cluster;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  cluster::json object = cluster::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return 0;
  }
  (void)cluster::start_state(object);
  (void)cluster::container_end(object);
  std::vector<cluster::json> events;
  if (object.is_object() && object.contains("items") && object["items"].is_array()) {
    events = object["items"].get<std::vector<cluster::json>>();
  } else {
    events.push_back(object);
  }
  std::string reason;
  (void)cluster::last_event_message(events, &reason);
  (void)cluster::has_ready_endpoint(object);
  (void)cluster::claim_phase(object);
  return 0;
}
