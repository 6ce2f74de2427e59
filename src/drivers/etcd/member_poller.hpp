#pragma once

// The members of the plan's etcd, polled for Maintenance.Status by the soak's leader watch, which runs for
// the whole soak and not only while the etcd phase does (docs/soak.md, "Watches"): the checklist's "No etcd
// leader election during 24h test" needs 24 h watched, and an election while DNS or storage is measured is
// an election all the same. One channel per member, opened once; the phase keeps its own.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "drivers/etcd/client.hpp"
#include "drivers/etcd/leader_watch.hpp"

namespace kp::drivers::etcd {

class MemberPoller {
 public:
  // The endpoints of the plan's etcd phase (its settings, or the lab's members on --target local).
  // ErrorKind::unavailable, with the reason, when the soak cannot reach etcd itself: the plan has no etcd
  // phase, it is reached from a control-plane pod, or the lab has no etcd. Settings the phase would reject
  // are the phase's to report: unavailable here too.
  static Result<std::unique_ptr<MemberPoller>> open(const config::Plan& plan,
                                                    const std::filesystem::path& lab_dir);

  // One Status call per member, each bounded by `timeout`. Any thread, one at a time.
  std::vector<MemberPoll> poll(Duration timeout) const;
  const std::vector<std::string>& targets() const { return connections_.targets; }

 private:
  explicit MemberPoller(Connections connections) : connections_(std::move(connections)) {}
  Connections connections_;
};

}  // namespace kp::drivers::etcd
