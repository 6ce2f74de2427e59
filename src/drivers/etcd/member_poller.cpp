#include "drivers/etcd/member_poller.hpp"

#include <fmt/format.h>

#include "drivers/etcd/driver.hpp"
#include "drivers/etcd/settings.hpp"

namespace kp::drivers::etcd {

Result<std::unique_ptr<MemberPoller>> MemberPoller::open(const config::Plan& plan,
                                                         const std::filesystem::path& lab_dir) {
  const config::PhasePlan* phase = nullptr;
  for (const config::PhasePlan& one : plan.phases) {
    if (one.phase == Phase::etcd && one.enabled) {
      phase = &one;
    }
  }
  if (phase == nullptr) {
    return fail(ErrorKind::unavailable, "the plan has no etcd phase");
  }
  Result<Settings> settings =
      parse_settings(phase->settings, plan.source.string(), config::settings_path(*phase));
  if (!settings) {
    return fail(ErrorKind::unavailable,
                fmt::format("the etcd phase's settings: {}", settings.error().message));
  }
  if (plan.target == config::Target::cluster && settings->from == Source::control_plane_pod) {
    return fail(ErrorKind::unavailable,
                "etcd is reached from a control-plane pod (from: control-plane-pod), only while the etcd "
                "phase runs");
  }
  Result<Endpoint> endpoint = resolve_endpoint(*settings, lab_dir);
  if (!endpoint) {
    return fail(ErrorKind::unavailable, endpoint.error().message);
  }
  Result<Connections> connections =
      open_connections(endpoint->endpoints, endpoint->tls, static_cast<int>(endpoint->endpoints.size()));
  if (!connections) {
    return fail(ErrorKind::unavailable, connections.error().message);
  }
  return std::unique_ptr<MemberPoller>(new MemberPoller(std::move(*connections)));
}

std::vector<MemberPoll> MemberPoller::poll(Duration timeout) const {
  std::vector<MemberPoll> polls;
  for (std::size_t i = 0; i < connections_.channels.size(); ++i) {
    polls.push_back(MemberPoll{connections_.targets[i],
                               member_status(connections_.channels[i], connections_.targets[i], timeout)});
  }
  return polls;
}

}  // namespace kp::drivers::etcd
