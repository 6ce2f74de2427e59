#include "cluster/service_accounts.hpp"

#include <algorithm>

namespace kp::cluster {

ServiceAccountWaiter::ServiceAccountWaiter(kube::Transport& transport, Clock& clock, std::string prefix,
                                           std::string account)
    : clock_(clock),
      prefix_(std::move(prefix)),
      account_(std::move(account)),
      reflector_(transport, clock, *kube::builtin_resource("v1", "ServiceAccount"), "", "",
                 [this](const kube::WatchEvent& event) { observe(event); }) {}

ServiceAccountWaiter::~ServiceAccountWaiter() {
  stop();
}

void ServiceAccountWaiter::start() {
  reflector_.start();
}

void ServiceAccountWaiter::stop() {
  reflector_.stop();
}

void ServiceAccountWaiter::observe(const kube::WatchEvent& event) {
  if (event.type == kube::WatchEvent::Type::bookmark || !event.object.is_object()) {
    return;
  }
  const kube::json& metadata = event.object.value("metadata", kube::json::object());
  const std::string ns = metadata.value("namespace", "");
  if (metadata.value("name", "") != account_ || !ns.starts_with(prefix_)) {
    return;
  }
  std::lock_guard lock(mutex_);
  if (event.type == kube::WatchEvent::Type::deleted) {
    ready_.erase(ns);
  } else {
    ready_.insert(ns);
  }
  changed_.notify_all();
}

bool ServiceAccountWaiter::has(const std::string& ns) const {
  std::lock_guard lock(mutex_);
  return ready_.contains(ns);
}

std::vector<std::string> ServiceAccountWaiter::wait(const std::vector<std::string>& names, TimePoint deadline,
                                                    engine::CancellationToken& cancel) {
  std::unique_lock lock(mutex_);
  auto missing = [&] {
    std::vector<std::string> left;
    std::copy_if(names.begin(), names.end(), std::back_inserter(left),
                 [&](const std::string& ns) { return !ready_.contains(ns); });
    return left;
  };
  std::vector<std::string> left = missing();
  while (!left.empty() && clock_.now() < deadline && !cancel.requested()) {
    // Events wake us; the short bound lets a deadline or a cancellation on another clock be seen.
    changed_.wait_for(lock, std::chrono::milliseconds(50));
    left = missing();
  }
  return left;
}

}  // namespace kp::cluster
