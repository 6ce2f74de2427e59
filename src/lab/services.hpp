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
};

// Every service the lab knows, in start order.
const std::vector<std::unique_ptr<ServiceSpec>>& service_specs();
const ServiceSpec* find_service_spec(std::string_view name);

}  // namespace kp::lab
