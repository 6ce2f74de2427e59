#pragma once

// The ingress phase's settings (the `settings:` node of the ingress phase in a plan), parsed strictly with
// config/yaml_fields.hpp: unknown keys are errors listing the known ones, bad values echo the value:
//   plans/x.yaml:40: phases[5].settings.rate: not a rate, got "fast"
//
//   url: https://shop.example.com/healthz  # required for --target cluster; default: the lab's nginx
//   tls: false                    # local lab only: use its TLS listener (verified against the lab's CA)
//   paths: [/, /cart]             # cycled instead of the URL's path
//   method: GET   body: ""   host: shop.example.com   headers: {X-Test: "1"}
//   insecure: false   cacert: /etc/ssl/ingress-ca.pem   server_name: shop.example.com
//   threads: 0                    # 0: one per two cores
//   connections: 64               # keep-alive pool (requests), and concurrent connects (connection rate)
//   rate: 10k                     # open loop; "max": closed loop; "capacity" or none: capacity.ingress_rps x
//   load arrival: constant             # or poisson timeout: 5s connection_rate: 5k/s         # new
//   connections/s; "max": closed loop; "off": no connection-rate run;
//                                 # "capacity" or none: capacity.ingress_connection_rate x load
//   connection_share: 20%         # of the phase duration given to the connection-rate run
//   io: auto                      # I/O backend: auto (io_uring where available, else epoll), epoll, uring
//   from: cli                     # cli: the generator on the machine that runs kubeproof (default);
//                                 # pods: `agents` agent pods inside the cluster (--target cluster)
//   agents: 1                     # from: pods: the offered rate and the connections spread over this many
//   ingress: shop/storefront      # an Ingress (networking.k8s.io/v1, [namespace/]name; --target cluster):
//                                 # its status.loadBalancer address and its first rule's host and path
//   pods: {...}                   # from: pods: the agent pods' settings (cluster/agent_pod.hpp)
//   stress: {steps: [100%, 125%, 150%, 175%, 200%], bisect: 3}
//                                 # stress plans: the ramp of both series (multiples of capacity, or of an
//                                 # explicit rate) and the bisection's extra steps (load/schedule.hpp)
//
// `rate` and `connection_rate` are read by the load kernel's one rate reader (load/rate_setting.hpp), and the
// rates resolved by its one resolver (load/schedule.hpp): the same `load:` means the same in every phase.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/plan.hpp"
#include "core/error.hpp"
#include "core/pacer.hpp"
#include "core/units.hpp"
#include "drivers/ingress/io_backend.hpp"
#include "load/rate_setting.hpp"
#include "load/schedule.hpp"

namespace kp::drivers::ingress {

struct Settings {
  std::string url;
  bool lab_tls = false;
  std::vector<std::string> paths;
  std::string method = "GET";
  std::string body;
  std::string host;
  std::vector<std::pair<std::string, std::string>> headers;
  bool insecure = false;
  std::string cacert;
  std::string server_name;
  int threads = 0;
  int connections = 64;
  load::RateSetting rate;  // default: capacity.ingress_rps x load
  Arrival arrival = Arrival::constant;
  Duration timeout = std::chrono::seconds(5);
  load::RateSetting connection_rate;  // default: capacity.ingress_connection_rate x load
  bool connection_run = true;         // connection_rate: off -> false
  double connection_share = 0.2;
  IoBackend io = IoBackend::automatic;
  load::StressSettings stress;
  bool from_pods = false;  // from: pods
  int agents = 1;
  std::string ingress_namespace;  // ingress: "ns/name" -> "ns"; "" = the kubeconfig context's namespace
  std::string ingress;            // "" = none
  YAML::Node pods;                // from: pods: read by cluster::read_pod_settings in validate()
};

// `file` and `path` locate the node for messages ("plans/load.yaml", "phases[5].settings"). Null -> defaults.
Result<Settings> parse_settings(const YAML::Node& node, const std::string& file, const std::string& path);

// The phase's two load series, resolved by the kernel (load::resolve_schedule): requests from
// capacity.ingress_rps, connections from capacity.ingress_connection_rate, each x the phase's `load` (or an
// explicit rate, or max); stress ramps both. The connection run gets `connection_share` of the duration.
// Errors (ErrorKind::input): a capacity the rate derives from is missing or 0:
//   `plans/load.yaml: capacity.ingress_rps: is required for the ingress phase's rate (capacity x load), got
//   nothing`
struct Schedules {
  load::Schedule requests;
  std::optional<load::Schedule> connections;  // unset: connection_rate: off
};
Result<Schedules> resolve_schedules(const Settings& settings, const config::Plan& plan,
                                    const config::PhasePlan& phase);

}  // namespace kp::drivers::ingress
