#pragma once

// What the lab needs to know about one kind of service. Adding unbound, nginx, a network namespace pair or a
// disk directory means adding one ServiceSpec here; lab.cpp does the rest (ports, pid file, logs, health
// wait, stop, status).

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::lab {

// The ports of every service one `up` call starts: service name -> role -> port. A service whose command
// names its peers (an etcd member lists every member's peer URL) reads the others' here.
using LabPorts = std::map<std::string, std::map<std::string, std::uint16_t>>;

class ServiceSpec {
 public:
  virtual ~ServiceSpec() = default;
  virtual std::string_view name() const = 0;
  // The executable's default name (searched on PATH) and the Debian package that ships it, for messages.
  virtual std::string_view binary_name() const = 0;
  virtual std::string_view debian_package() const = 0;
  // The ports it listens on, by role ("client", "peer", "metrics").
  virtual std::vector<std::string> port_roles() const = 0;
  // The command line, with its data, logs and config under `dir` (created and emptied by the caller).
  // Writes any config file it needs into `dir`.
  virtual Result<std::vector<std::string>> command(
      const std::filesystem::path& binary, const std::filesystem::path& dir,
      const std::map<std::string, std::uint16_t>& ports) const = 0;
  // Its log file under `dir` (the one the service writes itself; stdout/stderr go to dir/stdout.log).
  virtual std::filesystem::path log_file(const std::filesystem::path& dir) const = 0;
  // What clients use: "client" -> "127.0.0.1:2379", "metrics" -> "http://127.0.0.1:2381/metrics".
  virtual std::map<std::string, std::string> endpoints(
      const std::map<std::string, std::uint16_t>& ports) const = 0;
  // One health probe, bounded by `timeout`: ok when the service answers healthy.
  virtual Result<void> check_health(const std::map<std::string, std::string>& endpoints,
                                    Duration timeout) const = 0;

  // An optional service (the Kubernetes control plane, which Debian does not package) is left out, with
  // missing_hint() as the reason, when its binary is not found; a missing required one makes `up` fail.
  virtual bool optional() const { return false; }
  virtual std::string missing_hint() const { return {}; }
  // Folders searched for binary_name() before PATH (envtest's $KUBEBUILDER_ASSETS).
  virtual std::vector<std::filesystem::path> search_dirs() const { return {}; }
  // Endpoints that are files in the service's folder `dir` (a kubeconfig, a CA), merged into endpoints().
  virtual std::map<std::string, std::string> file_endpoints(const std::filesystem::path& /*dir*/) const {
    return {};
  }
  // Services of the same lab this one talks to; an optional service is left out when one of them is
  // neither running nor about to start.
  virtual std::vector<std::string> required_services() const { return {}; }

  // The command line when it depends on other services started by the same `up` (`lab`, which includes this
  // one). Default: command().
  virtual Result<std::vector<std::string>> command_in_lab(const std::filesystem::path& binary,
                                                          const std::filesystem::path& dir,
                                                          const std::map<std::string, std::uint16_t>& ports,
                                                          const LabPorts& /*lab*/) const {
    return command(binary, dir, ports);
  }
  // Endpoints that name other services of the same `up`, merged into endpoints(): the first etcd member
  // records every member's client and metrics URL, so one state file tells a driver the whole cluster.
  virtual std::map<std::string, std::string> lab_endpoints(const LabPorts& /*lab*/) const { return {}; }
  // Services of one group are all started before `up` waits for any of them to be healthy: a member of a
  // three-member etcd is not healthy until a majority of the members runs. Default: a group of its own.
  virtual std::string start_group() const { return std::string(name()); }
  // False for a service that only starts as part of another (the extra members of a lab etcd cluster,
  // `lab up --etcd-members`): `--service` cannot name it, and `status` lists it only once it was started.
  virtual bool listed() const { return true; }
};

// An etcd cluster in the lab has 1, 3 or 5 members (an odd size, so a majority survives a lost member).
inline constexpr int kMaxEtcdMembers = 5;
// The lab service names of an etcd cluster of `members`: "etcd", then "etcd-1", "etcd-2", ...
std::vector<std::string> etcd_member_names(int members);

// Every service the lab knows, in start order.
const std::vector<std::unique_ptr<ServiceSpec>>& service_specs();
const ServiceSpec* find_service_spec(std::string_view name);

}  // namespace kp::lab
