#pragma once

// The etcd phase's settings (the `settings:` node of the etcd phase in a plan, or the agent's flags), parsed
// strictly: unknown keys are errors naming the key, bad values are errors echoing the value.
//
//   endpoints: [127.0.0.1:2379]       # default: the lab's etcd for --target local
//   cacert: /etc/kubernetes/pki/etcd/ca.crt   cert: .../healthcheck-client.crt   key:
//   .../healthcheck-client.key metrics_url: https://127.0.0.1:2379/metrics   # default: the lab's; else
//   <scheme>://<first endpoint>/metrics workload: write-then-read         # write | read | mixed |
//   write-then-read read_ratio: 50%                   # mixed only consistency: linearizable         # or
//   serializable (reads) key_size: 256B  value_size: 1KiB  key_space: 10000  sequential_keys: false
//   key_prefix: kubeproof/ connections: 2  clients: 50  threads: 0   # threads 0 = one per core, at most one
//   per connection rate: 150/s                       # per operation kind; "max" = closed loop; default from
//   the profile arrival: constant                 # or poisson total: 10000                      # stop each
//   stage after this many requests (default: duration only) request_timeout: 5s  failure_window: 3s
//   metrics_timeout: 5s stress_factors: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4]   stress_p99_limit: 50ms

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"

namespace kp::drivers::etcd {

enum class Workload { write, read, mixed, write_then_read };
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
  std::optional<Rate> rate;  // unset: the profile decides
  bool closed_loop = false;  // rate: max
  Arrival arrival = Arrival::constant;
  std::optional<std::uint64_t> total;
  Duration request_timeout = std::chrono::seconds(5);
  Duration failure_window = std::chrono::seconds(3);
  Duration metrics_timeout = std::chrono::seconds(5);
  std::vector<double> stress_factors = {0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0};
  Duration stress_p99_limit = std::chrono::milliseconds(50);  // the seed's Critical level for write P99
};

// Parses the settings node (null or absent -> defaults). Messages name the file, the key's line and the field
// path (`path` is e.g. "phases[0].settings"): `plans/x.yaml:14: phases[0].settings.rate: not a rate, got
// "fast"`.
Result<Settings> parse_settings(const YAML::Node& node, std::string_view file, std::string_view path);

// Cross-field checks (key size holds the prefix and the key space, TLS files exist, ...). `where` prefixes
// the field: "plans/x.yaml: phases[0].settings" gives `plans/x.yaml: phases[0].settings.key_size: ...`; the
// agent passes "etcd agent" style prefixes.
Result<void> validate(const Settings& settings, std::string_view where);

// One stage of the run: a fixed operation mix at one rate for a bounded time and count.
struct Stage {
  std::string name;          // "write", "read", "mixed", "write x1.5"
  double read_fraction = 0;  // 0: all Put; 1: all Range
  std::optional<Rate> rate;  // unset: closed loop at maximum
  Duration duration{0};
  std::optional<std::uint64_t> total;
  double factor = 1.0;  // stress: the step's multiple of the nominal rate
  bool stress_step = false;
};

struct RunShape {
  std::vector<Stage> stages;
  std::vector<std::string> notes;  // e.g. "plan states no capacity.etcd_ops; assumed 1000/s"
};

// The profile's shape (DESIGN "Test types"): smoke like `etcdctl check perf` small (150 writes/s, then reads
// at the same rate); load at capacity.etcd_ops x phase.load; stress in steps of stress_factors x that rate
// (writes), then reads at the nominal rate. Explicit settings win over the profile.
RunShape shape_run(const Settings& settings, config::TestType type, const config::Capacity& capacity,
                   double load, Duration duration);

// The request rate assumed when the plan states no capacity.etcd_ops.
inline constexpr double kAssumedCapacity = 1000;
// `etcdctl check perf --load=s`: 150 writes/s.
inline constexpr double kSmokeRate = 150;

}  // namespace kp::drivers::etcd
