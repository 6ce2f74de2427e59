#pragma once

// The etcd phase's settings (the `settings:` node of the etcd phase in a plan, or the agent's flags), parsed
// strictly: unknown keys are errors naming the key, bad values are errors echoing the value.
//
//   endpoints: [127.0.0.1:2379]               # default: the lab's etcd for --target local
//   cacert: /etc/kubernetes/pki/etcd/ca.crt    cert: .../healthcheck-client.crt
//   key: .../healthcheck-client.key
//   metrics_url: https://127.0.0.1:2379/metrics  # default: the lab's; else <endpoint>/metrics
//   workload: write-then-read                 # write | read | mixed | write-then-read
//   read_ratio: 50%                           # mixed only
//   consistency: linearizable                 # or serializable (reads)
//   key_size: 256B  value_size: 1KiB  key_space: 10000  sequential_keys: false  key_prefix: kubeproof/
//   connections: 2  clients: 50  threads: 0   # threads 0 = one per two cores, at most one per connection
//   rate: capacity                            # per operation kind (load/rate_setting.hpp): capacity x load
//                                             # (capacity.etcd_ops, the default), an explicit 1500/s, or max
//   arrival: constant                         # or poisson
//   total: 10000                              # stop each stage after this many requests (default: duration)
//   request_timeout: 5s  failure_window: 3s  metrics_timeout: 5s
//   stress: {steps: [100%, 125%, 150%, 175%, 200%], bisect: 3}   # load/schedule.hpp
//   from: client                              # --target cluster: where the load comes from. client: this
//                                             # machine, to `endpoints`; control-plane-pod: an agent pod on a
//                                             # control-plane node (control_plane_pod.hpp), paths on the node
//   pods: {...}                               # control-plane-pod: cluster/agent_pod.hpp read_pod_settings

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/plan.hpp"
#include "config/yaml_fields.hpp"
#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"
#include "load/rate_setting.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::etcd {

enum class Workload { write, read, mixed, write_then_read };
enum class Source { client, control_plane_pod };
std::string_view to_string(Workload workload);

struct TlsFiles {
  std::filesystem::path ca_file;
  std::filesystem::path cert_file;
  std::filesystem::path key_file;
  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

struct Settings {
  std::vector<std::string> endpoints;  // "host:port" or "https://host:port"
  TlsFiles tls;
  std::string metrics_url;
  Workload workload = Workload::write_then_read;
  double read_fraction = 0.5;
  bool serializable = false;
  std::uint64_t key_size = 256;
  std::uint64_t value_size = 1024;
  std::uint64_t key_space = 10000;
  bool sequential_keys = false;
  std::string key_prefix = "kubeproof/";
  int connections = 2;
  int clients = 50;
  int threads = 0;
  load::RateSetting rate;  // default: capacity.etcd_ops x the phase's load
  Arrival arrival = Arrival::constant;
  std::optional<std::uint64_t> total;
  Duration request_timeout = std::chrono::seconds(5);
  Duration failure_window = std::chrono::seconds(3);
  Duration metrics_timeout = std::chrono::seconds(5);
  load::StressSettings stress;  // the ramp of a stress run; a step breaks at the criteria's Critical levels
  Source from = Source::client;
  YAML::Node pods;        // `pods:` as given (control-plane-pod), for cluster::read_pod_settings
  std::string pods_path;  // its field path, for messages
};

// Parses the settings node (null or absent -> defaults). Messages name the file, the key's line and the field
// path (`path` is e.g. "phases[0].settings"): `plans/x.yaml:14: phases[0].settings.rate: not a rate, got
// "fast"`.
Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path);

// Cross-field checks (key size holds the prefix and the key space, TLS files exist, ...). `where` prefixes
// the field: "plans/x.yaml: phases[0].settings" gives `plans/x.yaml: phases[0].settings.key_size: ...`; the
// agent passes "etcd agent" style prefixes.
Result<void> validate(const Settings& settings, std::string_view where);

}  // namespace kp::drivers::etcd
