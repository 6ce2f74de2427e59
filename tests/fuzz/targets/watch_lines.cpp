// A watch stream's lines ({"type":..,"object":..} per line): parse_watch_line for each line, as the stream
// reader calls it on the transport thread, and the resourceVersion a watch resumes from.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/watch.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace kube = kp::kube;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty()) {
      kube::ApiResult<kube::WatchEvent> event = kube::parse_watch_line(line, "/api/v1/pods?watch=true");
      if (event) {
        (void)kube::event_resource_version(*event);
        (void)kube::to_string(event->type);
      }
    }
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
  }
  return 0;
}
