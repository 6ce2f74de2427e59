#pragma once

// The local lab: real services on this host, started from Debian packages on 127.0.0.1, for `--target local`.
// Each service gets a folder under the lab state dir with its data, its log, a pid file and service.json
// (pid, ports, endpoints, command line). `up` starts the requested services with fresh data and waits
// (polling, with a deadline) until each is healthy; `down` stops them by pid, after checking
// /proc/<pid>/cmdline is still that service started for this state dir, and removes the state; `status`
// reports each one.
//
// Services are ServiceSpecs (lab/services.hpp). This issue brings etcd; unbound, nginx, the network
// namespaces and the disk directory are later specs of the same mechanism.
//
// State dir: `--lab-dir`, else $KUBEPROOF_LAB_DIR, else ./.kubeproof/lab (relative to the working directory,
// so a checkout's lab is its own).

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/units.hpp"

namespace kp::lab {

std::filesystem::path default_state_dir();

struct LabOptions {
  std::filesystem::path state_dir = default_state_dir();
  std::vector<std::string> services = {"etcd"};  // names of ServiceSpecs; empty = every known service
  // Fixed ports per "<service>.<role>" (e.g. "etcd.client", "etcd.peer", "etcd.metrics"); the rest are chosen
  // free.
  std::map<std::string, std::uint16_t> ports;
  // Overrides of a service's binary ("etcd" -> "/opt/etcd/bin/etcd"); default: found on PATH.
  std::map<std::string, std::filesystem::path> binaries;
  Duration health_timeout = std::chrono::seconds(30);
  // Members of the lab's etcd: 1, 3 or 5 (`lab up --etcd-members`). The extra members are the services
  // "etcd-1", "etcd-2", ...; the first member, "etcd", records every member's client and metrics URL
  // (endpoints "cluster_clients" and "cluster_metrics", comma-separated).
  int etcd_members = 1;
};

// A started service, as recorded in <state_dir>/<name>/service.json.
struct ServiceRecord {
  std::string name;
  pid_t pid = 0;
  std::filesystem::path binary;
  std::map<std::string, std::uint16_t> ports;    // role -> port
  std::map<std::string, std::string> endpoints;  // "client" -> "127.0.0.1:2379", "metrics" -> URL
  std::filesystem::path log_file;
  std::vector<std::string> command;
};

struct ServiceStatus {
  std::string name;
  std::optional<ServiceRecord> record;  // absent: not started in this state dir
  bool running = false;                 // the recorded pid is alive and is still this service
  bool healthy = false;
  std::string detail;  // "healthy", "not started", "pid 123 exited", the health error
};

// Starts the services. Refuses, starting nothing, when one is already running here, a binary is missing
// (ErrorKind::unavailable, naming the Debian package) or a given port is taken (ErrorKind::usage, naming the
// port and the flag). When a service fails to start or get healthy, stops every service this call started,
// removes their state and returns the error with the tail of the service's log.
Result<std::vector<ServiceRecord>> up(const LabOptions& options, Clock& clock);
// The same; when every service is wanted (options.services empty), an optional service whose binary is not
// found (the Kubernetes control plane) is left out instead of failing, with one line in `left_out`:
// "kube-apiserver: not found (set KUBEBUILDER_ASSETS or put it on PATH)".
Result<std::vector<ServiceRecord>> up(const LabOptions& options, Clock& clock,
                                      std::vector<std::string>& left_out);

class ServiceSpec;
// The binary `up` would start for `spec`: options.binaries, else spec.search_dirs(), else PATH.
std::optional<std::filesystem::path> locate_binary(const ServiceSpec& spec, const LabOptions& options);

// Stops every service recorded in `state_dir` and removes the state. A pid that now belongs to another
// program is left alone and said so. Returns one line per service for people.
Result<std::vector<std::string>> down(const std::filesystem::path& state_dir, Clock& clock);

// Every known service, started or not, with its health (each check bounded by `health_timeout`).
std::vector<ServiceStatus> status(const std::filesystem::path& state_dir, Duration health_timeout);

// The endpoints of a running service, for `run --target local`. ErrorKind::unavailable, with the reason (so
// the phase is SKIPPED), when it is not started or not running.
Result<std::map<std::string, std::string>> endpoints(const std::filesystem::path& state_dir,
                                                     std::string_view service);

// One endpoint of a running service: the one way a driver looks up the lab. A service that is absent or not
// running, or that records no such endpoint, is ErrorKind::unavailable with the reason, so the phase is
// SKIPPED and says why: `the local lab's etcd records no "metrics" endpoint (state dir ".kubeproof/lab");
// restart it with `kubeproof lab down && kubeproof lab up``.
Result<std::string> endpoint(const std::filesystem::path& state_dir, std::string_view service,
                             std::string_view key);

// Reads <state_dir>/<service>/service.json; nullopt when absent.
Result<std::optional<ServiceRecord>> read_record(const std::filesystem::path& state_dir,
                                                 std::string_view service);

// True when `pid` is alive and its command line is `record`'s service for this state dir.
bool is_same_service(const ServiceRecord& record, pid_t pid);

}  // namespace kp::lab
