#include "cluster/run.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "kube/api.hpp"

namespace kp::cluster {

using kube::json;

std::string new_run_id() {
  std::random_device device;
  return fmt::format("kp-{:08x}", device());
}

Result<std::vector<std::string>> cleanup(kube::Transport& transport, const std::string& run_id,
                                         Duration timeout, Clock& clock) {
  kube::Api api(transport);
  kube::ListOptions options;
  options.label_selector = run_id.empty() ? std::string(kRunLabel) : fmt::format("{}={}", kRunLabel, run_id);
  kube::ApiResult<kube::ListResult> listed = api.list(kube::namespaces_resource(), "", options);
  if (!listed) {
    return std::unexpected(listed.error().error);
  }
  std::vector<std::string> names;
  for (const json& item : listed->items) {
    std::string name = item["metadata"].value("name", "");
    names.push_back(name);
    if (!item["metadata"].contains("deletionTimestamp")) {
      kube::ApiResult<json> removed =
          api.remove(kube::namespaces_resource(), "", name, kube::Propagation::background);
      if (!removed && removed.error().code != 404) {
        return std::unexpected(removed.error().error);
      }
    }
  }
  TimePoint deadline = clock.now() + timeout;
  while (true) {
    kube::ApiResult<kube::ListResult> left = api.list(kube::namespaces_resource(), "", options);
    if (left && left->items.empty()) {
      return names;
    }
    if (clock.now() >= deadline) {
      std::size_t count = left ? left->items.size() : 0;
      return fail(ErrorKind::timeout, fmt::format("{} namespaces labelled {} still terminating after {}",
                                                  count, options.label_selector, format_duration(timeout)));
    }
    clock.sleep_until(
        std::min(deadline, clock.now() + std::chrono::milliseconds(200)));  // polling the server
  }
}

}  // namespace kp::cluster
